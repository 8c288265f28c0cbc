import { EventEmitter } from "node:events";
import type { MediaFile } from "../../db/generated/client.js";
import type { DirectQuery, PrismaClient } from "../../db/client.js";
import type { QueueName } from "../../jobs/queue.js";
import { prioritizeJobOfFileSql, type PrioritizedJob } from "../sql/versions.js";

export interface VersionWaitingDeps {
  prisma: PrismaClient;
  query: DirectQuery;
  /** Tells this process's workers that a queue has new work. */
  notifyWork: (queue: QueueName, jobIds?: readonly string[]) => void;
}

/**
 * Who waits on which version in this process, and which versions this process is making: the
 * job runner says when it starts and ends one, a waiting request hears at once (other
 * processes' results are found by polling).
 */
export class VersionWaiting {
  private readonly settled = new EventEmitter().setMaxListeners(0);
  /** Files whose job runs in this process now. */
  private readonly makingHere = new Set<string>();

  constructor(private readonly deps: VersionWaitingDeps) {}

  /** The job for `fileId` runs in this process from now. */
  started(fileId: string): void {
    this.makingHere.add(fileId);
  }

  /** The job for `fileId` ended here, with the row as recorded (undefined: not recorded). */
  ended(fileId: string, made: MediaFile | undefined): void {
    this.makingHere.delete(fileId);
    this.settled.emit(fileId, made);
  }

  /**
   * Someone is waiting on `file` (the media route): its job goes first, and the promise settles
   * when the file is READY or FAILED, or after `timeoutMs`, with the row as it then is.
   */
  async awaitFile(file: MediaFile, timeoutMs: number): Promise<MediaFile | null> {
    // A job this process runs is under way already; only a waiting one needs moving up.
    if (!this.makingHere.has(file.id)) {
      const [prioritized] = await this.deps.query<PrioritizedJob>(prioritizeJobOfFileSql(file.id));
      if (prioritized) this.deps.notifyWork(prioritized.queue, [prioritized.id]);
    }
    const deadline = Date.now() + timeoutMs;
    let current: MediaFile | null = file;
    for (;;) {
      if (!current || current.status === "READY" || current.status === "FAILED") return current;
      const left = deadline - Date.now();
      if (left <= 0) return current;
      const announced = await new Promise<MediaFile | undefined>((resolve) => {
        const done = (row?: MediaFile) => {
          clearTimeout(timer);
          this.settled.off(file.id, done);
          resolve(row);
        };
        // Made here, its end is announced whatever it is; made elsewhere, only the row tells.
        const timer = setTimeout(done, this.makingHere.has(file.id) ? left : Math.min(left, 250));
        this.settled.on(file.id, done);
      });
      current = announced ?? (await this.deps.prisma.mediaFile.findUnique({ where: { id: file.id } }));
    }
  }
}
