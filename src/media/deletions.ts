import type { PrismaClient } from "../db/client.js";
import type { StorageRegistry } from "../storage/registry.js";
import { CoalescedRun } from "../jobs/coalesced.js";

export interface DeletionQueueOptions {
  /** How often due deletions are looked for when nothing announces work. */
  pollMs?: number;
  batchSize?: number;
  /** First retry delay; doubles per attempt up to `maxBackoffMs`. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  log?: (message: string) => void;
}

/**
 * Carries out the storage deletions recorded by committed transactions, retrying with backoff
 * until each is done. Deleting a missing object is silent, so running a row twice (two service
 * instances, a crash after the delete) is harmless.
 */
export class DeletionQueue {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly runs = new CoalescedRun(
    () => this.drain(),
    (err) => this.options.log?.(`Deleting stored files failed: ${(err as Error).message}`),
  );

  constructor(
    private readonly prisma: PrismaClient,
    private readonly storages: StorageRegistry,
    private readonly options: DeletionQueueOptions = {},
  ) {}

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => this.notifyWork(), this.options.pollMs ?? 10_000);
    this.timer.unref();
    this.notifyWork();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.runs.idle();
  }

  /** Runs due deletions now (or right after the current run). */
  notifyWork(): void {
    if (!this.stopped) this.runs.request();
  }

  /** Resolves once no run is in progress (tests wait on it). */
  idle(): Promise<void> {
    return this.runs.idle();
  }

  /** Deletes every object that is due, a batch at a time. */
  async drain(): Promise<void> {
    const batchSize = this.options.batchSize ?? 100;
    for (;;) {
      const due = await this.prisma.storageDeletion.findMany({
        where: { notBefore: { lte: new Date() } },
        orderBy: { id: "asc" },
        take: batchSize,
      });
      let failures = 0;
      for (const row of due) {
        try {
          await this.storages.get(row.storage).delete(row.name);
          await this.prisma.storageDeletion.deleteMany({ where: { id: row.id } });
        } catch (err) {
          failures++;
          const base = this.options.baseBackoffMs ?? 1_000;
          const delay = Math.min(base * 2 ** row.attempts, this.options.maxBackoffMs ?? 300_000);
          await this.prisma.storageDeletion.update({
            where: { id: row.id },
            data: {
              attempts: { increment: 1 },
              lastError: String((err as Error).message).slice(0, 1000),
              notBefore: new Date(Date.now() + delay),
            },
          });
          this.options.log?.(`Deleting ${row.storage}:${row.name} failed (attempt ${row.attempts + 1}), retrying in ${delay} ms`);
        }
      }
      if (due.length < batchSize || failures === due.length || this.stopped) return;
    }
  }

  pending(): Promise<number> {
    return this.prisma.storageDeletion.count();
  }
}
