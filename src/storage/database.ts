import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import type { PrismaClient } from "../db/client.js";
import { StorageBase } from "./base.js";
import { StorageError, unavailable, type ByteRange, type SaveOptions, type UrlOptions } from "./contract.js";
import { rechunk } from "../streams/rechunk.js";
import { assertSafeName } from "./naming.js";
import { servedUrl, type ServedUrlOptions } from "./served.js";

export interface DatabaseStorageOptions extends ServedUrlOptions {
  prisma: PrismaClient;
  /** The alias this backend is configured under; its rows are kept apart from other aliases'. */
  alias: string;
  /** Bytes per stored chunk (default 1 MiB). */
  chunkSize?: number;
  allowOverwrite?: boolean;
}

const MiB = 1024 * 1024;
/** Chunks fetched per query when reading: bounds memory at about 4 chunk sizes. */
const CHUNKS_PER_READ = 4;

/**
 * Files as chunked blobs in the service's own database. Bytes are written as they stream in, to
 * a row nobody can see yet; the row takes its name (or an alternative, the unique key deciding
 * between concurrent savers) only once every chunk is in.
 */
export class DatabaseStorage extends StorageBase {
  private readonly prisma: PrismaClient;
  private readonly alias: string;
  private readonly chunkSize: number;

  constructor(private readonly options: DatabaseStorageOptions) {
    super(options.allowOverwrite ?? false);
    this.prisma = options.prisma;
    this.alias = options.alias;
    this.chunkSize = options.chunkSize ?? MiB;
  }

  async url(name: string, options?: UrlOptions): Promise<string> {
    return servedUrl({ scope: this.alias, ...this.options }, name, options);
  }

  async save(name: string, content: Readable, options: SaveOptions = {}): Promise<string> {
    const target = assertSafeName(name);
    const pending = await this.db(() =>
      this.prisma.storedObject.create({ data: { storage: this.alias, name: `.pending/${randomUUID()}`, chunkSize: this.chunkSize } }),
    );
    try {
      let size = 0;
      let seq = 0;
      for await (const block of rechunk(this.chunkSize)(content)) {
        await this.db(() => this.prisma.storedChunk.create({ data: { objectId: pending.id, seq: seq++, data: block as Uint8Array<ArrayBuffer> } }));
        size += block.length;
        // A save in progress shows it is alive, so gc never sweeps a slow upload.
        if (seq % 16 === 0) await this.db(() => this.prisma.storedObject.update({ where: { id: pending.id }, data: { modifiedAt: new Date() } }));
      }
      return await this.publish(pending.id, target, size, options.maxLength);
    } catch (err) {
      await this.prisma.storedObject.deleteMany({ where: { id: pending.id } }).catch(() => {});
      throw err;
    }
  }

