import { randomUUID } from "node:crypto";
import type { MediaFile, Shelf } from "../../db/generated/client.js";
import type { DirectQuery, PrismaClient, Transaction } from "../../db/client.js";
import type { JobQueue, NewJob, QueueName } from "../../jobs/queue.js";
import type { StorageRegistry } from "../../storage/registry.js";
import { outputFormat, recipeDigest } from "../../transcode/presets.js";
import { MediaError } from "../../errors.js";
import { insertMediaFileSql } from "../sql/media-file.js";
import { countTransformsSql, insertVersionWithJobSql, lockShelfSql } from "../sql/versions.js";
import { queueFor, TRANSFORM_PREFIX, type TransformInput, type VersionCatalogue, type VersionSpec } from "./catalogue.js";
import { versionName } from "./names.js";

/** Ad-hoc transforms one shelf keeps, so one client cannot fill storage with variants. */
export const MAX_TRANSFORMS_PER_SHELF = 50;
/** Priority of a version someone asked for, over eager work queued in the background. */
const ON_DEMAND_PRIORITY = 5;

export interface VersionRequestsDeps {
  prisma: PrismaClient;
  query: DirectQuery;
  storages: StorageRegistry;
  catalogue: VersionCatalogue;
  queue: JobQueue;
  /** Poster frames made of each video (none when empty). */
  posterPositions: number[];
  /** Tells this process's workers that a queue has new work. */
  notifyWork: (queue: QueueName, jobIds?: readonly string[]) => void;
}

interface EnqueueOptions {
  priority: number;
  remake?: boolean;
  onlyMissing?: boolean;
  staleOnly?: boolean;
}

/**
 * Finds or creates versions: a shelf has one row per variant (a unique key on shelf and
 * variant) and one job per row, however many ask at once and in however many processes.
 */
export class VersionRequests {
  constructor(private readonly deps: VersionRequestsDeps) {}

  /**
   * Inside the upload's transaction: a row and a job for every eager preset, and the poster
   * frames job for a video (not for a poster frame itself).
   */
  async planEager(tx: Transaction, shelf: Pick<Shelf, "id" | "kind" | "thumbnailOfId">): Promise<QueueName[]> {
    const queue = queueFor(shelf.kind);
    const jobs: NewJob[] = [];
    for (const spec of this.deps.catalogue.eagerSpecs(shelf.kind)) {
      // The row's name is a placeholder that holds no bytes: each run stores under a name of its own.
      const pending = this.pendingRow(shelf, spec);
      if ((await tx.$executeRaw`${insertMediaFileSql(pending)}`) === 1) {
        jobs.push({ queue, type: "version", shelfId: shelf.id, fileId: pending.id, recipe: JSON.stringify(spec.recipe) });
      }
    }
    if (shelf.kind === "VIDEO" && this.deps.posterPositions.length > 0) {
      // Ahead of the video's transcodes on its queue: frames take seconds, a transcode minutes.
      jobs.push({ queue: "av", type: "posters", shelfId: shelf.id, priority: 1 });
    }
    await this.deps.queue.enqueue(tx, jobs);
    return jobs.length > 0 ? [...new Set(jobs.map((j) => j.queue))] : [];
  }

  /**
   * The shelf's version of a preset, started if it does not exist yet (or is stale). `files`,
   * the shelf's files when the caller has read them, spares reading its version again.
   */
  async version(shelf: Shelf, presetName: string, files?: readonly MediaFile[]): Promise<MediaFile> {
    const spec = this.deps.catalogue.requirePreset(shelf.kind, presetName);
    const known = files && (files.find((f) => f.variant === spec.variant) ?? null);
    return this.request(shelf, spec, known);
  }

