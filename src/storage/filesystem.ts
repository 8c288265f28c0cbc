import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { StorageError, type SaveOptions, type Storage } from "./contract.js";
import { assertSafeName, getAlternativeName, splitExt } from "./naming.js";

export interface FileSystemStorageOptions {
  location: string;
  baseUrl: string;
  filePermissionsMode?: number;
  directoryPermissionsMode?: number;
  /** Django 5.1's allow_overwrite: save() replaces an existing file instead of choosing another name. */
  allowOverwrite?: boolean;
}

const MAX_NAME_ATTEMPTS = 100;

/** Files on local disk. Writes are atomic and durable: temp file, fsync, link/rename, fsync directory. */
export class FileSystemStorage implements Storage {
  readonly location: string;
  private readonly baseUrl: string;

  constructor(private readonly options: FileSystemStorageOptions) {
    this.location = path.resolve(options.location);
    this.baseUrl = options.baseUrl.endsWith("/") ? options.baseUrl : `${options.baseUrl}/`;
  }

  path(name: string): string {
    const full = path.resolve(this.location, assertSafeName(name));
    if (!full.startsWith(this.location + path.sep)) {
      throw new StorageError("SUSPICIOUS_NAME", `Refused storage name ${JSON.stringify(name)}`);
    }
    return full;
  }

  url(name: string): string {
    return this.baseUrl + assertSafeName(name).split("/").map(encodeURIComponent).join("/");
  }

  async save(name: string, content: Readable, options: SaveOptions = {}): Promise<string> {
    const target = this.path(name);
    const dir = path.dirname(target);
    await unavailableOnError(() => this.makeDirs(dir));
    const temp = path.join(dir, `.${path.basename(target)}.${randomBytes(6).toString("hex")}.part`);
    try {
      const fileMode = this.options.filePermissionsMode;
      await writeFrom(content, createWriteStream(temp, { flags: "wx", mode: fileMode }));
      await unavailableOnError(async () => {
        const handle = await fs.open(temp, "r+");
        try {
          await handle.sync();
        } finally {
          await handle.close();
        }
        if (fileMode !== undefined) await fs.chmod(temp, fileMode);
      });
      const stored = await this.publish(temp, name, options.maxLength);
      await fsyncDir(dir);
      return stored;
    } finally {
      await fs.rm(temp, { force: true });
    }
  }

  /** Makes `temp` visible under `name` or a free alternative; never replaces a file unless allowed. */
  private async publish(temp: string, name: string, maxLength?: number): Promise<string> {
    if (this.options.allowOverwrite) {
      checkLength(name, maxLength);
      await unavailableOnError(() => fs.rename(temp, this.path(name)));
      return name;
    }
    let candidate = name;
    for (let attempt = 0; attempt < MAX_NAME_ATTEMPTS; attempt++) {
      candidate = attempt === 0 ? name : alternativeWithin(name, maxLength);
      checkLength(candidate, maxLength);
      try {
        // link() fails when the name exists, so concurrent savers never overwrite each other.
        await fs.link(temp, this.path(candidate));
        return candidate;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw unavailable(err);
      }
    }
    throw new StorageError("NAME_TOO_LONG", `No free name found for ${JSON.stringify(name)}`);
  }

  async open(name: string, range: { start?: number; end?: number } = {}): Promise<Readable> {
    const full = this.path(name);
    const handle = await fs.open(full, "r").catch((err) => {
      throw notFoundOr(err, name);
    });
    return createReadStream("", { fd: handle, start: range.start, end: range.end });
  }

  async move(from: string, to: string): Promise<void> {
    const source = this.path(from);
    const target = this.path(to);
    await unavailableOnError(() => this.makeDirs(path.dirname(target)));
    try {
      await fs.link(source, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EEXIST") throw new StorageError("EXISTS", `${to} already exists`);
      throw notFoundOr(err, from);
    }
    await fs.unlink(source).catch((err) => {
      throw unavailable(err);
    });
    await fsyncDir(path.dirname(target));
    if (path.dirname(source) !== path.dirname(target)) await fsyncDir(path.dirname(source));
  }

  async delete(name: string): Promise<void> {
    await fs.rm(this.path(name), { force: true }).catch((err) => {
      throw unavailable(err);
    });
  }

  async exists(name: string): Promise<boolean> {
    try {
      await fs.access(this.path(name));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw unavailable(err);
    }
  }

  async size(name: string): Promise<number> {
    return (await this.stat(name)).size;
  }

  async getModifiedTime(name: string): Promise<Date> {
    return (await this.stat(name)).mtime;
  }

  async listdir(dirName: string): Promise<{ directories: string[]; files: string[] }> {
    const full = dirName === "" ? this.location : this.path(dirName);
    const entries = await fs.readdir(full, { withFileTypes: true }).catch((err) => {
      throw notFoundOr(err, dirName);
    });
    return {
      directories: entries.filter((e) => e.isDirectory()).map((e) => e.name),
      files: entries.filter((e) => e.isFile()).map((e) => e.name),
    };
  }

  private async stat(name: string) {
    return fs.stat(this.path(name)).catch((err) => {
      throw notFoundOr(err, name);
    });
  }

  private async makeDirs(dir: string): Promise<void> {
    await fs.mkdir(dir, { recursive: true, mode: this.options.directoryPermissionsMode });
  }
}

/** Pipes `content` into `sink`; the content's own errors come out unchanged, the sink's as STORAGE_UNAVAILABLE. */
async function writeFrom(content: Readable, sink: NodeJS.WritableStream): Promise<void> {
  let contentError: unknown;
  content.once("error", (err) => (contentError = err));
  try {
    await pipeline(content, sink);
  } catch (err) {
    throw contentError ?? unavailable(err);
  }
}

function alternativeWithin(name: string, maxLength?: number): string {
  const [root, ext] = splitExt(name);
  const candidate = getAlternativeName(root, ext);
  if (maxLength === undefined || candidate.length <= maxLength) return candidate;
  // Django truncates the root to make room for the suffix, keeping directory and extension.
  const dir = path.posix.dirname(root);
  const base = path.posix.basename(root);
  const prefix = dir === "." ? "" : `${dir}/`;
  const room = maxLength - prefix.length - ext.length - 8;
  if (room < 1) throw new StorageError("NAME_TOO_LONG", `No name for ${JSON.stringify(name)} fits ${maxLength} characters`);
  return getAlternativeName(prefix + base.slice(0, room), ext);
}

function checkLength(name: string, maxLength?: number): void {
  if (maxLength !== undefined && name.length > maxLength) {
    throw new StorageError("NAME_TOO_LONG", `${JSON.stringify(name)} is longer than ${maxLength} characters`);
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function unavailable(err: unknown): StorageError {
  if (err instanceof StorageError) return err;
  return new StorageError("STORAGE_UNAVAILABLE", `Storage failed: ${(err as Error).message}`, { cause: err });
}

function notFoundOr(err: unknown, name: string): StorageError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT" || code === "ENOTDIR") return new StorageError("NOT_FOUND", `${name} does not exist`);
  return unavailable(err);
}

async function unavailableOnError<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw unavailable(err);
  }
}
