import { createHash, randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable, Transform } from "node:stream";
import { Prisma, type MediaFile, type Shelf } from "../db/generated/client.js";
import type { MediaKind } from "../db/generated/enums.js";
import type { DirectQuery, PrismaClient, Transaction } from "../db/client.js";
import { backoffMs, MAX_ATTEMPTS, type ClaimedJob, type JobQueue, type NewJob, type QueueName } from "../jobs/queue.js";
import type { Storage } from "../storage/contract.js";
import type { StorageRegistry } from "../storage/registry.js";
import { analyzeAudioVideo, type MediaInfo } from "../transcode/analyze.js";
import { AnalysisError, TranscodeAborted, TranscodeError } from "../transcode/errors.js";
import {
  IMAGE_FITS,
  IMAGE_FORMATS,
  outputFormat,
  recipeDigest,
  RecipeSchema,
  type ImageFit,
  type ImageFormat,
  type ImageRecipe,
  type PresetCatalog,
  type Recipe,
} from "../transcode/presets.js";
import type { TranscodeResult, Transcoder } from "../transcode/transcoders.js";
import { MediaError } from "../errors.js";
import { mediaFileColumns, mediaFileRow } from "./file-rows.js";
import type { KindRegistry } from "./kinds.js";
import { infoColumns, withLocalFile } from "./staging.js";

/** Ad-hoc transforms one shelf keeps, so one client cannot fill storage with variants. */
const MAX_TRANSFORMS_PER_SHELF = 50;
const PROGRESS_INTERVAL_MS = 1_000;
/** Priority of a version someone asked for, over eager work queued in the background. */
const ON_DEMAND_PRIORITY = 5;

export interface TransformInput {
  width?: number | null;
  height?: number | null;
  fit?: ImageFit | null;
  format?: ImageFormat | null;
  quality?: number | null;
}

export interface VersionSettings {
  /** "any" allows ad-hoc image transforms; "presets-only" allows presets alone. */
  transforms: "any" | "presets-only";
  /** Largest width or height a transform may ask for. */
  maxTransformSize: number;
  /** Poster frames made of each video (0: none), at these fractions of its duration. */
  posterPositions: number[];
  ffprobe: { ffprobePath: string; timeoutMs: number };
}

export interface VersionServiceDeps {
  prisma: PrismaClient;
  /** The driver itself, for the statements every version made runs (see `Database.query`). */
  query: DirectQuery;
  storages: StorageRegistry;
  kinds: KindRegistry;
  presets: PresetCatalog;
  queue: JobQueue;
  transcoders: Transcoder[];
  settings: VersionSettings;
  /** Tells this process's workers that a queue has new work: `jobs` new jobs, or an unknown number. */
  kick: (queue: QueueName, jobIds?: readonly string[]) => void;
  log: (message: string) => void;
}

/** What one version is: its key among the shelf's files and the recipe that makes it. */
interface VersionSpec {
  variant: string;
  preset: string | null;
  recipe: Recipe;
}

/**
 * Versions of shelves: planned eagerly at upload or made the first time they are asked for, once
 * (a unique key on shelf and variant, and one job per file), by the first transcoder that accepts
 * the file, and recorded only if their shelf still exists when they are done.
 */
export class VersionService {
  /** Versions made by this process (the single-flight checks count them). */
  generations = 0;
  private readonly settled = new EventEmitter().setMaxListeners(0);
  /** Files whose job runs in this process now. */
  private readonly makingHere = new Set<string>();

  constructor(private readonly deps: VersionServiceDeps) {}

  static queueFor(kind: MediaKind): QueueName {
    return kind === "IMAGE" ? "image" : "av";
  }

