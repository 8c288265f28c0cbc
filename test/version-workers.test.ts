import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { describe, test } from "node:test";
import sharp from "sharp";
import { uploadShelf } from "./helpers/graphql.js";
import { makeImage } from "./helpers/media.js";
import { DEFAULT_VERSIONS, databaseFlavours, startTestServer, type TestServer } from "./helpers/server.js";
import { waitFor, version, settledVersion, fetchBytes } from "./helpers/versions.js";

/** Versions made by other processes on one database: a worker process, two services. */
describe("versions across processes and recipes", () => {
  test("npm run worker makes the versions a service without workers queues", async (t) => {
    if (!(await databaseFlavours()).includes("postgresql")) return t.skip("needs PostgreSQL");
    const service = await startTestServer("postgresql", { ...DEFAULT_VERSIONS, JOBS_IMAGE_CONCURRENCY: "0", JOBS_AV_CONCURRENCY: "0" });
    const worker = spawn("npm", ["run", "--silent", "worker"], {
      cwd: path.resolve(import.meta.dirname, ".."),
      env: { ...process.env, ...DEFAULT_VERSIONS, NODE_ENV: "test", DATA_DIR: path.join(service.sandbox, "worker"), DATABASE_URL: service.databaseUrl!, MEDIA_ROOT: service.mediaRoot, JOBS_POLL_MS: "200", JOBS_IMAGE_CONCURRENCY: "2" },
      detached: true,
    });
    let output = "";
    worker.stdout.on("data", (d) => (output += d));
    worker.stderr.on("data", (d) => (output += d));
    try {
      const shelf = await uploadShelf(service.url, await makeImage(640, 480, "jpeg"), "queued.jpg");
      const thumb = await settledVersion(service, shelf.id, "thumb");
      assert.equal(thumb.status, "READY");
      assert.equal(service.app.services.versions.generations, 0, "the service made nothing itself");
      assert.match(output, /worker running: image ×2, av ×1/);
      // The worker logs once its statement has returned, a moment after the row reads READY.
      const made = new RegExp(`made version thumb of shelf ${shelf.id}`);
      await waitFor("the worker's log line", async () => (made.test(output) ? true : undefined), 10_000);
      assert.equal((await sharp(await service.readStored(thumb.name)).metadata()).width, 200);
    } finally {
      process.kill(-worker.pid!, "SIGTERM");
      await new Promise((r) => worker.once("exit", r));
      await service.close();
    }
  });

  test("50 concurrent requests split over two processes on one database make the version once", async (t) => {
    if (!(await databaseFlavours()).includes("postgresql")) return t.skip("needs PostgreSQL");
    const signing = { MEDIA_SIGNING_KEY: "k".repeat(40) };
    const a = await startTestServer("postgresql", { ...DEFAULT_VERSIONS, ...signing });
    const port = 20000 + Math.floor(Math.random() * 20000);
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: path.resolve(import.meta.dirname, ".."),
      env: {
        ...process.env, ...DEFAULT_VERSIONS, ...signing,
        NODE_ENV: "test", PORT: String(port), DATA_DIR: path.join(a.sandbox, "second"),
        DATABASE_URL: a.databaseUrl!, MEDIA_ROOT: a.mediaRoot,
      },
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const b = { url: `http://127.0.0.1:${port}` } as TestServer;
    try {
      await waitFor("the second process", async () => (output.includes("listening on") ? true : undefined), 60_000);
      const shelf = await uploadShelf(a.url, await makeImage(1600, 1200, "jpeg"), "shared.jpg");
      await settledVersion(a, shelf.id, "thumb");
      const before = a.app.services.versions.generations;
      const asked = await Promise.all(Array.from({ length: 50 }, (_, i) => version(i % 2 ? b : a, shelf.id, "medium")));
      assert.equal(new Set(asked.map((v) => v.id)).size, 1);
      const served = await Promise.all(asked.map((v, i) => fetchBytes(i % 2 ? b : a, v.url)));
      assert.deepEqual(new Set(served.map((r) => r.status)), new Set([200]));
      const inA = a.app.services.versions.generations - before;
      const inB = output.split("\n").filter((l) => l.includes(`made version medium of shelf ${shelf.id}`)).length;
      assert.equal(inA + inB, 1, `made ${inA} times in the first process and ${inB} in the second`);
      assert.equal(await a.app.db.prisma.mediaFile.count({ where: { shelfId: shelf.id, variant: "medium" } }), 1);
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      await a.close();
    }
  });
});