  /** An ad-hoc image version; a shelf keeps at most MAX_TRANSFORMS_PER_SHELF, however many ask at once. */
  async transform(shelf: Shelf, input: TransformInput, files: readonly MediaFile[]): Promise<MediaFile> {
    const original = files.find((f) => f.role === "ORIGINAL");
    const spec = this.deps.catalogue.transformSpec(shelf.kind, input, original);
    const made = files.find((f) => f.variant === spec.variant);
    if (made) return made;
    // The count and the insert are one step: the shelf's row is locked between them, so
    // concurrent requests are counted one after another.
    const inserted = await this.deps.prisma.$transaction(async (tx) => {
      await tx.$queryRaw(lockShelfSql(shelf.id));
      const [row] = await tx.$queryRaw<Array<{ n: number; has: boolean | null }>>(countTransformsSql(shelf.id, TRANSFORM_PREFIX, spec.variant));
      // Made by a request since the caller read the shelf's files: it is served, not refused.
      if (row?.has) return null;
      if ((row?.n ?? 0) >= MAX_TRANSFORMS_PER_SHELF) {
        throw new MediaError("BAD_USER_INPUT", `A shelf keeps at most ${MAX_TRANSFORMS_PER_SHELF} transforms; use one of those it has, or a preset`);
      }
      return this.insertWithJob(shelf, spec, { priority: ON_DEMAND_PRIORITY }, (sql) => tx.$queryRaw<Array<{ createdAt: Date }>>(sql));
    });
    if (!inserted) return this.insertedByAnother(shelf, spec);
    this.deps.notifyWork(queueFor(shelf.kind), [inserted.jobId]);
    return inserted.file;
  }

  /**
   * Queues a preset's version of a shelf for `regenerate`: made again (or for the first time);
   * with `onlyMissing`, only where the shelf has none or it FAILED; with `staleOnly`, only where
   * it was made with another recipe. Returns whether a job was queued.
   */
  async schedule(
    shelf: Shelf,
    presetName: string,
    /** The shelf's version of this preset as the caller read it (null: none). */
    current: MediaFile | null,
    options: { onlyMissing?: boolean; staleOnly?: boolean } = {},
  ): Promise<boolean> {
    const spec = this.deps.catalogue.presetSpec(shelf.kind, presetName);
    if (!spec || (options.staleOnly && !current)) return false;
    const { jobId } = await this.enqueue(shelf, spec, { priority: 0, ...options, remake: true }, current);
    return jobId !== undefined;
  }

  /** The version row for `spec`, queued to be made when it is missing or stale; this process's workers are told. */
  private async request(shelf: Shelf, spec: VersionSpec, known?: MediaFile | null): Promise<MediaFile> {
    const { file, jobId } = await this.enqueue(shelf, spec, { priority: ON_DEMAND_PRIORITY }, known);
    if (jobId) this.deps.notifyWork(queueFor(shelf.kind), [jobId]);
    return file;
  }

  /**
   * Inserts the version's row and its job in one statement when the shelf has none. An existing
   * row gets a job when its recipe changed (it keeps serving its old bytes meanwhile), or when
   * `remake` asks for one; a FAILED one only through `remake`. `jobId` names the job queued, if any.
   */
  private async enqueue(
    shelf: Shelf,
    spec: VersionSpec,
    options: EnqueueOptions,
    /** The row as the caller already read it (null: none); read here when not given. */
    known?: MediaFile | null,
  ): Promise<{ file: MediaFile; jobId?: string }> {
    const key = { shelfId_variant: { shelfId: shelf.id, variant: spec.variant } };
    const existing = known === undefined ? await this.deps.prisma.mediaFile.findUnique({ where: key }) : known;
    if (!existing) {
      const inserted = await this.insertWithJob(shelf, spec, options, (sql) => this.deps.query<{ createdAt: Date }>(sql));
      return inserted ?? { file: await this.insertedByAnother(shelf, spec) };
    }
    const stale = existing.recipe !== recipeDigest(spec.recipe);
    const wanted = options.remake
      ? options.staleOnly
        ? stale
        : !options.onlyMissing || existing.status === "FAILED"
      : // A stale version that already failed to remake is not retried on every ask.
        stale && !(existing.status === "READY" && existing.error);
    if (!wanted) return { file: existing };
    const remake = this.job(shelf, spec, existing.id, options.priority);
    try {
      return { file: existing, jobId: (await this.deps.queue.enqueue(this.deps.prisma, [remake])) ? remake.id : undefined };
    } catch (err) {
      // The shelf (and with it the row) went away since the caller read it.
      if (isForeignKeyViolation(err)) throw notFound(shelf.id);
      throw err;
    }
  }

