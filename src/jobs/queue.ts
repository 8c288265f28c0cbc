import { randomUUID } from "node:crypto";
import type { DirectQuery, PrismaClient, Transaction } from "../db/client.js";
import { Prisma } from "../db/generated/client.js";

export type QueueName = "image" | "av";
export type JobType = "version" | "posters";

export interface NewJob {
  /** Made here when not given; a caller that announces the job to its workers names it. */
  id?: string;
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

/** Attempts a job gets when storage or the database fail under it (bad input fails at once). */
export const MAX_ATTEMPTS = 3;

/** Wait before attempt `attempts + 1`: 5 s, 10 s, 20 s, … */
export function backoffMs(attempts: number): number {
  return 5_000 * 2 ** Math.max(0, attempts - 1);
}

export interface QueueOptions {
  /** How long a claim lasts without a heartbeat; a worker that died loses its jobs after this. */
  leaseMs: number;
  /** Runs claims, the statement every job made starts with, through the driver itself. */
  query: DirectQuery;
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

  /** Adds jobs in `tx`; a second job for a file that already has one is skipped (single flight). True when any was added. */
  async enqueue(tx: Transaction | PrismaClient, jobs: NewJob[]): Promise<boolean> {
    if (jobs.length === 0) return false;
    const { count } = await tx.job.createMany({
      data: jobs.map((j) => ({ ...j, id: j.id ?? randomUUID(), priority: j.priority ?? 0 })),
      skipDuplicates: true,
    });
    return count > 0;
  }

  /**
   * The INSERT of `job` for each row of `source` (a table a statement made before it, such as
   * its CTE), the job's file being that row's `"id"`: for statements that make a row and its
   * job in one round trip.
   */
  insertionFrom(source: string, job: Omit<NewJob, "fileId">): Prisma.Sql {
    return Prisma.sql`INSERT INTO "Job" ("id", "queue", "type", "shelfId", "fileId", "recipe", "priority")
      SELECT ${job.id ?? randomUUID()}::uuid, ${job.queue}, ${job.type}, ${job.shelfId}::uuid, ${Prisma.raw(`"${source}"."id"`)}, ${job.recipe ?? null}, ${job.priority ?? 0}::int
      FROM ${Prisma.raw(`"${source}"`)}`;
  }

  /** Takes the most urgent due job of `queue`, or null. Times are the database's, shared by every process. */
  async claim(queue: QueueName): Promise<ClaimedJob | null> {
    const leaseMs = this.options.leaseMs;
    const rows = await this.options.query<ClaimedJob>(Prisma.sql`
      UPDATE "Job" SET "lockedBy" = ${this.workerId}, "lockedUntil" = now() + ${leaseMs}::int * interval '1 millisecond', "attempts" = "attempts" + 1
      WHERE "id" = (
        SELECT "id" FROM "Job"
        WHERE "queue" = ${queue} AND "runAfter" <= now() AND ("lockedUntil" IS NULL OR "lockedUntil" < now())
        ORDER BY "priority" DESC, "runAfter", "createdAt"
        LIMIT 1
        FOR UPDATE SKIP LOCKED
      )
      RETURNING "id", "queue", "type", "shelfId", "fileId", "recipe", "attempts"`);
    return rows[0] ?? null;
  }

  /** Renews a claim; false when it is no longer ours (it expired and someone else took it). */
  async heartbeat(jobId: string): Promise<boolean> {
    const count = await this.prisma.$executeRaw`
      UPDATE "Job" SET "lockedUntil" = now() + ${this.options.leaseMs} * interval '1 millisecond'
      WHERE "id" = ${jobId}::uuid AND "lockedBy" = ${this.workerId}`;
    return count > 0;
  }

  /**
   * Removes a finished job, inside the transaction that records its result; false when the job
   * is no longer this worker's (its lease ran out and another took it), and the caller must then
   * roll back rather than record a second result.
   */
  async complete(tx: Transaction | PrismaClient, jobId: string): Promise<boolean> {
    const { count } = await tx.job.deleteMany({ where: { id: jobId, lockedBy: this.workerId } });
    return count > 0;
  }

  /**
   * The DELETE that completes a job, for a statement that records its result: it deletes the
   * job only while it is this worker's and `condition` holds, and returns a row when it did.
   */
  completion(jobId: string, condition: Prisma.Sql): Prisma.Sql {
    return Prisma.sql`DELETE FROM "Job" WHERE "id" = ${jobId}::uuid AND "lockedBy" = ${this.workerId} AND ${condition} RETURNING 1`;
  }

  /** Gives a job back, to run again after `delayMs` (0: at once, say when this process stops). */
  async retryLater(jobId: string, delayMs: number, error?: string): Promise<void> {
    await this.prisma.$executeRaw`
      UPDATE "Job" SET "lockedBy" = NULL, "lockedUntil" = NULL, "runAfter" = now() + ${delayMs} * interval '1 millisecond',
        "lastError" = COALESCE(${error ?? null}, "lastError")
      WHERE "id" = ${jobId}::uuid AND "lockedBy" = ${this.workerId}`;
  }

  /** Hands a job back untried (this process is stopping): the attempt does not count. */
  async release(jobId: string): Promise<void> {
    await this.prisma.$executeRaw`
      UPDATE "Job" SET "lockedBy" = NULL, "lockedUntil" = NULL, "attempts" = GREATEST("attempts" - 1, 0)
      WHERE "id" = ${jobId}::uuid AND "lockedBy" = ${this.workerId}`;
  }
}
