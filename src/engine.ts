import type { Config } from "./config.js";
import type { Database } from "./db/client.js";
import { ShelfEvents } from "./events/bus.js";
import { JobQueue, type QueueName } from "./jobs/queue.js";
import { WorkerPool } from "./jobs/workers.js";
import { DeletionQueue } from "./media/deletions.js";
import { KindRegistry } from "./media/kinds.js";
import { ShelfListing } from "./media/listing.js";
import { RelationService } from "./media/relations.js";
import type { Services } from "./media/services.js";
import { ShelfService } from "./media/shelves.js";
import { ThumbnailService } from "./media/thumbnails.js";
import { ScratchSpace, scratchRootOf } from "./media/scratch.js";
import { VersionService } from "./media/versions/index.js";
import { openStorages } from "./storage/registry.js";
import { defaultTranscoders } from "./transcode/transcoders.js";

export interface Engine {
  services: Services;
  /** This process's scratch space; the service sweeps what dead processes left before it starts working. */
  scratch: ScratchSpace;
  /** One worker pool per queue; started by the service and by `npm run worker`. */
  workers: WorkerPool[];
  close(): Promise<void>;
}

/**
 * Wires the media layer for a configuration and database: storages, kinds, shelves, relations,
 * versions, poster frames and the job workers (built, not started). The service, the worker and
 * the command line all use this, so they behave alike.
 */
export function buildEngine(config: Config, db: Database, log: (message: string) => void): Engine {
  const storages = openStorages({ ...config, settings: config.storage, prisma: db.prisma });
  // The service-wide pixel cap applies to images whatever the kind's own rule says.
  const imageRules = config.kindRules.IMAGE ?? {};
  const kinds = new KindRegistry(config.kindLimits, {
    ...config.kindRules,
    IMAGE: { ...imageRules, maxPixels: Math.min(imageRules.maxPixels ?? Infinity, config.image.maxPixels) },
  });
  const deletions = new DeletionQueue(db.prisma, storages, { log });
  const relations = new RelationService(db.prisma, config.relationModels);
  const queue = new JobQueue(db.prisma, { leaseMs: config.jobs.leaseMs, query: db.query });
  const pools = new Map<QueueName, WorkerPool>();
  const notifyWork = (name: QueueName, jobIds?: readonly string[]) => pools.get(name)?.notifyWork(jobIds);
  const scratch = new ScratchSpace(scratchRootOf(config.dataDir));
  // The tools' own words about a failure name server paths: they go to the log, not to clients.
  const ffmpeg = { ffmpegPath: config.ffmpeg.ffmpegPath, timeoutMs: config.versions.transcodeTimeoutMs, log };
  const ffprobe = { ffprobePath: config.ffmpeg.ffprobePath, timeoutMs: config.ffmpeg.probeTimeoutMs, log };
  const versions = new VersionService({
    prisma: db.prisma,
    query: db.query,
    storages,
    kinds,
    presets: config.versions.presets,
    queue,
    transcoders: defaultTranscoders({
      image: { maxPixels: config.image.maxPixels, timeoutSeconds: config.versions.imageTimeoutSeconds, log },
      ffmpeg,
    }),
    settings: {
      transforms: config.versions.transforms,
      maxTransformSize: config.versions.maxTransformSize,
      posterPositions: config.versions.posterPositions,
      ffprobe,
    },
    scratch,
    notifyWork,
    log,
  });
  const shelves = new ShelfService({
    prisma: db.prisma,
    query: db.query,
    storages,
    kinds,
    deletions,
    relations,
    versions,
    notifyWork,
    staging: { image: { ...config.image, log }, ffprobe, scratch },
  });
  const thumbnails = new ThumbnailService({
    prisma: db.prisma,
    shelves,
    kinds,
    queue,
    storages,
    positions: config.versions.posterPositions,
    ffmpeg,
    scratch,
    log,
  });
  const handle = (job: Parameters<VersionService["runJob"]>[0], abort: AbortSignal) =>
    job.type === "posters" ? thumbnails.runJob(job, abort) : versions.runJob(job, abort);
  const poolOptions = { pollMs: config.jobs.pollMs, leaseMs: config.jobs.leaseMs, log };
  pools.set("image", new WorkerPool("image", queue, handle, { ...poolOptions, concurrency: config.jobs.imageConcurrency }));
  pools.set("av", new WorkerPool("av", queue, handle, { ...poolOptions, concurrency: config.jobs.avConcurrency }));
  const workers = [...pools.values()].filter((p) => p.concurrency > 0);
  // Listens to the database only once something subscribes: workers and the CLI never do.
  const events = new ShelfEvents(db.listen, { log });
  return {
    scratch,
    services: { storages, kinds, shelves, relations, listing: new ShelfListing(db, relations), deletions, versions, thumbnails, events },
    workers,
    async close() {
      await events.close();
      await Promise.all(workers.map((w) => w.stop()));
      await deletions.stop();
      storages.close();
    },
  };
}
