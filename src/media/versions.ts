import { createHash, randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type { MediaFile, Shelf } from "../db/generated/client.js";
import type { MediaKind } from "../db/generated/enums.js";
import type { PrismaClient, Transaction } from "../db/client.js";
import type { ClaimedJob, JobQueue, NewJob, QueueName } from "../jobs/queue.js";
import { StorageError } from "../storage/contract.js";
import type { StorageRegistry } from "../storage/registry.js";
import { AnalysisError, analyzeAudioVideo, type MediaInfo } from "../transcode/analyze.js";
import { TranscodeError } from "../transcode/av.js";
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
import type { Transcoder } from "../transcode/transcoders.js";
import { MediaError } from "./errors.js";
import type { KindRegistry } from "./kinds.js";
import { withLocalFile } from "./staging.js";

const MAX_ATTEMPTS = 3;
const RETRY_BASE_MS = 5_000;
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
  storages: StorageRegistry;
  kinds: KindRegistry;
  presets: PresetCatalog;
  queue: JobQueue;
  transcoders: Transcoder[];
  settings: VersionSettings;
  /** Tells this process's workers that a queue has new work. */
  kick: (queue: QueueName) => void;
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
      jobs.push({ queue: "av", type: "posters", shelfId: shelf.id });
    }
    await this.deps.queue.enqueue(tx, jobs);
    return jobs.length > 0 ? [...new Set(jobs.map((j) => j.queue))] : [];
  }

  /** A kind's presets as clients see them. */
  presetsOf(kind: MediaKind): Array<{ name: string; eager: boolean; mimeType: string }> {
    return this.deps.presets.forKind(kind).map((p) => ({ name: p.name, eager: p.eager, mimeType: outputFormat(p.recipe).mimeType }));
  }

  /** The shelf's version of a preset, started if it does not exist yet (or is stale). */
  async version(shelf: Shelf, presetName: string): Promise<MediaFile> {
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
    return this.ensure(shelf, { variant: preset.name, preset: preset.name, recipe: preset.recipe });
  }

  /** An ad-hoc image version, keyed by a digest of the normalised input. */
  async transform(shelf: Shelf, input: TransformInput): Promise<MediaFile> {
    if (this.deps.settings.transforms === "presets-only") {
      const names = this.deps.presets.forKind(shelf.kind).map((p) => p.name).join(", ");
      throw new MediaError("BAD_USER_INPUT", `Ad-hoc transforms are turned off here; ask for a preset with version(preset): ${names}`);
    }
    const recipe = this.normalizeTransform(input);
    return this.ensure(shelf, { variant: `t-${recipeDigest(recipe)}`, preset: null, recipe });
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
   * Queues a preset's version of a shelf to be made again (or for the first time); with
   * `onlyMissing`, only where the shelf has none. Returns whether a job was queued.
   */
  async schedule(shelf: Shelf, presetName: string, options: { onlyMissing?: boolean } = {}): Promise<boolean> {
    const preset = this.deps.presets.get(shelf.kind, presetName);
    if (!preset) return false;
    const spec = { variant: preset.name, preset: preset.name, recipe: preset.recipe };
    const queue = VersionService.queueFor(shelf.kind);
    const job = (fileId: string): NewJob => ({ queue, type: "version", shelfId: shelf.id, fileId, recipe: JSON.stringify(spec.recipe) });
    const existing = await this.deps.prisma.mediaFile.findUnique({ where: { shelfId_variant: { shelfId: shelf.id, variant: spec.variant } } });
    if (existing && options.onlyMissing) return false;
    if (existing) {
      await this.deps.queue.enqueue(this.deps.prisma, [job(existing.id)]);
      return true;
    }
    return this.deps.prisma.$transaction(async (tx) => {
      const fileId = await this.insertPending(tx, shelf, spec);
      if (fileId) await this.deps.queue.enqueue(tx, [job(fileId)]);
      return fileId !== undefined;
    });
  }

  /**
   * The version row for `spec`, inserted with its job when missing; a stale or failed one (made
   * with another recipe) gets a new job and keeps serving what it has until that is done.
   */
  private async ensure(shelf: Shelf, spec: VersionSpec): Promise<MediaFile> {
    if (spec.recipe.type === "image" && shelf.kind !== "IMAGE") throw new MediaError("BAD_USER_INPUT", "Only images can be transformed");
    const key = { shelfId_variant: { shelfId: shelf.id, variant: spec.variant } };
    const queue = VersionService.queueFor(shelf.kind);
    const digest = recipeDigest(spec.recipe);
    const existing = await this.deps.prisma.mediaFile.findUnique({ where: key });
    if (existing && existing.recipe === digest) return existing;
    const job = (fileId: string): NewJob => ({ queue, type: "version", shelfId: shelf.id, fileId, recipe: JSON.stringify(spec.recipe), priority: ON_DEMAND_PRIORITY });
    if (existing) {
      await this.deps.queue.enqueue(this.deps.prisma, [job(existing.id)]);
    } else {
      await this.deps.prisma.$transaction(async (tx) => {
        const fileId = await this.insertPending(tx, shelf, spec);
        if (fileId) await this.deps.queue.enqueue(tx, [job(fileId)]);
      });
    }
    this.deps.kick(queue);
    const file = await this.deps.prisma.mediaFile.findUnique({ where: key });
    if (!file) throw new MediaError("NOT_FOUND", `No shelf with id ${JSON.stringify(shelf.id)}`);
    return file;
  }

  /** Inserts a PENDING row for `spec` unless the shelf has one; returns its id when inserted. */
  private async insertPending(tx: Transaction, shelf: Pick<Shelf, "id" | "kind">, spec: VersionSpec): Promise<string | undefined> {
    const id = randomUUID();
    const format = outputFormat(spec.recipe);
    const storage = this.deps.storages.aliasFor(shelf.kind, "version");
    const { count } = await tx.mediaFile.createMany({
      data: {
        id,
        shelfId: shelf.id,
        variant: spec.variant,
        role: "VERSION",
        preset: spec.preset,
        storage,
        name: versionName(shelf.id, spec.variant, recipeDigest(spec.recipe).slice(0, 8), format.extension),
        size: 0n,
        mimeType: format.mimeType,
        checksum: "",
        status: "PENDING",
        recipe: recipeDigest(spec.recipe),
      },
      skipDuplicates: true,
    });
    return count === 1 ? id : undefined;
  }

  /**
   * Someone is waiting on `file` (the media route): its job goes first, and the promise settles
   * when the file is READY or FAILED, or after `timeoutMs`, with the row as it then is.
   */
  async awaitFile(file: MediaFile, timeoutMs: number): Promise<MediaFile | null> {
    const hurried = await this.deps.queue.hurry(file.id);
    if (hurried) this.deps.kick(hurried.queue);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const current = await this.deps.prisma.mediaFile.findUnique({ where: { id: file.id } });
      if (!current || current.status === "READY" || current.status === "FAILED") return current;
      const left = deadline - Date.now();
      if (left <= 0) return current;
      // This process's workers announce their results; other processes' are found by polling.
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.settled.off(file.id, done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(left, 250));
        this.settled.on(file.id, done);
      });
    }
  }

  /** Runs one version job to its end, recording READY, a retry, or FAILED. */
  async runJob(job: ClaimedJob): Promise<void> {
    const { prisma, queue } = this.deps;
    const file = job.fileId ? await prisma.mediaFile.findUnique({ where: { id: job.fileId }, include: { shelf: true } }) : null;
    const original = file && (await prisma.mediaFile.findFirst({ where: { shelfId: file.shelfId, role: "ORIGINAL" } }));
    if (!file || !original || !job.recipe) {
      await queue.complete(prisma, job.id);
      return;
    }
    const recipe = RecipeSchema.parse(JSON.parse(job.recipe));
    if (job.attempts > MAX_ATTEMPTS) {
      await this.fail(job, file, `Gave up after ${MAX_ATTEMPTS} attempts`);
      return;
    }
    if (file.status !== "READY") {
      await prisma.mediaFile.updateMany({ where: { id: file.id }, data: { status: "PROCESSING", progress: recipe.type === "image" ? null : 0, error: null } });
    }
    const workDir = await fs.mkdtemp(path.join(os.tmpdir(), "version-"));
    const format = outputFormat(recipe);
    const storage = this.deps.storages.get(file.storage);
    let staged: string | undefined;
    try {
      const output = path.join(workDir, `out.${format.extension}`);
      let info = await this.transcode(original, file.shelf.kind, output, recipe, file.id);
      if (format.demuxer) {
        info = await analyzeAudioVideo(output, format.demuxer, this.deps.settings.ffprobe);
        checkComplete(original.durationMs, info.durationMs);
      }
      const { size, checksum } = await digestFile(output);
      staged = await storage.save(`.incoming/${job.id}.${format.extension}`, createReadStream(output), { contentType: format.mimeType });
      const tag = recipeDigest(recipe).slice(0, 8);
      let name = versionName(file.shelfId, file.variant, tag, format.extension);
      // Remade with the same recipe: new bytes under a new name, so the old ones serve until the switch.
      if (file.status === "READY" && file.name === name) name = versionName(file.shelfId, file.variant, `${tag}-${job.id.slice(0, 8)}`, format.extension);
      await moveReplacing(storage, staged, name);
      staged = undefined;
      const recorded = await this.record(job, file, { name, size, checksum, mimeType: format.mimeType, info, recipe: recipeDigest(recipe) });
      if (!recorded) {
        await storage.delete(name).catch(() => {});
      } else {
        this.generations++;
        this.deps.log(`made version ${file.variant} of shelf ${file.shelfId} (${size} bytes)`);
      }
    } catch (err) {
      if (staged) await storage.delete(staged).catch(() => {});
      const message = (err as Error).message;
      const badInput = (err instanceof TranscodeError || err instanceof AnalysisError) && err.badInput;
      if (badInput || job.attempts >= MAX_ATTEMPTS) {
        await this.fail(job, file, message);
      } else {
        this.deps.log(`version ${file.variant} of shelf ${file.shelfId}: attempt ${job.attempts} failed, retrying: ${message}`);
        await prisma.mediaFile.updateMany({ where: { id: file.id, status: "PROCESSING" }, data: { status: "PENDING", error: message } });
        await queue.retryLater(job.id, RETRY_BASE_MS * 2 ** (job.attempts - 1), message);
      }
    } finally {
      await fs.rm(workDir, { recursive: true, force: true });
      this.settled.emit(file.id);
    }
  }

  /** Reads the original (a local copy when its storage has no path) and runs the first transcoder that accepts it. */
  private async transcode(original: MediaFile, kind: MediaKind, output: string, recipe: Recipe, fileId: string): Promise<MediaInfo> {
    const format = this.deps.kinds.forMimeType(original.mimeType)?.format;
    const reportProgress = throttledProgress((progress) =>
      this.deps.prisma.mediaFile.updateMany({ where: { id: fileId, status: "PROCESSING" }, data: { progress } }),
    );
    return withLocalFile(this.deps.storages.get(original.storage), original.name, async (input) => {
      const source = { path: input, mimeType: original.mimeType, demuxer: format?.demuxer, durationMs: original.durationMs ?? undefined };
      const transcoder = this.deps.transcoders.find((t) => t.accepts(source, recipe));
      if (!transcoder) throw new TranscodeError(`No transcoder makes a ${recipe.type} version of ${original.mimeType} (${kind})`, true);
      try {
        return await transcoder.run(source, output, recipe, { onProgress: reportProgress });
      } catch (err) {
        if (err instanceof TranscodeError) throw err;
        // The decoders' own errors (sharp's) are about the input: a corrupt or hostile file.
        throw new TranscodeError(`The ${kind.toLowerCase()} could not be transcoded: ${(err as Error).message}`, true);
      }
    });
  }

  /**
   * Records a made version, unless its shelf was deleted meanwhile (then the caller removes the
   * bytes). The shelf row is share-locked first, so a concurrent delete either sees the new name
   * or runs after this and finds nothing.
   */
  private async record(
    job: ClaimedJob,
    file: MediaFile,
    made: { name: string; size: number; checksum: string; mimeType: string; info: MediaInfo; recipe: string },
  ): Promise<boolean> {
    return this.deps.prisma.$transaction(async (tx) => {
      const shelf = await tx.$queryRaw<unknown[]>`SELECT 1 FROM "Shelf" WHERE "id" = ${file.shelfId}::uuid FOR SHARE`;
      const current = shelf.length > 0 ? await tx.mediaFile.findUnique({ where: { id: file.id } }) : null;
      if (!current) return false;
      await tx.mediaFile.update({
        where: { id: file.id },
        data: {
          status: "READY",
          name: made.name,
          size: BigInt(made.size),
          checksum: made.checksum,
          mimeType: made.mimeType,
          width: made.info.width ?? null,
          height: made.info.height ?? null,
          durationMs: made.info.durationMs ?? null,
          videoCodec: made.info.videoCodec ?? null,
          audioCodec: made.info.audioCodec ?? null,
          bitrate: made.info.bitrate ?? null,
          frameRate: made.info.frameRate ?? null,
          recipe: made.recipe,
          progress: current.progress === null ? null : 1,
          error: null,
        },
      });
      // A stale version's old bytes go once the new ones are recorded.
      if (current.name !== made.name) await tx.storageDeletion.create({ data: { storage: current.storage, name: current.name } });
      await this.deps.queue.complete(tx, job.id);
      return true;
    });
  }

  /** FAILED with a message; a stale version that fails to remake keeps its old bytes, with the error. */
  private async fail(job: ClaimedJob, file: MediaFile, message: string): Promise<void> {
    this.deps.log(`version ${file.variant} of shelf ${file.shelfId} failed: ${message}`);
    await this.deps.prisma.$transaction(async (tx) => {
      await tx.mediaFile.updateMany({ where: { id: file.id, status: { not: "READY" } }, data: { status: "FAILED", error: message, progress: null } });
      await tx.mediaFile.updateMany({ where: { id: file.id, status: "READY" }, data: { error: message } });
      await this.deps.queue.complete(tx, job.id);
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

/** Moves staged bytes to a version's reserved name; bytes already there are an earlier, unrecorded try. */
async function moveReplacing(storage: ReturnType<StorageRegistry["get"]>, from: string, to: string): Promise<void> {
  try {
    await storage.move(from, to);
  } catch (err) {
    if (!(err instanceof StorageError && err.code === "EXISTS")) throw err;
    await storage.delete(to);
    await storage.move(from, to);
  }
}

async function digestFile(file: string): Promise<{ size: number; checksum: string }> {
  const hash = createHash("sha256");
  let size = 0;
  await pipeline(createReadStream(file), async function* (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      size += chunk.length;
      hash.update(chunk);
    }
  });
  return { size, checksum: hash.digest("hex") };
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
