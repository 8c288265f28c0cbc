import { randomUUID } from "node:crypto";
import type { PrismaClient, Transaction } from "../db/client.js";

export type QueueName = "image" | "av";
export type JobType = "version" | "posters";

export interface NewJob {
  queue: QueueName;
  type: JobType;
  shelfId: string;
  fileId?: string;
  recipe?: string;
  priority?: number;
}

export interface ClaimedJob {
  id: string;
  queue: QueueName;
  type: JobType;
  shelfId: string;
  fileId: string | null;
  recipe: string | null;
  attempts: number;
}

export interface QueueOptions {
  /** How long a claim lasts without a heartbeat; a worker that died loses its jobs after this. */
  leaseMs: number;
}

/**
 * Jobs in a database table, shared by every process on the database. A claim is one statement
 * (`FOR UPDATE SKIP LOCKED`), so two workers never take the same job; a lease that a crash lets
 * expire hands the job to the next worker. Jobs are inserted with the caller's transaction, so
 * a job exists exactly when the rows it fills do.
 */
export class JobQueue {
  /** Names this process's claims, so only the holder renews or finishes them. */
  readonly workerId = randomUUID();

  constructor(
    private readonly prisma: PrismaClient,
    private readonly options: QueueOptions,
  ) {}

  /** Adds jobs in `tx`; a second job for a file that already has one is skipped (single flight). */
  async enqueue(tx: Transaction | PrismaClient, jobs: NewJob[]): Promise<void> {
    if (jobs.length === 0) return;
    await tx.job.createMany({
      data: jobs.map((j) => ({ id: randomUUID(), ...j, priority: j.priority ?? 0 })),
      skipDuplicates: true,
    });
  }

  /** Takes the most urgent due job of `queue`, or null. `onlyId` takes that job only. */
  async claim(queue: QueueName, onlyId?: string): Promise<ClaimedJob | null> {
    const leaseMs = this.options.leaseMs;
    const rows = await this.prisma.$queryRaw<ClaimedJob[]>`
      UPDATE "Job" SET "lockedBy" = ${this.workerId}, "lockedUntil" = now() + ${leaseMs} * interval '1 millisecond', "attempts" = "attempts" + 1
      WHERE "id" = (
        SELECT "id" FROM "Job"
        WHERE "queue" = ${queue} AND "runAfter" <= now() AND ("lockedUntil" IS NULL OR "lockedUntil" < now())
          AND (${onlyId ?? null}::uuid IS NULL OR "id" = ${onlyId ?? null}::uuid)
        ORDER BY "priority" DESC, "runAfter", "createdAt"
        LIMIT 1
        FOR UPDATE SKIP LOCKED
      )
      RETURNING "id", "queue", "type", "shelfId", "fileId", "recipe", "attempts"`;
    return rows[0] ?? null;
  }

  /** Renews a claim; false when it is no longer ours (it expired and someone else took it). */
  async heartbeat(jobId: string): Promise<boolean> {
    const { count } = await this.prisma.job.updateMany({
      where: { id: jobId, lockedBy: this.workerId },
      data: { lockedUntil: new Date(Date.now() + this.options.leaseMs) },
    });
    return count > 0;
  }

  /** Removes a finished job (inside the transaction that records its result). */
  async complete(tx: Transaction | PrismaClient, jobId: string): Promise<void> {
    await tx.job.deleteMany({ where: { id: jobId } });
  }

  /** Gives a job back to run again after `delayMs`. */
  async retryLater(jobId: string, delayMs: number, error: string): Promise<void> {
    await this.prisma.job.updateMany({
      where: { id: jobId, lockedBy: this.workerId },
      data: { lockedBy: null, lockedUntil: null, runAfter: new Date(Date.now() + delayMs), lastError: error },
    });
  }

  /** Makes a waiting job the next to run (someone is waiting on it now). */
  async hurry(fileId: string): Promise<{ queue: QueueName; id: string } | null> {
    const job = await this.prisma.job.findUnique({ where: { fileId }, select: { id: true, queue: true } });
    if (!job) return null;
    await this.prisma.job.updateMany({ where: { id: job.id, lockedBy: null }, data: { priority: 10, runAfter: new Date() } });
    return { id: job.id, queue: job.queue as QueueName };
  }
}