  /**
   * Inside the upload's transaction: a row and a job for every eager preset, and the poster
   * frames job for a video (not for a poster frame itself).
   */
  async planEager(tx: Transaction, shelf: Pick<Shelf, "id" | "kind" | "thumbnailOfId">): Promise<QueueName[]> {
    const specs = this.deps.presets.forKind(shelf.kind).filter((p) => p.eager).map((p) => ({ variant: p.name, preset: p.name, recipe: p.recipe }));
    const queue = VersionService.queueFor(shelf.kind);
    const jobs: NewJob[] = [];
    for (const spec of specs) {
      const fileId = await this.insertPending(tx, shelf, spec);
      if (fileId) jobs.push({ queue, type: "version", shelfId: shelf.id, fileId, recipe: JSON.stringify(spec.recipe) });
    }
    if (shelf.kind === "VIDEO" && this.deps.settings.posterPositions.length > 0) {
      // Ahead of the video's transcodes on its queue: frames take seconds, a transcode minutes.
      jobs.push({ queue: "av", type: "posters", shelfId: shelf.id, priority: 1 });
    }
    await this.deps.queue.enqueue(tx, jobs);
    return jobs.length > 0 ? [...new Set(jobs.map((j) => j.queue))] : [];
  }

  /** A kind's presets as clients see them. */
  presetsOf(kind: MediaKind): Array<{ name: string; eager: boolean; mimeType: string }> {
    return this.deps.presets.forKind(kind).map((p) => ({ name: p.name, eager: p.eager, mimeType: outputFormat(p.recipe).mimeType }));
  }

  /**
   * The preset's version among files already read (a list page reads every shelf's files), when
   * it is there and current; otherwise undefined, and `version()` finds or starts it.
   */
  currentIn(files: readonly MediaFile[], kind: MediaKind, presetName: string): MediaFile | undefined {
    const preset = this.deps.presets.get(kind, presetName);
    const file = preset && files.find((f) => f.variant === preset.name);
    return file && file.recipe === recipeDigest(preset.recipe) ? file : undefined;
  }

  /**
   * The shelf's version of a preset, started if it does not exist yet (or is stale). `files`,
   * the shelf's files when the caller has read them, spares reading its version again.
   */
  async version(shelf: Shelf, presetName: string, files?: readonly MediaFile[]): Promise<MediaFile> {
    const preset = this.deps.presets.get(shelf.kind, presetName);
    if (!preset) {
      const names = this.deps.presets.forKind(shelf.kind).map((p) => p.name);
      throw new MediaError(
        "BAD_USER_INPUT",
        names.length > 0
          ? `${shelf.kind} has no preset ${JSON.stringify(presetName)}; its presets are ${names.join(", ")}`
          : `${shelf.kind} shelves have no presets`,
      );
    }
    const known = files && (files.find((f) => f.variant === preset.name) ?? null);
    return this.request(shelf, { variant: preset.name, preset: preset.name, recipe: preset.recipe }, { priority: ON_DEMAND_PRIORITY }, known);
  }

  /**
   * An ad-hoc image version, keyed by a digest of the normalised input. A side asked for beyond
   * the original's is the original's (nothing is enlarged), so such requests share one version.
   */
  async transform(shelf: Shelf, input: TransformInput, files: readonly MediaFile[]): Promise<MediaFile> {
    if (this.deps.settings.transforms === "presets-only") {
      const names = this.deps.presets.forKind(shelf.kind).map((p) => p.name).join(", ");
      throw new MediaError("BAD_USER_INPUT", `Ad-hoc transforms are turned off here; ask for a preset with version(preset): ${names}`);
    }
    const recipe = this.normalizeTransform(input);
    const original = files.find((f) => f.role === "ORIGINAL");
    if (recipe.height === undefined && original?.width) recipe.width = Math.min(recipe.width!, original.width);
    if (recipe.width === undefined && original?.height) recipe.height = Math.min(recipe.height!, original.height);
    const variant = `t-${recipeDigest(recipe)}`;
    const made = files.find((f) => f.variant === variant);
    if (made) return made;
    const beforeInsert = async () => {
      const count = await this.deps.prisma.mediaFile.count({ where: { shelfId: shelf.id, variant: { startsWith: "t-" } } });
      if (count >= MAX_TRANSFORMS_PER_SHELF) {
        throw new MediaError("BAD_USER_INPUT", `A shelf keeps at most ${MAX_TRANSFORMS_PER_SHELF} transforms; use one of those it has, or a preset`);
      }
    };
    return this.request(shelf, { variant, preset: null, recipe }, { priority: ON_DEMAND_PRIORITY, beforeInsert }, null);
  }

