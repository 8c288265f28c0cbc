import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import type { Shelf } from "../db/generated/client.js";
import type { PrismaClient } from "../db/client.js";
import { backoffMs, MAX_ATTEMPTS, type ClaimedJob, type JobQueue } from "../jobs/queue.js";
import type { StorageRegistry } from "../storage/registry.js";
import { posterArgs, runFfmpeg, type FfmpegOptions } from "../transcode/av.js";
import { TranscodeAborted, TranscodeError } from "../transcode/errors.js";
import { MediaError } from "../errors.js";
import type { KindRegistry } from "./kinds.js";
import type { ScratchSpace } from "./scratch.js";
import type { ShelfService } from "./shelves.js";
import type { IncomingFile } from "./staging.js";
import { withLocalFile } from "./staging.js";

export interface ThumbnailServiceDeps {
  prisma: PrismaClient;
  shelves: ShelfService;
  kinds: KindRegistry;
  queue: JobQueue;
  storages: StorageRegistry;
  /** Fractions of the duration at which poster frames are taken. */
  positions: number[];
  ffmpeg: FfmpegOptions;
  scratch: ScratchSpace;
  log: (message: string) => void;
}

/**
 * A video's poster frames: image shelves that belong to the video (they go when it goes), one of
 * them selected. Made by a job after upload; the owner may add their own and pick another.
 */
export class ThumbnailService {
  constructor(private readonly deps: ThumbnailServiceDeps) {}

  /** The poster frames job: takes each frame with ffmpeg, then records them as image shelves. */
  async runJob(job: ClaimedJob, abort?: AbortSignal): Promise<void> {
    const { prisma, queue } = this.deps;
    const video = await prisma.shelf.findUnique({ where: { id: job.shelfId }, include: { files: { where: { role: "ORIGINAL" } } } });
    const original = video?.files[0];
    // The video is gone. (An earlier run that recorded frames also removed this job, in one transaction.)
    if (!video || !original) {
      await queue.complete(prisma, job.id);
      return;
    }
    const demuxer = this.deps.kinds.forMimeType(original.mimeType)?.format.demuxer;
    const workDir = await this.deps.scratch.make("posters-");
    try {
      if (!demuxer) throw new TranscodeError(`${original.mimeType} has no demuxer`, true);
      // Without a known duration every position is the first frame: one is enough.
      const positions = original.durationMs ? this.deps.positions : this.deps.positions.slice(0, 1);
      const frames = await withLocalFile(this.deps.storages.get(original.storage), original.name, async (input) => {
        const taken: Array<{ file: string; percent: number }> = [];
        for (const [i, position] of positions.entries()) {
          const file = path.join(workDir, `frame-${i}.png`);
          const seconds = ((original.durationMs ?? 0) * position) / 1000;
          await runFfmpeg(posterArgs(input, demuxer, file, seconds), { ...this.deps.ffmpeg, abort });
          // A seek past the last frame writes nothing; that position is skipped.
          if ((await fs.stat(file).catch(() => undefined))?.size) taken.push({ file, percent: Math.round(position * 100) });
        }
        return taken;
      }, (prefix) => this.deps.scratch.make(prefix));
      if (frames.length === 0) throw new TranscodeError("No frame could be taken from the video", true);
      await this.deps.shelves.upload(
        video.ownerId,
        frames.map(({ file, percent }) => ({
          file: incoming(file, `poster-${percent}.png`),
          kind: "IMAGE" as const,
          title: `${video.title} (frame at ${percent}%)`.slice(0, 200),
          visibility: video.visibility,
        })),
        {
          thumbnailOf: {
            videoId: video.id,
            select: "if-none",
            // The frames and the job's end are one transaction: a crash never makes them twice.
            inTransaction: async (tx) => {
              if (!(await queue.complete(tx, job.id))) throw new TranscodeError("The poster frames job was taken over by another worker", true);
            },
          },
        },
      );
    } catch (err) {
      if (err instanceof TranscodeAborted || abort?.aborted) {
        await queue.release(job.id);
        return;
      }
      const message = (err as Error).message;
      const gone = err instanceof MediaError && err.code === "NOT_FOUND";
      const permanent = gone || (err instanceof TranscodeError && err.badInput) || (err instanceof MediaError && err.code !== "STORAGE_UNAVAILABLE");
      if (permanent || job.attempts >= MAX_ATTEMPTS) {
        if (!gone) this.deps.log(`poster frames of shelf ${job.shelfId} failed: ${message}`);
        await queue.complete(prisma, job.id);
      } else {
        await queue.retryLater(job.id, backoffMs(job.attempts), message);
      }
    } finally {
      await fs.rm(workDir, { recursive: true, force: true });
    }
  }

  /** Poster frames of many videos in one query (the DataLoader batch function), oldest first. */
  async thumbnailsOf(videoIds: readonly string[]): Promise<Shelf[][]> {
    const rows = await this.deps.prisma.shelf.findMany({
      where: { thumbnailOfId: { in: [...videoIds] } },
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
    });
    return videoIds.map((id) => rows.filter((r) => r.thumbnailOfId === id));
  }

  /** Makes one of a video's poster frames the selected one. */
  async select(ownerId: string, videoId: string, imageId: string): Promise<void> {
    const [video, image] = await Promise.all([this.deps.shelves.get(ownerId, videoId), this.deps.shelves.get(ownerId, imageId)]);
    if (!video || video.kind !== "VIDEO") throw new MediaError("NOT_FOUND", `No video shelf with id ${JSON.stringify(videoId)}`);
    if (!image) throw new MediaError("NOT_FOUND", `No shelf with id ${JSON.stringify(imageId)}`);
    if (image.thumbnailOfId !== videoId) throw new MediaError("BAD_USER_INPUT", "That image is not a poster frame of this video");
    // Conditional, so a video or frame deleted meanwhile is NOT_FOUND rather than an error.
    const { count } = await this.deps.prisma.shelf.updateMany({
      where: { id: videoId, ownerId, thumbnails: { some: { id: imageId } } },
      data: { selectedThumbnailId: imageId },
    });
    if (count === 0) throw new MediaError("NOT_FOUND", `No video shelf with id ${JSON.stringify(videoId)} and that poster frame`);
  }

  /** Uploads the owner's own poster frame for a video; it becomes the selected one. */
  async add(ownerId: string, videoId: string, file: IncomingFile | Promise<IncomingFile>): Promise<Shelf> {
    const video = await this.deps.shelves.get(ownerId, videoId);
    if (!video || video.kind !== "VIDEO") {
      // The file is read and dropped, so the rest of the request still arrives.
      void Promise.resolve(file).then((f) => f.createReadStream().resume()).catch(() => {});
      throw new MediaError("NOT_FOUND", `No video shelf with id ${JSON.stringify(videoId)}`);
    }
    const [shelf] = await this.deps.shelves.upload(ownerId, [{ file, kind: "IMAGE" }], { thumbnailOf: { videoId, select: "always" } });
    return shelf!;
  }
}

function incoming(file: string, filename: string): IncomingFile {
  return { filename, createReadStream: () => createReadStream(file) };
}