  /**
   * The pending row and its job in one statement, run by `run` (the driver, or a transaction);
   * null when a concurrent request inserted the row first (one row, one job).
   */
  private async insertWithJob(
    shelf: Shelf,
    spec: VersionSpec,
    options: EnqueueOptions,
    run: (sql: ReturnType<typeof insertVersionWithJobSql>) => Promise<Array<{ createdAt: Date }>>,
  ): Promise<{ file: MediaFile; jobId: string } | null> {
    const pending = this.pendingRow(shelf, spec);
    const first = this.job(shelf, spec, pending.id, options.priority);
    try {
      const [row] = await run(insertVersionWithJobSql(pending, this.deps.queue.insertionFrom("file", first)));
      return row ? { file: { ...pending, createdAt: row.createdAt }, jobId: first.id } : null;
    } catch (err) {
      // The shelf went away between reading it and inserting its version.
      if (isForeignKeyViolation(err)) throw notFound(shelf.id);
      throw err;
    }
  }

  /** The row a concurrent request inserted; NOT_FOUND when the shelf went away since. */
  private async insertedByAnother(shelf: Shelf, spec: VersionSpec): Promise<MediaFile> {
    const file = await this.deps.prisma.mediaFile.findUnique({ where: { shelfId_variant: { shelfId: shelf.id, variant: spec.variant } } });
    if (!file) throw notFound(shelf.id);
    return file;
  }

  private job(shelf: Pick<Shelf, "id" | "kind">, spec: VersionSpec, fileId: string, priority: number): NewJob & { id: string } {
    return { id: randomUUID(), queue: queueFor(shelf.kind), type: "version", shelfId: shelf.id, fileId, recipe: JSON.stringify(spec.recipe), priority };
  }

  /** The PENDING row of a version not made yet, as it is inserted. */
  private pendingRow(shelf: Pick<Shelf, "id" | "kind">, spec: VersionSpec): Omit<MediaFile, "createdAt"> {
    const format = outputFormat(spec.recipe);
    const recipe = recipeDigest(spec.recipe);
    return {
      id: randomUUID(),
      shelfId: shelf.id,
      variant: spec.variant,
      role: "VERSION",
      preset: spec.preset,
      storage: this.deps.storages.aliasFor(shelf.kind, "version"),
      name: versionName(shelf.id, spec.variant, recipe.slice(0, 8), format.extension),
      size: 0n,
      mimeType: format.mimeType,
      checksum: "",
      width: null,
      height: null,
      durationMs: null,
      videoCodec: null,
      audioCodec: null,
      bitrate: null,
      frameRate: null,
      status: "PENDING",
      progress: null,
      error: null,
      recipe,
    };
  }
}

function notFound(id: string): MediaError {
  return new MediaError("NOT_FOUND", `No shelf with id ${JSON.stringify(id)}`);
}

/** A statement refused by a foreign key: the row it pointed at is gone (the ORM's error, or the driver's). */
function isForeignKeyViolation(err: unknown): boolean {
  const e = err as { code?: string; meta?: { driverAdapterError?: { cause?: { kind?: string } } } };
  return e.code === "P2003" || e.code === "23503" || e.meta?.driverAdapterError?.cause?.kind === "ForeignKeyConstraintViolation";
}