  normalizeTransform(input: TransformInput): ImageRecipe {
    const max = this.deps.settings.maxTransformSize;
    const side = (name: string, value: number | null | undefined) => {
      if (value == null) return undefined;
      if (!Number.isInteger(value) || value < 1 || value > max) throw new MediaError("BAD_USER_INPUT", `${name} must be between 1 and ${max}`);
      return value;
    };
    const width = side("width", input.width);
    const height = side("height", input.height);
    if (width === undefined && height === undefined) throw new MediaError("BAD_USER_INPUT", "A transform needs a width or a height");
    const quality = input.quality ?? 80;
    if (!Number.isInteger(quality) || quality < 1 || quality > 100) throw new MediaError("BAD_USER_INPUT", "quality must be between 1 and 100");
    const fit = input.fit ?? "inside";
    const format = input.format ?? "webp";
    if (!IMAGE_FITS.includes(fit) || !IMAGE_FORMATS.includes(format)) throw new MediaError("BAD_USER_INPUT", "Unknown fit or format");
    return { type: "image", width, height, fit, format, quality };
  }

  /** Whether a version was made with a recipe other than its preset's current one. */
  isStale(file: Pick<MediaFile, "role" | "preset" | "recipe">, kind: MediaKind): boolean {
    if (file.role !== "VERSION" || !file.preset || !file.recipe) return false;
    const preset = this.deps.presets.get(kind, file.preset);
    return preset !== undefined && recipeDigest(preset.recipe) !== file.recipe;
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
    const preset = this.deps.presets.get(shelf.kind, presetName);
    if (!preset || (options.staleOnly && !current)) return false;
    const spec = { variant: preset.name, preset: preset.name, recipe: preset.recipe };
    const { jobId } = await this.enqueue(shelf, spec, { priority: 0, ...options, remake: true }, current);
    return jobId !== undefined;
  }

  /** The version row for `spec`, queued to be made when it is missing or stale; this process's workers are told. */
  private async request(
    shelf: Shelf,
    spec: VersionSpec,
    options: { priority: number; beforeInsert?: () => Promise<void> },
    known?: MediaFile | null,
  ): Promise<MediaFile> {
    const { file, jobId } = await this.enqueue(shelf, spec, { ...options }, known);
    if (jobId) this.deps.kick(VersionService.queueFor(shelf.kind), [jobId]);
    return file;
  }

