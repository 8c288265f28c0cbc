import { randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import type { MediaFile } from "../../db/generated/client.js";
import type { MediaKind } from "../../db/generated/enums.js";
import type { DirectQuery, PrismaClient } from "../../db/client.js";
import { backoffMs, MAX_ATTEMPTS, type ClaimedJob, type JobQueue } from "../../jobs/queue.js";
import { LeaseLost } from "../../jobs/workers.js";
import type { Storage } from "../../storage/contract.js";
import type { StorageRegistry } from "../../storage/registry.js";
import { analyzeAudioVideo, type MediaInfo } from "../../transcode/analyze.js";
import { AnalysisError, TranscodeAborted, TranscodeError } from "../../transcode/errors.js";
import { StreamChecksum } from "../../streams/checksum.js";
import { outputFormat, recipeDigest, type Recipe } from "../../transcode/presets.js";
import type { TranscodeResult, Transcoder } from "../../transcode/transcoders.js";
import type { KindRegistry } from "../kinds.js";
import type { ScratchSpace } from "../scratch.js";
import { mediaFileRow } from "../sql/media-file.js";
import { recordVersionSql, startVersionSql, type StartedRow } from "../sql/versions.js";
import { infoColumns, withLocalFile } from "../staging.js";
import { checkComplete, parseRecipe, throttledProgress } from "./job-steps.js";
import { versionName } from "./names.js";
import type { VersionWaiting } from "./waiting.js";

export interface VersionJobDeps {
  prisma: PrismaClient;
  /** The driver itself, for the statements every version made runs (see `Database.query`). */
  query: DirectQuery;
  storages: StorageRegistry;
  kinds: KindRegistry;
  queue: JobQueue;
  transcoders: Transcoder[];
  ffprobe: { ffprobePath: string; timeoutMs: number };
  scratch: ScratchSpace;
  waiting: VersionWaiting;
  log: (message: string) => void;
}

/** What a job reads of the version's original. */
type Original = Pick<MediaFile, "storage" | "name" | "mimeType" | "durationMs">;

/**
 * The version job: makes a version with the first transcoder that accepts its original, stores
 * it under a name of its own, and records it only if its shelf and its claim still exist; a job
 * whose version is gone ends without doing anything.
 */
export class VersionJob {
  /** Versions made by this process (the single-flight checks count them). */
  generations = 0;

  constructor(private readonly deps: VersionJobDeps) {}

  /** Runs one version job to its end, recording READY, a retry, or FAILED. */
  async run(job: ClaimedJob, abort?: AbortSignal): Promise<void> {
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
    this.deps.waiting.started(file.id);
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
        this.deps.scratch.make("version-").catch((err: Error) => {
          throw new TranscodeError(`No scratch directory for the version: ${(err as NodeJS.ErrnoException).code ?? err.message}`, false);
        });
      const output = async () => path.join(await (workDir ??= scratch()), `out.${format.extension}`);
      const { bytes, ...known } = await this.transcode(original, started.kind, output, recipe, file.id, abort);
      let info: MediaInfo = known;
      if (format.demuxer) {
        info = await analyzeAudioVideo(await output(), format.demuxer, this.deps.ffprobe);
        checkComplete(original.durationMs, info.durationMs);
      }
      // Every run stores under a name of its own, so no two runs (nor a run and a pending delete
      // of an earlier name) ever touch the same object, and it can be written in place: until
      // the row names it, it is an orphan that gc removes if this run dies.
      const storage = this.deps.storages.get(file.storage);
      const digest = recipeDigest(recipe);
      const wanted = versionName(file.shelfId, file.variant, `${digest.slice(0, 8)}-${randomUUID().slice(0, 8)}`, format.extension);
      const source = bytes ? Readable.from([bytes]) : createReadStream(await output());
      const measured = new StreamChecksum();
      // A save that fails before reading its input leaves it open: its file is closed here.
      const name = await storage.save(wanted, Readable.from(measured.pass(source)), { contentType: format.mimeType }).finally(() => source.destroy());
      stored = { storage, name };
      const size = measured.size;
      const checksum = measured.checksum();
      made = await this.record(job, file, { status: "READY", name, size: BigInt(size), checksum, mimeType: format.mimeType, ...infoColumns(info), recipe: digest });
      if (made) {
        stored = undefined;
        this.generations++;
        this.deps.log(`made version ${file.variant} of shelf ${file.shelfId} (${size} bytes)`);
      } else {
        this.deps.log(`version ${file.variant} of shelf ${file.shelfId} was made after its shelf was deleted (or by another worker); its bytes are removed`);
      }
    } catch (err) {
      if (abort?.reason instanceof LeaseLost) {
        // Another worker owns the job now and writes the row, or both went with the shelf:
        // nothing of them is touched here.
        this.deps.log(`version ${file.variant} of shelf ${file.shelfId}: stopped, its job is no longer this worker's (taken over, or its shelf deleted)`);
        return;
      }
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
      this.deps.waiting.ended(file.id, made);
      const madeDir = await workDir?.catch(() => undefined);
      if (madeDir) await fs.rm(madeDir, { recursive: true, force: true });
    }
  }

  /** Marks the version PROCESSING and reads it with its shelf's kind and original; null when the version is gone. */
  private async start(fileId: string, reportsProgress: boolean): Promise<{ file: MediaFile; kind: MediaKind; original: Original | null } | null> {
    const [row] = await this.deps.query<MediaFile & StartedRow>(startVersionSql(fileId, reportsProgress));
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
    const storage = this.deps.storages.get(original.storage);
    return withLocalFile(storage, original.name, async (input) => {
      const source = { path: input, mimeType: original.mimeType, demuxer: format?.demuxer, durationMs: original.durationMs ?? undefined };
      const transcoder = this.deps.transcoders.find((t) => t.accepts(source, recipe));
      if (!transcoder) throw new TranscodeError(`No transcoder makes a ${recipe.type} version of ${original.mimeType} (${kind})`, true);
      try {
        return await transcoder.run(source, output, recipe, { onProgress: reportProgress, abort });
      } catch (err) {
        if (err instanceof TranscodeError || err instanceof TranscodeAborted) throw err;
        // The decoders' own errors (sharp's) are about the input: a corrupt or hostile file. Their
        // words name paths and internals, so they go to the log and the version gets fixed wording.
        this.deps.log(`${transcoder.name} failed on shelf file ${fileId}: ${(err as Error).message}`);
        throw new TranscodeError(`The ${kind.toLowerCase()} could not be transcoded`, true);
      }
    }, (prefix) => this.deps.scratch.make(prefix));
  }

  /**
   * Records a made version, unless its shelf was deleted meanwhile or the job is no longer this
   * worker's (then the caller removes the bytes). `file` is the row as this job started it:
   * READY only for a remake (a version not made before has only a placeholder name), whose old
   * bytes then go to the deletion queue; no one else writes it while the job runs.
   */
  private async record(job: ClaimedJob, file: MediaFile, made: Partial<MediaFile>): Promise<MediaFile | undefined> {
    const replaced = file.status === "READY" ? file : null;
    const completeJob = (condition: Parameters<JobQueue["completion"]>[1]) => this.deps.queue.completion(job.id, condition);
    const [row] = await this.deps.query<MediaFile>(recordVersionSql(file, made, completeJob, replaced));
    return row && mediaFileRow(row);
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
