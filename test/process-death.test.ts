import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { ShelfVersionDocument } from "./generated/graphql.js";
import { gql, uploadShelf } from "./helpers/graphql.js";
import { makeAv } from "./helpers/media.js";

interface ProcessInfo {
  pid: number;
  ppid: number;
  state: string;
  comm: string;
}

/** Every process on the machine, from /proc (the parent pid and state are in /proc/<pid>/stat). */
async function processes(): Promise<ProcessInfo[]> {
  const found: ProcessInfo[] = [];
  for (const entry of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await fs.readFile(`/proc/${entry}/stat`, "utf8").catch(() => undefined);
    if (!stat) continue;
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split at the last ")".
    const close = stat.lastIndexOf(")");
    const [state, ppid] = stat.slice(close + 2).split(" ");
    found.push({ pid: Number(entry), ppid: Number(ppid), state: state!, comm: stat.slice(stat.indexOf("(") + 1, close) });
  }
  return found;
}

/** True while `pid` runs (a zombie has ended: it only waits to be reaped). */
async function running(pid: number): Promise<boolean> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  return stat !== undefined && stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("a service killed mid-transcode", () => {
  it("takes its ffmpeg with it", async () => {
    const sandbox = await fs.mkdtemp(path.join(os.tmpdir(), "media-death-"));
    const port = 20000 + Math.floor(Math.random() * 20000);
    const service = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: path.resolve(import.meta.dirname, ".."),
      env: {
        ...process.env,
        NODE_ENV: "test",
        PORT: String(port),
        DATA_DIR: path.join(sandbox, "data"),
        MEDIA_PRESETS: JSON.stringify({ IMAGE: { thumb: { eager: false } }, VIDEO: { "mp4-720p": { eager: false } } }),
        VIDEO_POSTER_POSITIONS: "",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    service.stdout.on("data", (d) => (output += d));
    service.stderr.on("data", (d) => (output += d));
    const exited = new Promise((r) => service.once("exit", r));
    let ffmpeg: ProcessInfo | undefined;
    try {
      await waitFor("the service", async () => (output.includes("listening on") ? true : undefined), 90_000);
      const url = `http://127.0.0.1:${port}`;
      // Long enough that VP9 takes many seconds over it.
      const video = await makeAv("long.mp4", [
        "-f", "lavfi", "-i", "testsrc=duration=60:size=640x480:rate=25",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
      ]);
      const shelf = await uploadShelf(url, video, "long.mp4");
      const asked = await gql(url, ShelfVersionDocument, { id: shelf.id, preset: "webm-720p" });
      assert.equal(asked.errors, undefined, JSON.stringify(asked.errors));
      ffmpeg = await waitFor(
        "the service's ffmpeg",
        async () => (await processes()).find((p) => p.ppid === service.pid && p.comm === "ffmpeg"),
        30_000,
      );
      service.kill("SIGKILL");
      await exited;
      const gone = await waitFor("ffmpeg to end", async () => ((await running(ffmpeg!.pid)) ? undefined : true), 2_000).catch(() => false);
      assert.equal(gone, true, `ffmpeg (pid ${ffmpeg.pid}) outlived the service that started it`);
    } finally {
      if (service.exitCode === null && service.signalCode === null) {
        service.kill("SIGKILL");
        await exited;
      }
      // Before the fix the orphan runs on: it is this test's to stop.
      if (ffmpeg && (await running(ffmpeg.pid))) process.kill(ffmpeg.pid, "SIGKILL");
      await fs.rm(sandbox, { recursive: true, force: true });
    }
  });
});
