import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { JobQueue, type ClaimedJob, type QueueName } from "../src/jobs/queue.js";
import { WorkerPool } from "../src/jobs/workers.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The real queue, whose claims answer late: what a claim saw is handed back after `delayMs`. */
class SlowClaims extends JobQueue {
  delayMs = 0;
  claims = 0;
  override async claim(queue: QueueName): Promise<ClaimedJob | null> {
    this.claims++;
    const job = await super.claim(queue);
    await sleep(this.delayMs);
    return job;
  }
}

/**
 * A pool told which jobs this process queued claims them at once, whatever else its claims meet
 * on the way; its timer (a minute here) is never what finds them.
 */
describe("worker pool claims", () => {
  let server: TestServer;
  let shelfId: string;
  let queue: SlowClaims;
  let pool: WorkerPool;
  const started: string[] = [];

  before(async () => {
    // The service's own workers are off: only the pool under test claims.
    server = await startTestServer("pglite", { JOBS_IMAGE_CONCURRENCY: "0", JOBS_AV_CONCURRENCY: "0", JOBS_POLL_MS: "60000" });
    const prisma = server.app.db.prisma;
    shelfId = randomUUID();
    await prisma.shelf.create({ data: { id: shelfId, ownerId: "local", kind: "IMAGE", title: "t" } });
    queue = new SlowClaims(prisma, { leaseMs: 60_000, query: server.app.db.query });
    pool = new WorkerPool(
      "image",
      queue,
      async (job) => {
        started.push(job.id);
        await queue.complete(prisma, job.id);
      },
      { concurrency: 2, pollMs: 60_000, leaseMs: 60_000, log: () => {} },
    );
  });

  after(async () => {
    await pool.stop();
    await server.close();
  });

  const add = async (priority = 0) => {
    const id = randomUUID();
    await queue.enqueue(server.app.db.prisma, [{ id, queue: "image", type: "version", shelfId, priority }]);
    return id;
  };
  const waitFor = async (ids: string[], ms = 3000) => {
    for (const deadline = Date.now() + ms; !ids.every((id) => started.includes(id)) && Date.now() < deadline; ) await sleep(10);
    return ids.filter((id) => !started.includes(id));
  };

  it("a job announced while a claim that found nothing is under way is claimed when that claim ends", async () => {
    queue.delayMs = 150;
    pool.start(); // its first claim looks before the job exists
    await sleep(30);
    const id = await add();
    pool.notifyWork([id]);
    assert.deepEqual(await waitFor([id]), [], "the announced job waits for the timer");
    queue.delayMs = 0;
  });

  it("an announced job is claimed even when another job (another process's, more urgent) is claimed first", async () => {
    await sleep(50);
    const before = queue.claims;
    const foreign = await add(10);
    const ours = await add(0);
    pool.notifyWork([ours]);
    assert.deepEqual(await waitFor([foreign, ours]), []);
    // The foreign job, ours, and one more look: nothing announced is left, so nothing more is claimed.
    await sleep(100);
    assert.ok(queue.claims - before <= 3, `${queue.claims - before} claims`);
  });

  it("announced jobs cost no claim that finds nothing", async () => {
    await sleep(50);
    const before = queue.claims;
    const id = await add();
    pool.notifyWork([id]);
    assert.deepEqual(await waitFor([id]), []);
    await sleep(100);
    assert.equal(queue.claims - before, 1);
  });
});
