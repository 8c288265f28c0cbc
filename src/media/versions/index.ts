import type { MediaFile, Shelf } from "../../db/generated/client.js";
import type { MediaKind } from "../../db/generated/enums.js";
import type { DirectQuery, PrismaClient, Transaction } from "../../db/client.js";
import type { ClaimedJob, JobQueue, QueueName } from "../../jobs/queue.js";
import type { StorageRegistry } from "../../storage/registry.js";
import type { PresetCatalog } from "../../transcode/presets.js";
import type { Transcoder } from "../../transcode/transcoders.js";
import type { KindRegistry } from "../kinds.js";
import type { ScratchSpace } from "../scratch.js";
import { VersionCatalogue, type TransformInput, type TransformSettings } from "./catalogue.js";
import { VersionJob } from "./job.js";
import { VersionRequests } from "./requests.js";
import { VersionWaiting } from "./waiting.js";

export { parseVersionName, versionName } from "./names.js";
export { MAX_TRANSFORMS_PER_SHELF } from "./requests.js";
export type { TransformInput } from "./catalogue.js";

export interface VersionSettings extends TransformSettings {
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
  scratch: ScratchSpace;
  /** Tells this process's workers that a queue has new work: the jobs `jobIds`, or an unknown number. */
  notifyWork: (queue: QueueName, jobIds?: readonly string[]) => void;
  log: (message: string) => void;
}

/**
 * Versions of shelves as the layers above see them: planned eagerly at upload or made the first
 * time they are asked for, once, and recorded only if their shelf still exists when they are
 * done. The work is the catalogue's (which versions, pure), the requests' (find or create), the
 * job's (make and record) and the waiting's (who hears when).
 */
export class VersionService {
  private readonly catalogue: VersionCatalogue;
  private readonly requests: VersionRequests;
  private readonly waiting: VersionWaiting;
  private readonly job: VersionJob;

  constructor(deps: VersionServiceDeps) {
    this.catalogue = new VersionCatalogue(deps.presets, deps.settings);
    this.requests = new VersionRequests({ ...deps, catalogue: this.catalogue, posterPositions: deps.settings.posterPositions });
    this.waiting = new VersionWaiting(deps);
    this.job = new VersionJob({ ...deps, ffprobe: deps.settings.ffprobe, waiting: this.waiting });
  }

  /** Versions made by this process (the single-flight checks count them). */
  get generations(): number {
    return this.job.generations;
  }

  planEager(tx: Transaction, shelf: Pick<Shelf, "id" | "kind" | "thumbnailOfId">): Promise<QueueName[]> {
    return this.requests.planEager(tx, shelf);
  }

  presetsOf(kind: MediaKind): Array<{ name: string; eager: boolean; mimeType: string }> {
    return this.catalogue.presetsOf(kind);
  }

  currentIn(files: readonly MediaFile[], kind: MediaKind, presetName: string): MediaFile | undefined {
    return this.catalogue.currentIn(files, kind, presetName);
  }

  version(shelf: Shelf, presetName: string, files?: readonly MediaFile[]): Promise<MediaFile> {
    return this.requests.version(shelf, presetName, files);
  }

  transform(shelf: Shelf, input: TransformInput, files: readonly MediaFile[]): Promise<MediaFile> {
    return this.requests.transform(shelf, input, files);
  }

  isStale(file: Pick<MediaFile, "role" | "preset" | "recipe">, kind: MediaKind): boolean {
    return this.catalogue.isStale(file, kind);
  }

  schedule(shelf: Shelf, presetName: string, current: MediaFile | null, options: { onlyMissing?: boolean; staleOnly?: boolean } = {}): Promise<boolean> {
    return this.requests.schedule(shelf, presetName, current, options);
  }

  awaitFile(file: MediaFile, timeoutMs: number): Promise<MediaFile | null> {
    return this.waiting.awaitFile(file, timeoutMs);
  }

  runJob(job: ClaimedJob, abort?: AbortSignal): Promise<void> {
    return this.job.run(job, abort);
  }
}
