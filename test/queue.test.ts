import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Prisma } from "../src/db/generated/client.js";
import { backoffMs, JobQueue } from "../src/jobs/queue.js";
import { databaseFlavours, startTestServer, type TestServer } from "./helpers/server.js";

/** The job queue on a real database, with the service's own workers off: only these calls claim. */
for (const flavour of await databaseFlavours()) {
  describe(`job queue (${flavour})`, () => {
    let server: TestServer;
    let shelfId: string;
    let a: JobQueue;
    let b: JobQueue;
    const prisma = () => server.app.db.prisma;

    before(async () => {
      server = await startTestServer(flavour, { JOBS_IMAGE_CONCURRENCY: "0", JOBS_AV_CONCURRENCY: "0" });
      shelfId = randomUUID();
      await prisma().shelf.create({ data: { id: shelfId, ownerId: "local", kind: "IMAGE", title: "t" } });
      // Two processes' queues on one database.
      a = new JobQueue(prisma(), { leaseMs: 60_000, query: server.app.db.query });
      b = new JobQueue(prisma(), { leaseMs: 60_000, query: server.app.db.query });
    });
    after(() => server.close());

    const add = async (queue: JobQueue, fields: { priority?: number; fileId?: string } = {}) => {
      const id = randomUUID();
      await queue.enqueue(prisma(), [{ id, queue: "image", type: "posters", shelfId, ...fields }]);
      return id;
    };
    const drain = async () => {
      await prisma().job.deleteMany({});
    };

    it("claims the most urgent due job once: a second claim gets the next one, or nothing", async () => {
      await drain();
      const low = await add(a);
      const high = await add(a, { priority: 5 });
      const first = await a.claim("image");
      const second = await b.claim("image");
      assert.deepEqual([first?.id, second?.id], [high, low]);
      assert.equal(first?.attempts, 1);
      assert.equal(await a.claim("image"), null);
      assert.equal(await a.claim("av"), null, "queues are apart");
    });

    it("a job of one file is queued once (single flight)", async () => {
      await drain();
      const fileId = randomUUID();
      await prisma().mediaFile.create({
        data: { id: fileId, shelfId, variant: "v", role: "VERSION", storage: "default", name: `n-${fileId}`, size: 0n, mimeType: "image/webp", checksum: "", status: "PENDING" },
      });
      const job = { queue: "image" as const, type: "version" as const, shelfId, fileId };
      assert.equal(await a.enqueue(prisma(), [job]), true);
      assert.equal(await a.enqueue(prisma(), [job]), false);
      assert.equal(await prisma().job.count({ where: { fileId } }), 1);
    });

    it("only the holder completes, renews or hands back a claim", async () => {
      await drain();
      const id = await add(a);
      assert.equal((await a.claim("image"))?.id, id);
      assert.equal(await b.heartbeat(id), false);
      assert.equal(await a.heartbeat(id), true);
      assert.equal(await b.complete(prisma(), id), false);
      await b.release(id);
      assert.equal((await prisma().job.findUniqueOrThrow({ where: { id } })).lockedBy, a.workerId);
      assert.equal(await a.complete(prisma(), id), true);
      assert.equal(await prisma().job.count({ where: { id } }), 0);
    });

    it("a retry waits its backoff and keeps its error; a release does not count the attempt", async () => {
      await drain();
      const id = await add(a);
      await a.claim("image");
      await a.retryLater(id, backoffMs(1), "storage down");
      const retried = await prisma().job.findUniqueOrThrow({ where: { id } });
      assert.deepEqual([retried.lockedBy, retried.lastError, retried.attempts], [null, "storage down", 1]);
      assert.ok(retried.runAfter.getTime() > Date.now() + 3_000, "not due before its backoff");
      assert.equal(await a.claim("image"), null);
      await prisma().job.update({ where: { id }, data: { runAfter: new Date(Date.now() - 1000) } });
      assert.equal((await b.claim("image"))?.attempts, 2);
      await b.release(id);
      const released = await prisma().job.findUniqueOrThrow({ where: { id } });
      assert.deepEqual([released.lockedBy, released.attempts], [null, 1]);
      assert.deepEqual([backoffMs(1), backoffMs(2), backoffMs(3)], [5_000, 10_000, 20_000]);
    });

    it("a claim whose lease ran out goes to the next worker, and the first can no longer finish it", async () => {
      await drain();
      const id = await add(a);
      await a.claim("image");
      await prisma().job.update({ where: { id }, data: { lockedUntil: new Date(Date.now() - 1000) } });
      assert.equal((await b.claim("image"))?.id, id);
      assert.equal(await a.heartbeat(id), false);
      assert.equal(await a.complete(prisma(), id), false);
      // The completion a statement embeds holds only for the holder, and only under its condition.
      const done = (queue: JobQueue, condition: Prisma.Sql) => server.app.db.query<{ "?column?": number }>(queue.completion(id, condition));
      assert.equal((await done(a, Prisma.sql`true`)).length, 0);
      assert.equal((await done(b, Prisma.sql`false`)).length, 0);
      assert.equal((await done(b, Prisma.sql`true`)).length, 1);
      assert.equal(await prisma().job.count({ where: { id } }), 0);
    });
  });
}
