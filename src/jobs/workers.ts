import { CoalescedRun } from "./coalesced.js";
import type { ClaimedJob, JobQueue, QueueName } from "./queue.js";

/**
 * Runs one claimed job to its end: it records its own result, retry or failure. When `signal`
 * aborts it stops its work: the process is stopping (it hands the job back with `release`), or,
 * with a `LeaseLost` reason, its claim is gone (another worker's now, or deleted with its shelf),
 * and it leaves the job and its rows alone.
 */
export type JobHandler = (job: ClaimedJob, signal: AbortSignal) => Promise<void>;

/** The abort reason of a job whose claim a heartbeat found gone (taken over, or deleted): its result would be refused. */
export class LeaseLost extends Error {
  constructor(jobId: string) {
    super(`The claim on job ${jobId} was lost`);
    this.name = "LeaseLost";
  }
}

export interface WorkerOptions {
  /** Jobs of this queue run at once in this process. */
  concurrency: number;
  /** How often to look for work that other processes queued (this process's own work is announced). */
  pollMs: number;
  leaseMs: number;
  log: (message: string) => void;
}

/**
 * One queue's workers in this process: at most `concurrency` jobs at a time, each claim renewed
 * while it runs. Several pools (one per queue) keep long videos from holding up image thumbnails.
 */
export class WorkerPool {
  private readonly running = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private readonly fills = new CoalescedRun(
    () => this.claimWhileFree(() => !this.stopped),
    (err) => this.options.log(`${this.queue} jobs: claiming failed: ${(err as Error).message}`),
  );
  private abort = new AbortController();
  /** Jobs this process queued and announced by id, not claimed here yet. */
  private readonly announced = new Set<string>();
  /** Whether the queue may hold due jobs nobody announced (other processes', retries, uploads): the timer sets it. */
  private unannounced = true;
  /** Counts notices, so a claim that found nothing knows whether work was announced while it ran. */
  private notices = 0;

  constructor(
    readonly queue: QueueName,
    private readonly jobs: JobQueue,
    private readonly handler: JobHandler,
    private readonly options: WorkerOptions,
  ) {}

  get concurrency(): number {
    return this.options.concurrency;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.abort = new AbortController();
    this.timer = setInterval(() => this.notifyWork(), this.options.pollMs);
    this.unannounced = true;
    this.timer.unref();
    this.notifyWork();
  }

  /**
   * Looks for work now: the jobs `jobIds` were just queued, or, without ids, an unknown number
   * (the queue is searched until it has none due). Ids spare the claim that finds nothing: the
   * pool stops claiming once it has taken every job announced to it.
   */
  notifyWork(jobIds?: readonly string[]): void {
    if (this.stopped) return;
    this.notices++;
    if (jobIds === undefined) this.unannounced = true;
    else for (const id of jobIds) this.announced.add(id);
    this.fills.request();
  }

  /** Stops claiming, stops the jobs under way (they run again elsewhere or after a restart) and waits for them. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.fills.idle();
    this.abort.abort();
    await Promise.allSettled([...this.running]);
  }

  /** Runs jobs until none is due (for commands that do the work themselves), then stops. */
  async drain(): Promise<void> {
    for (;;) {
      this.unannounced = true;
      await this.claimWhileFree(() => true);
      if (this.running.size === 0) return;
      await Promise.race([...this.running]);
    }
  }

  /** Claims and starts jobs while a slot is free, a job may be due and `go()` holds. */
  private async claimWhileFree(go: () => boolean): Promise<void> {
    while (go() && (this.announced.size > 0 || this.unannounced)) {
      // Full: the next job to end looks again, for what is still announced or unannounced.
      if (this.running.size >= this.options.concurrency) return;
      const noticesBefore = this.notices;
      const job = await this.jobs.claim(this.queue);
      if (!job) {
        // Nothing due: announced jobs were taken elsewhere. A notice during the claim may name
        // a job the claim could not see yet; the run it asked for looks again.
        if (this.notices === noticesBefore) {
          this.announced.clear();
          this.unannounced = false;
        }
        return;
      }
      this.announced.delete(job.id);
      this.run(job);
    }
  }

  private run(job: ClaimedJob): void {
    // Its own signal, so a lost claim stops this job alone; the pool's stops every job.
    const lease = new AbortController();
    // Renewing at a third of the lease survives one missed beat. A beat that finds the claim
    // gone stops the work at once: another worker has the job, or the job went with its shelf,
    // and this one's result would be refused either way.
    const beat = setInterval(() => {
      this.jobs.heartbeat(job.id).then(
        (held) => {
          if (held || lease.signal.aborted) return;
          this.options.log(`${job.type} job ${job.id}: its claim is gone (another worker took it, or its shelf was deleted); stopping it`);
          lease.abort(new LeaseLost(job.id));
        },
        () => {},
      );
    }, Math.max(1000, Math.floor(this.options.leaseMs / 3)));
    const task = this.handler(job, AbortSignal.any([this.abort.signal, lease.signal]))
      .catch((err: unknown) => {
        // The handler records its own failures; reaching here means even that failed (say the
        // database went away). The lease runs out and the job is taken again.
        this.options.log(`${job.type} job ${job.id} stopped: ${(err as Error).message}`);
      })
      .finally(() => {
        clearInterval(beat);
        this.running.delete(task);
        // A slot is free: claim again only if jobs are known or may be waiting.
        if (!this.stopped) this.fills.request();
      });
    this.running.add(task);
  }
}
