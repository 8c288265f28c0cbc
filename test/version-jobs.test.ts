import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { describe, test } from "node:test";
import sharp from "sharp";
import { DeleteShelfDocument } from "./generated/graphql.js";
import { gql, uploadShelf } from "./helpers/graphql.js";
import { makeImage, makeMp3, makeMp4 } from "./helpers/media.js";
import { DEFAULT_VERSIONS, listFiles, startTestServer } from "./helpers/server.js";
import { fetchBytes, retriedJob, run, settledVersion, version, waitFor } from "./helpers/versions.js";

/** Version jobs: pending answers, retries, crashes, stops, lost claims, deletes while a job runs, scratch space. */
describe("version jobs", () => {
  test("audio and video versions being made answer 202 with Retry-After", async () => {
    const server = await startTestServer("pglite", { ...DEFAULT_VERSIONS, JOBS_AV_CONCURRENCY: "0" });
    try {
      const shelf = await uploadShelf(server.url, await makeMp3(1), "tone.mp3");
      const pending = await version(server, shelf.id, "opus-96k");
      assert.equal(pending.status, "PENDING");
      assert.equal(pending.size, null);
      const res = await fetchBytes(server, pending.url);
      assert.equal(res.status, 202);
      assert.equal(res.headers.get("retry-after"), "5");
      assert.deepEqual(JSON.parse(res.body.toString()), { status: "PENDING", progress: null });
    } finally {
      await server.close();
    }
  });

  test("a version whose scratch directory cannot be made is retried, not failed", async () => {
    const server = await startTestServer("pglite", DEFAULT_VERSIONS);
    // The service's scratch folder cannot be made: a file holds its name.
    const scratchDir = path.join(server.dataDir, "scratch", String(process.pid));
    try {
      const shelf = await uploadShelf(server.url, await makeMp3(1), "tone.mp3");
      // The machine's scratch space is gone: nothing about the audio is wrong.
      await fs.rm(scratchDir, { recursive: true, force: true });
      await fs.mkdir(path.dirname(scratchDir), { recursive: true });
      await fs.writeFile(scratchDir, "in the way");
      const pending = await version(server, shelf.id, "opus-96k");
      const prisma = server.app.db.prisma;
      const job = await retriedJob(server, pending.id);
      assert.equal(job.attempts, 1);
      assert.match(job.lastError!, /No scratch directory for the version/);
      assert.equal(job.lockedBy, null);
      assert.ok(job.runAfter > new Date(), "it runs again after a backoff");
      const file = await prisma.mediaFile.findUniqueOrThrow({ where: { id: pending.id } });
      assert.equal(file.status, "PENDING");
    } finally {
      await fs.rm(scratchDir, { force: true });
      await server.close();
    }
  });

  test("a version whose storage fails before reading it is retried and leaves no file open", async () => {
    const server = await startTestServer("pglite", DEFAULT_VERSIONS);
    try {
      const shelf = await uploadShelf(server.url, await makeMp3(1), "tone.mp3");
      // The shelf's versions directory cannot be made: a file holds its name.
      await fs.mkdir(path.join(server.mediaRoot, "versions"), { recursive: true });
      await fs.writeFile(path.join(server.mediaRoot, "versions", shelf.id), "in the way");
      const pending = await version(server, shelf.id, "mp3-128k");
      const prisma = server.app.db.prisma;
      const job = await retriedJob(server, pending.id);
      assert.equal(job.attempts, 1);
      assert.equal((await prisma.mediaFile.findUniqueOrThrow({ where: { id: pending.id } })).status, "PENDING");
      const scratchFiles = [];
      for (const fd of await fs.readdir("/proc/self/fd")) {
        const target = await fs.readlink(`/proc/self/fd/${fd}`).catch(() => "");
        if (target.includes(`${path.sep}version-`)) scratchFiles.push(target);
      }
      assert.deepEqual(scratchFiles, [], "no scratch output is left open");
    } finally {
      await server.close();
    }
  });

  test("a job cut short by a crash runs again after restart", async () => {
    const sandboxEnv = { ...DEFAULT_VERSIONS, JOBS_IMAGE_CONCURRENCY: "0" };
    const first = await startTestServer("pglite", sandboxEnv);
    const dataDir = first.dataDir;
    const shelf = await uploadShelf(first.url, await makeImage(400, 300, "png"), "crash.png");
    const pending = await version(first, shelf.id, "small");
    // As a worker that died mid-job leaves it: claimed, PROCESSING, its lease run out.
    await first.app.db.prisma.job.updateMany({ data: { lockedBy: "dead-worker", lockedUntil: new Date(Date.now() - 1000), attempts: 1 } });
    await first.app.db.prisma.mediaFile.update({ where: { id: pending.id }, data: { status: "PROCESSING" } });
    await first.app.close();
    const second = await startTestServer("pglite", { ...DEFAULT_VERSIONS, DATA_DIR: dataDir });
    try {
      const ready = await settledVersion(second, shelf.id, "small");
      assert.equal(ready.status, "READY");
      assert.equal(ready.id, pending.id);
      assert.equal((await sharp((await fetchBytes(second, ready.url)).body).metadata()).width, 400);
      assert.equal(await second.app.db.prisma.job.count(), 0);
    } finally {
      await second.close();
      await fs.rm(first.sandbox, { recursive: true, force: true });
    }
  });

  test("stopping the service stops the transcode under way and hands its job back", async () => {
    const first = await startTestServer("pglite", DEFAULT_VERSIONS);
    try {
      const shelf = await uploadShelf(first.url, await makeMp4(8, "640x480"), "stop.mp4");
      const pending = await version(first, shelf.id, "webm-720p");
      await waitFor("webm under way", async () => {
        const row = await first.app.db.prisma.mediaFile.findUnique({ where: { id: pending.id } });
        return row?.status === "PROCESSING" ? true : undefined;
      });
      const started = Date.now();
      await first.app.close();
      assert.ok(Date.now() - started < 5000, `closing took ${Date.now() - started} ms`);
      const second = await startTestServer("pglite", { ...DEFAULT_VERSIONS, DATA_DIR: first.dataDir, JOBS_AV_CONCURRENCY: "0" });
      try {
        const job = await second.app.db.prisma.job.findUnique({ where: { fileId: pending.id } });
        assert.deepEqual([job?.lockedBy, job?.attempts], [null, 0], "handed back, the attempt not counted");
        const row = await second.app.db.prisma.mediaFile.findUnique({ where: { id: pending.id } });
        assert.equal(row?.status, "PENDING");
      } finally {
        await second.close();
      }
    } finally {
      await fs.rm(first.sandbox, { recursive: true, force: true });
    }
  });

  test("deleting a shelf while its version is made leaves no file and no row", async () => {
    const server = await startTestServer("pglite", DEFAULT_VERSIONS);
    try {
      const clip = await makeMp4(6, "640x480");
      const shelf = await uploadShelf(server.url, clip, "long.mp4");
      await version(server, shelf.id, "webm-720p");
      await waitFor("webm under way", async () => {
        const row = await server.app.db.prisma.mediaFile.findFirst({ where: { shelfId: shelf.id, preset: "webm-720p" } });
        return row?.status === "PROCESSING" ? true : undefined;
      });
      const deleted = await gql(server.url, DeleteShelfDocument, { id: shelf.id });
      assert.equal(deleted.data?.deleteShelf.deleted, true);
      // The job under way finishes after the delete, finds no shelf and removes what it made;
      // or its next heartbeat finds its job gone with the shelf and stops it first.
      const ended = (l: string) => l.includes("was made after its shelf was deleted") || l.includes("its job is no longer this worker's");
      await waitFor("the job under way to end", async () => (server.logs.some(ended) ? true : undefined), 120_000).catch((err) => { throw new Error(`${err.message}; logs: ${server.logs.slice(-8).join(" / ")}`); });
      await waitFor("deletions", async () => ((await server.app.db.prisma.storageDeletion.count()) === 0 ? true : undefined));
      const left = (await listFiles(server.mediaRoot)).filter((f) => f.includes(shelf.id) || f.startsWith(".incoming"));
      assert.deepEqual(left, []);
      assert.equal(await server.app.db.prisma.mediaFile.count({ where: { shelfId: shelf.id } }), 0);
      assert.equal(await server.app.db.prisma.shelf.count({ where: { OR: [{ id: shelf.id }, { thumbnailOfId: shelf.id }] } }), 0);
    } finally {
      await server.close();
    }
  });

  test("a job whose claim another worker took stops its transcode at once and leaves the job and row alone", async () => {
    // No eager versions or poster frames: the one ffmpeg run is the version asked for.
    const server = await startTestServer("pglite", { JOBS_LEASE_MS: "3000" });
    try {
      const prisma = server.app.db.prisma;
      const shelf = await uploadShelf(server.url, await makeMp4(12, "640x480"), "lease.mp4");
      const pending = await version(server, shelf.id, "webm-720p");
      await waitFor("webm under way", async () => {
        const row = await prisma.mediaFile.findUnique({ where: { id: pending.id } });
        return row?.status === "PROCESSING" && (row.progress ?? 0) > 0 ? true : undefined;
      });
      const scratch = path.join(server.dataDir, "scratch", String(process.pid));
      assert.ok((await fs.readdir(scratch)).some((d) => d.startsWith("version-")), "the transcode writes under DATA_DIR/scratch");
      // As when this worker stalled past its lease and another took the job over.
      await prisma.job.updateMany({ where: { fileId: pending.id }, data: { lockedBy: "another-worker", lockedUntil: new Date(Date.now() + 600_000) } });
      const taken = Date.now();
      await waitFor("ffmpeg to stop", async () => ((await ffmpegChildren()).length === 0 ? true : undefined), 4000).catch((err: Error) => {
        throw new Error(`${err.message}; logs: ${server.logs.slice(-5).join(" / ")}`);
      });
      assert.ok(Date.now() - taken < 4000, `stopped ${Date.now() - taken} ms after the claim was lost`);
      await waitFor("the log line", async () => (server.logs.some((l) => l.includes("its job is no longer this worker's")) ? true : undefined), 5000);
      const job = await prisma.job.findUniqueOrThrow({ where: { fileId: pending.id } });
      assert.equal(job.lockedBy, "another-worker", "the job is the new owner's");
      const row = await prisma.mediaFile.findUniqueOrThrow({ where: { id: pending.id } });
      assert.equal(row.status, "PROCESSING", "the row is the new owner's to write");
      await waitFor("scratch removed", async () => ((await fs.readdir(scratch)).length === 0 ? true : undefined), 5000);
      assert.deepEqual((await listFiles(server.mediaRoot)).filter((f) => f.includes("webm-720p")), []);
    } finally {
      await server.close();
    }
  });

  test("scratch folders a killed process left are removed at start and by gc; a live process's are kept", async () => {
    const first = await startTestServer("pglite");
    await first.app.close();
    const scratch = path.join(first.dataDir, "scratch");
    const dead = await exitedPid();
    const live = spawn("sleep", ["60"]);
    const leftover = async (owner: number) => {
      const dir = path.join(scratch, String(owner), "version-abc123");
      await fs.mkdir(dir, { recursive: true });
      await fs.writeFile(path.join(dir, "out.webm"), Buffer.alloc(1024));
    };
    try {
      // This process's own pid too: a restarted container's first process has the pid it had.
      for (const owner of [dead, live.pid!, process.pid]) await leftover(owner);
      const second = await startTestServer("pglite", { DATA_DIR: first.dataDir });
      try {
        assert.deepEqual((await fs.readdir(scratch)).sort(), [String(live.pid)]);
        assert.ok(second.logs.some((l) => /removed 2 scratch folder/.test(l)), second.logs.join("\n"));
      } finally {
        await second.close();
      }
      await leftover(dead);
      const cli = { cwd: path.resolve(import.meta.dirname, ".."), env: { ...process.env, NODE_ENV: "test", DATA_DIR: first.dataDir } };
      const dry = await run(process.execPath, ["--import", "tsx", "src/cli/media.ts", "gc", "--dry-run"], cli);
      assert.match(dry.stdout, new RegExp(`would remove scratch folder ${dead}`));
      assert.deepEqual((await fs.readdir(scratch)).sort(), [String(dead), String(live.pid)].sort());
      const { stdout } = await run(process.execPath, ["--import", "tsx", "src/cli/media.ts", "gc"], cli);
      assert.match(stdout, new RegExp(`removed scratch folder ${dead}`));
      assert.deepEqual(await fs.readdir(scratch), [String(live.pid)]);
    } finally {
      live.kill();
      await fs.rm(first.sandbox, { recursive: true, force: true });
    }
  });
});

/** ffmpeg processes this process started and that still run. */
async function ffmpegChildren(): Promise<string[]> {
  const { stdout } = await run("ps", ["-o", "args=", "--ppid", String(process.pid)]).catch(() => ({ stdout: "" }));
  return stdout.split("\n").filter((l) => l.includes("ffmpeg"));
}

/** The pid of a process that has ended (and so is no one's now, short of reuse). */
async function exitedPid(): Promise<number> {
  const child = spawn("true");
  await new Promise((resolve) => child.once("exit", resolve));
  return child.pid!;
}