  /** Gives the finished row its name; the unique key makes concurrent savers take turns. */
  private async publish(id: bigint, name: string, size: number, maxLength?: number): Promise<string> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const first = this.allowOverwrite || (attempt === 0 && (maxLength === undefined || name.length <= maxLength));
      const candidate = first ? name : this.alternativeFor(name, maxLength);
      try {
        await this.db(() =>
          this.prisma.$transaction(async (tx) => {
            if (this.allowOverwrite) await tx.storedObject.deleteMany({ where: { storage: this.alias, name: candidate } });
            await tx.storedObject.update({
              where: { id },
              data: { name: candidate, size: BigInt(size), complete: true, modifiedAt: new Date() },
            });
          }),
        );
        return candidate;
      } catch (err) {
        // Taken meanwhile: another name, or (when overwriting) another go at replacing it.
        if (!isUniqueViolation(err)) throw err;
      }
    }
    throw new StorageError(this.allowOverwrite ? "STORAGE_UNAVAILABLE" : "NAME_UNAVAILABLE", `No free name found for ${JSON.stringify(name)}`);
  }

  async open(name: string, range: ByteRange = {}): Promise<Readable> {
    const object = await this.object(name);
    const size = Number(object.size);
    const start = Math.min(range.start ?? 0, size);
    const end = Math.min(range.end ?? size - 1, size - 1);
    const prisma = this.prisma;
    const chunkSize = object.chunkSize;
    async function* chunks(): AsyncGenerator<Buffer> {
      if (end < start) return;
      let seq = Math.floor(start / chunkSize);
      const lastSeq = Math.floor(end / chunkSize);
      while (seq <= lastSeq) {
        const rows = await prisma.storedChunk.findMany({
          where: { objectId: object.id, seq: { gte: seq, lte: Math.min(seq + CHUNKS_PER_READ - 1, lastSeq) } },
          orderBy: { seq: "asc" },
        });
        if (rows.length === 0) throw new StorageError("STORAGE_UNAVAILABLE", `${name} lost chunk ${seq}`);
        for (const row of rows) {
          const offset = row.seq * chunkSize;
          const from = Math.max(start - offset, 0);
          const to = Math.min(end - offset + 1, row.data.length);
          yield Buffer.from(row.data.buffer, row.data.byteOffset + from, to - from);
          seq = row.seq + 1;
        }
      }
    }
    return Readable.from(chunks());
  }

  async move(from: string, to: string): Promise<void> {
    const target = assertSafeName(to);
    const object = await this.object(from);
    try {
      await this.db(() => this.prisma.storedObject.update({ where: { id: object.id }, data: { name: target, modifiedAt: new Date() } }));
    } catch (err) {
      if (isUniqueViolation(err)) throw new StorageError("EXISTS", `${to} already exists`);
      throw err;
    }
  }

  async delete(name: string): Promise<void> {
    const safe = assertSafeName(name);
    await this.db(() => this.prisma.storedObject.deleteMany({ where: { storage: this.alias, name: safe } }));
  }

  async exists(name: string): Promise<boolean> {
    const safe = assertSafeName(name);
    const found = await this.db(() =>
      this.prisma.storedObject.findFirst({
        where: { storage: this.alias, complete: true, OR: [{ name: safe }, { name: { startsWith: likePrefix(`${safe}/`) } }] },
        select: { id: true },
      }),
    );
    return found !== null;
  }

  async size(name: string): Promise<number> {
    return Number((await this.object(name)).size);
  }

  override async getCreatedTime(name: string): Promise<Date> {
    return (await this.object(name)).createdAt;
  }

  async getModifiedTime(name: string): Promise<Date> {
    return (await this.object(name)).modifiedAt;
  }

  async listdir(dir: string): Promise<{ directories: string[]; files: string[] }> {
    const prefix = dir === "" ? "" : `${assertSafeName(dir)}/`;
    const rows = await this.db(() =>
      this.prisma.storedObject.findMany({
        where: { storage: this.alias, complete: true, name: { startsWith: likePrefix(prefix) } },
        select: { name: true },
      }),
    );
    const directories = new Set<string>();
    const files: string[] = [];
    for (const { name } of rows) {
      const rest = name.slice(prefix.length);
      const slash = rest.indexOf("/");
      if (slash === -1) files.push(rest);
      else directories.add(rest.slice(0, slash));
    }
    if (prefix !== "" && rows.length === 0) throw new StorageError("NOT_FOUND", `${dir} does not exist`);
    return { directories: [...directories].sort(), files: files.sort() };
  }

  /** Removes rows of saves that never finished (a crash mid-write), idle since before `before`; returns how many. */
  async sweepIncomplete(before: Date, options: { dryRun?: boolean } = {}): Promise<number> {
    const where = { storage: this.alias, complete: false, modifiedAt: { lt: before } };
    if (options.dryRun) return this.db(() => this.prisma.storedObject.count({ where }));
    const { count } = await this.db(() => this.prisma.storedObject.deleteMany({ where }));
    return count;
  }

  private async object(name: string) {
    const safe = assertSafeName(name);
    const object = await this.db(() =>
      this.prisma.storedObject.findFirst({ where: { storage: this.alias, name: safe, complete: true } }),
    );
    if (!object) throw new StorageError("NOT_FOUND", `${name} does not exist`);
    return object;
  }

  private async db<T>(query: () => Promise<T>): Promise<T> {
    try {
      return await query();
    } catch (err) {
      if (isUniqueViolation(err)) throw err;
      throw unavailable(err);
    }
  }
}

/** startsWith becomes LIKE, where "_" and "%" are wildcards: escape them (names never hold "\\"). */
function likePrefix(prefix: string): string {
  return prefix.replace(/[\\%_]/g, "\\$&");
}

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string })?.code === "P2002";
}