  /**
   * Inserts the version's row and its job in one statement when the shelf has none (a
   * concurrent request finds the row the first one inserted: one row, one job). An existing row
   * gets a job when its recipe changed (it keeps serving its old bytes meanwhile), or when
   * `remake` asks for one; a FAILED one only through `remake`. `jobId` names the job queued, if any.
   */
  private async enqueue(
    shelf: Shelf,
    spec: VersionSpec,
    options: { priority: number; remake?: boolean; onlyMissing?: boolean; staleOnly?: boolean; beforeInsert?: () => Promise<void> },
    /** The row as the caller already read it (null: none); read here when not given. */
    known?: MediaFile | null,
  ): Promise<{ file: MediaFile; jobId?: string }> {
    const key = { shelfId_variant: { shelfId: shelf.id, variant: spec.variant } };
    const digest = recipeDigest(spec.recipe);
    const job = (fileId: string): NewJob & { id: string } => ({
      id: randomUUID(),
      queue: VersionService.queueFor(shelf.kind),
      type: "version",
      shelfId: shelf.id,
      fileId,
      recipe: JSON.stringify(spec.recipe),
      priority: options.priority,
    });
    const existing = known === undefined ? await this.deps.prisma.mediaFile.findUnique({ where: key }) : known;
    if (existing) {
      const stale = existing.recipe !== digest;
      const wanted = options.remake
        ? options.staleOnly
          ? stale
          : !options.onlyMissing || existing.status === "FAILED"
        : // A stale version that already failed to remake is not retried on every ask.
          stale && !(existing.status === "READY" && existing.error);
      if (!wanted) return { file: existing };
      const remake = job(existing.id);
      try {
        return { file: existing, jobId: (await this.deps.queue.enqueue(this.deps.prisma, [remake])) ? remake.id : undefined };
      } catch (err) {
        // The shelf (and with it the row) went away since the caller read it.
        if (isForeignKeyViolation(err)) throw notFound(shelf.id);
        throw err;
      }
    }
    await options.beforeInsert?.();
    const pending = this.pendingRow(shelf, spec);
    const first = job(pending.id);
    let createdAt: Date | null;
    try {
      createdAt = await this.deps.queue.enqueueForNewFile(insertPendingSql(pending), first);
    } catch (err) {
      // The shelf went away between reading it and inserting its version.
      if (isForeignKeyViolation(err)) throw notFound(shelf.id);
      throw err;
    }
    if (createdAt) return { file: { ...pending, createdAt }, jobId: first.id };
    // A concurrent request inserted it first: one row, one job.
    const file = await this.deps.prisma.mediaFile.findUnique({ where: key });
    if (!file) throw notFound(shelf.id);
    return { file };
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

  /**
   * Inserts a PENDING row for `spec` unless the shelf has one; returns its id when inserted. Its
   * name is a placeholder that holds no bytes: each run stores under a name of its own.
   */
  private async insertPending(tx: Transaction, shelf: Pick<Shelf, "id" | "kind">, spec: VersionSpec): Promise<string | undefined> {
    const pending = this.pendingRow(shelf, spec);
    const count = await tx.$executeRaw`${insertPendingSql(pending)}`;
    return count === 1 ? pending.id : undefined;
  }

  /**
   * Someone is waiting on `file` (the media route): its job goes first, and the promise settles
   * when the file is READY or FAILED, or after `timeoutMs`, with the row as it then is.
   */
  async awaitFile(file: MediaFile, timeoutMs: number): Promise<MediaFile | null> {
    // A job this process runs is under way already; only a waiting one needs moving up.
    if (!this.makingHere.has(file.id)) {
      const hurried = await this.deps.queue.hurry(file.id);
      if (hurried) this.deps.kick(hurried.queue, [hurried.id]);
    }
    const deadline = Date.now() + timeoutMs;
    let current: MediaFile | null = file;
    for (;;) {
      if (!current || current.status === "READY" || current.status === "FAILED") return current;
      const left = deadline - Date.now();
      if (left <= 0) return current;
      // This process's workers announce their results (with the row when they recorded one);
      // other processes' are found by polling.
      const announced = await new Promise<MediaFile | undefined>((resolve) => {
        const done = (row?: MediaFile) => {
          clearTimeout(timer);
          this.settled.off(file.id, done);
          resolve(row);
        };
        const timer = setTimeout(done, Math.min(left, 250));
        this.settled.on(file.id, done);
      });
      current = announced ?? (await this.deps.prisma.mediaFile.findUnique({ where: { id: file.id } }));
    }
  }

  /** Runs one version job to its end, recording READY, a retry, or FAILED. */
  async runJob(job: ClaimedJob, abort?: AbortSignal): Promise<void> {
    const { prisma, queue } = this.deps;
    const recipe = parseRecipe(job.recipe);
    const started = job.fileId ? await this.start(job.fileId, recipe !== undefined && recipe.type !== "image") : null;
    if (!started) {
      await queue.complete(prisma, job.id);
      return;
    }
    const { file, original } = started;
    /** Made when a transcoder asks for a file to write (audio and video; images are made in memory). */
    let workDir: Promise<string> | undefined;
    this.makingHere.add(file.id);
    /** The row as recorded, for whoever waits on it. */
    let made: MediaFile | undefined;
    let stored: { storage: Storage; name: string } | undefined;
    try {
      if (job.attempts > MAX_ATTEMPTS) throw new TranscodeError(`Gave up after ${MAX_ATTEMPTS} attempts`, true);
      if (!recipe) throw new TranscodeError("The version's recipe is not valid", true);
      if (!original) throw new TranscodeError("The shelf has no original", true);
      const format = outputFormat(recipe);
      // A scratch directory that cannot be made is this machine's trouble, not the input's: the
      // job is retried (the transcoders' own errors count as bad input).
      const scratch = () =>
        fs.mkdtemp(path.join(os.tmpdir(), "version-")).catch((err: Error) => {
          throw new TranscodeError(`No scratch directory for the version: ${err.message}`, false);
        });
      const output = async () => path.join(await (workDir ??= scratch()), `out.${format.extension}`);
      const { bytes, ...known } = await this.transcode(original, started.kind, output, recipe, file.id, abort);
      let info: MediaInfo = known;
      if (format.demuxer) {
        info = await analyzeAudioVideo(await output(), format.demuxer, this.deps.settings.ffprobe);
        checkComplete(original.durationMs, info.durationMs);
      }
      // Every run stores under a name of its own, so no two runs (nor a run and a pending delete
      // of an earlier name) ever touch the same object, and it can be written in place: until
      // the row names it, it is an orphan that gc removes if this run dies.
      const storage = this.deps.storages.get(file.storage);
      const wanted = versionName(file.shelfId, file.variant, `${recipeDigest(recipe).slice(0, 8)}-${randomUUID().slice(0, 8)}`, format.extension);
      const source = bytes ? Readable.from([bytes]) : createReadStream(await output());
      const hashed = hashing(source);
      // A save that fails before reading its input leaves it open: its file is closed here.
      const name = await storage.save(wanted, hashed.stream, { contentType: format.mimeType }).finally(() => source.destroy());
      stored = { storage, name };
      const { size, checksum } = hashed.result();
      made = await this.record(job, file, { name, size, checksum, mimeType: format.mimeType, info, recipe: recipeDigest(recipe) });
      if (made) {
        stored = undefined;
        this.generations++;
        this.deps.log(`made version ${file.variant} of shelf ${file.shelfId} (${size} bytes)`);
      } else {
        this.deps.log(`version ${file.variant} of shelf ${file.shelfId} was made after its shelf was deleted (or by another worker); its bytes are removed`);
      }
    } catch (err) {
      if (err instanceof TranscodeAborted || abort?.aborted) {
        await prisma.mediaFile.updateMany({ where: { id: file.id, status: "PROCESSING" }, data: { status: "PENDING", progress: null } });
        await queue.release(job.id);
        return;
      }
      const message = (err as Error).message;
      const badInput = (err instanceof TranscodeError || err instanceof AnalysisError) && err.badInput;
      if (badInput || job.attempts >= MAX_ATTEMPTS) {
        await this.fail(job, file, message);
      } else {
        this.deps.log(`version ${file.variant} of shelf ${file.shelfId}: attempt ${job.attempts} failed, retrying: ${message}`);
        await prisma.mediaFile.updateMany({ where: { id: file.id, status: "PROCESSING" }, data: { status: "PENDING", error: message } });
        await queue.retryLater(job.id, backoffMs(job.attempts), message);
      }
    } finally {
      if (stored) await stored.storage.delete(stored.name).catch(() => {});
      // Whoever waits on the version hears first; the scratch files go after.
      this.makingHere.delete(file.id);
      this.settled.emit(file.id, made);
      const madeDir = await workDir?.catch(() => undefined);
      if (madeDir) await fs.rm(madeDir, { recursive: true, force: true });
    }
  }

  /**
   * Marks a version PROCESSING (one being remade keeps READY and serves its old bytes) and reads
   * it with its shelf's kind and original, in one statement; null when the version is gone.
   */
  private async start(
    fileId: string,
    reportsProgress: boolean,
  ): Promise<{ file: MediaFile; kind: MediaKind; original: Original | null } | null> {
    const rows = await this.deps.query<MediaFile & StartedRow>(Prisma.sql`
      WITH file AS (
        UPDATE "MediaFile" AS f SET
          "status" = CASE WHEN f."status" = 'READY' THEN f."status" ELSE 'PROCESSING' END,
          "progress" = CASE WHEN f."status" = 'READY' THEN f."progress" WHEN ${reportsProgress}::boolean THEN 0 ELSE NULL END,
          "error" = CASE WHEN f."status" = 'READY' THEN f."error" ELSE NULL END
        WHERE f."id" = ${fileId}::uuid
        RETURNING ${mediaFileColumns("f")}
      )
      SELECT file.*, s."kind"::text AS "shelfKind", o."storage" AS "originalStorage", o."name" AS "originalName",
        o."mimeType" AS "originalMimeType", o."durationMs" AS "originalDurationMs"
      FROM file
      JOIN "Shelf" s ON s."id" = file."shelfId"
      LEFT JOIN "MediaFile" o ON o."shelfId" = file."shelfId" AND o."role" = 'ORIGINAL'`);
    const row = rows[0];
    if (!row) return null;
    const { shelfKind, originalStorage, originalName, originalMimeType, originalDurationMs, ...file } = row;
    const original = originalStorage && originalName && originalMimeType
      ? { storage: originalStorage, name: originalName, mimeType: originalMimeType, durationMs: originalDurationMs }
      : null;
    return { file: mediaFileRow(file), kind: shelfKind, original };
  }

  /** Reads the original (a local copy when its storage has no path) and runs the first transcoder that accepts it. */
  private async transcode(original: Original, kind: MediaKind, output: () => Promise<string>, recipe: Recipe, fileId: string, abort?: AbortSignal): Promise<TranscodeResult> {
    const format = this.deps.kinds.forMimeType(original.mimeType)?.format;
    const reportProgress = throttledProgress((progress) =>
      this.deps.prisma.mediaFile.updateMany({ where: { id: fileId, status: "PROCESSING" }, data: { progress } }),
    );
    return withLocalFile(this.deps.storages.get(original.storage), original.name, async (input) => {
      const source = { path: input, mimeType: original.mimeType, demuxer: format?.demuxer, durationMs: original.durationMs ?? undefined };
      const transcoder = this.deps.transcoders.find((t) => t.accepts(source, recipe));
      if (!transcoder) throw new TranscodeError(`No transcoder makes a ${recipe.type} version of ${original.mimeType} (${kind})`, true);
      try {
        return await transcoder.run(source, output, recipe, { onProgress: reportProgress, abort });
      } catch (err) {
        if (err instanceof TranscodeError || err instanceof TranscodeAborted) throw err;
        // The decoders' own errors (sharp's) are about the input: a corrupt or hostile file.
        throw new TranscodeError(`The ${kind.toLowerCase()} could not be transcoded: ${(err as Error).message}`, true);
      }
    });
  }

  /**
   * Records a made version, unless its shelf was deleted meanwhile or the job is no longer this
   * worker's (then the caller removes the bytes). The shelf row is share-locked first, so a
   * concurrent delete either sees the new name or runs after this and finds nothing.
   */
  private async record(
    job: ClaimedJob,
    file: MediaFile,
    made: { name: string; size: number; checksum: string; mimeType: string; info: MediaInfo; recipe: string },
  ): Promise<MediaFile | undefined> {
    const info = infoColumns(made.info);
    // One statement: the shelf share-locked, the job completed (only while it is this worker's
    // and the shelf is there), the row updated, and a remade version's old bytes handed to the
    // deletion queue. `file` is the row as this job started it: READY only for a remake (a version
    // not made before has only a placeholder name), and no one else writes it while the job runs.
    const replaced = file.status === "READY";
    const rows = await this.deps.query<MediaFile>(Prisma.sql`
      WITH shelf AS (SELECT 1 FROM "Shelf" WHERE "id" = ${file.shelfId}::uuid FOR SHARE),
      done AS (${this.deps.queue.completion(job.id, Prisma.sql`EXISTS (SELECT 1 FROM shelf)`)}),
      file AS (
        UPDATE "MediaFile" AS f SET "status" = 'READY', "name" = ${made.name}, "size" = ${String(made.size)}::bigint,
          "checksum" = ${made.checksum}, "mimeType" = ${made.mimeType}, "width" = ${info.width}::int, "height" = ${info.height}::int,
          "durationMs" = ${info.durationMs}::int, "videoCodec" = ${info.videoCodec}, "audioCodec" = ${info.audioCodec},
          "bitrate" = ${info.bitrate}::int, "frameRate" = ${info.frameRate}::float8, "recipe" = ${made.recipe},
          "progress" = CASE WHEN f."progress" IS NULL THEN NULL ELSE 1 END, "error" = NULL
        WHERE f."id" = ${file.id}::uuid AND EXISTS (SELECT 1 FROM done)
        RETURNING ${mediaFileColumns("f")}
      ),
      gone AS (INSERT INTO "StorageDeletion" ("storage", "name") SELECT ${file.storage}, ${file.name} FROM file WHERE ${replaced}::boolean)
      SELECT * FROM file`);
    return rows[0] && mediaFileRow(rows[0]);
  }

  /** FAILED with a message; a stale version that fails to remake keeps its old bytes, with the error. */
  private async fail(job: ClaimedJob, file: MediaFile, message: string): Promise<void> {
    this.deps.log(`version ${file.variant} of shelf ${file.shelfId} failed: ${message}`);
    await this.deps.prisma.$transaction(async (tx) => {
      if (!(await this.deps.queue.complete(tx, job.id))) return;
      await tx.mediaFile.updateMany({ where: { id: file.id, status: { not: "READY" } }, data: { status: "FAILED", error: message, progress: null } });
      await tx.mediaFile.updateMany({ where: { id: file.id, status: "READY" }, data: { error: message } });
    });
  }
}

/**
 * ffmpeg decodes what it can of a damaged file and exits cleanly; a version much shorter than
 * its original means the original is truncated or corrupt, and is refused rather than served.
 */
function checkComplete(originalMs: number | null, versionMs: number | undefined): void {
  if (!originalMs || versionMs === undefined) return;
  if (versionMs < originalMs * 0.9 - 500) {
    throw new TranscodeError(
      `The media is truncated or damaged: only ${(versionMs / 1000).toFixed(1)} s of its ${(originalMs / 1000).toFixed(1)} s could be read`,
      true,
    );
  }
}

/** Where a version's bytes live: beside nothing else, named by shelf, variant and recipe. */
export function versionName(shelfId: string, variant: string, tag: string, extension: string): string {
  return `versions/${shelfId}/${variant}.${tag}.${extension}`;
}

/** The shelf and variant a version's storage name names (its tag changes each time it is made). */
export function parseVersionName(name: string): { shelfId: string; variant: string } | undefined {
  const match = /^versions\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/([a-z0-9-]+)\.[^/]+$/.exec(name);
  return match ? { shelfId: match[1]!, variant: match[2]! } : undefined;
}

/** Passes a stream through, counting and hashing its bytes for when it has been read. */
function hashing(source: Readable): { stream: Readable; result(): { size: number; checksum: string } } {
  const hash = createHash("sha256");
  let size = 0;
  const stream = source.pipe(
    new Transform({
      transform(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        hash.update(chunk);
        done(null, chunk);
      },
    }),
  );
  source.once("error", (err) => stream.destroy(err));
  return { stream, result: () => ({ size, checksum: hash.digest("hex") }) };
}

function notFound(id: string): MediaError {
  return new MediaError("NOT_FOUND", `No shelf with id ${JSON.stringify(id)}`);
}

/** Progress writes at most once a second, never blocking the transcode. */
function throttledProgress(write: (progress: number) => Promise<unknown>): (fraction: number) => void {
  let last = 0;
  return (fraction) => {
    const now = Date.now();
    if (now - last < PROGRESS_INTERVAL_MS) return;
    last = now;
    write(Math.round(fraction * 1000) / 1000).catch(() => {});
  };
}

/** What a job reads of the version's original. */
type Original = Pick<MediaFile, "storage" | "name" | "mimeType" | "durationMs">;

interface StartedRow {
  shelfKind: MediaKind;
  originalStorage: string | null;
  originalName: string | null;
  originalMimeType: string | null;
  originalDurationMs: number | null;
}

/** The INSERT of a pending version's row; it inserts nothing where the shelf has that variant. */
function insertPendingSql(row: Omit<MediaFile, "createdAt">): Prisma.Sql {
  return Prisma.sql`INSERT INTO "MediaFile" ("id", "shelfId", "variant", "role", "preset", "storage", "name", "size", "mimeType", "checksum", "status", "recipe")
    VALUES (${row.id}::uuid, ${row.shelfId}::uuid, ${row.variant}, ${row.role}::"FileRole", ${row.preset}, ${row.storage}, ${row.name}, ${String(row.size)}::bigint,
      ${row.mimeType}, ${row.checksum}, ${row.status}::"VersionStatus", ${row.recipe})
    ON CONFLICT DO NOTHING`;
}

/** A statement refused by a foreign key: the row it pointed at is gone (the ORM's error, or the driver's). */
function isForeignKeyViolation(err: unknown): boolean {
  const e = err as { code?: string; meta?: { driverAdapterError?: { cause?: { kind?: string } } } };
  return e.code === "P2003" || e.code === "23503" || e.meta?.driverAdapterError?.cause?.kind === "ForeignKeyConstraintViolation";
}

/** A job's recipe, or undefined when it is not one (the job then ends FAILED rather than retrying). */
function parseRecipe(json: string | null): Recipe | undefined {
  try {
    const parsed = RecipeSchema.safeParse(JSON.parse(json ?? "null"));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
