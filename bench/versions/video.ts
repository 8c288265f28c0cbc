import fsp from "node:fs/promises";
import path from "node:path";
import type { Config } from "../../src/config.js";
import type { VideoRecipe } from "../../src/transcode/presets.js";
import { runProgram } from "../harness/children.js";
import type { ServiceChild } from "../harness/service.js";
import { MiB, secondsSince, sleep } from "../harness/settings.js";
import { maxOf, minOf } from "../harness/stats.js";
import { askVersion, uploadFiles } from "./client.js";
import { SETTLE_MS, verdict, VIDEO_RUNS, VIDEO_SECONDS, VIDEO_TARGET, type Report, type Setup } from "./settings.js";

/** (b) mp4-720p through the job system against the bare ffmpeg command with the identical argument list. */

const STATUS_POLL_MS = 250;

interface VideoRun {
  seconds: number;
  size: number;
  note: string;
}

async function bareTranscode(config: Config, source: string, demuxer: string, recipe: VideoRecipe, root: string): Promise<VideoRun> {
  const { videoArgs } = await import("../../src/transcode/av.js");
  const outDir = await fsp.mkdtemp(path.join(root, "bare-video-"));
  const output = path.join(outDir, "out.mp4");
  const args = videoArgs(source, demuxer, output, recipe);
  const started = performance.now();
  const { code, stderr } = await runProgram(config.ffmpeg.ffmpegPath, args);
  const secs = secondsSince(started);
  if (code !== 0) throw new Error(`bare ffmpeg failed: ${stderr.trim().split("\n").pop()}`);
  const size = (await fsp.stat(output)).size;
  await fsp.rm(outDir, { recursive: true, force: true });
  return { seconds: secs, size, note: "" };
}

/** From the request that enqueues mp4-720p to READY: the "made version" line or a status poll. */
async function serviceTranscode(service: ServiceChild, shelfId: string): Promise<VideoRun> {
  let loggedAt: number | undefined;
  let logged!: () => void;
  const loggedLine = new Promise<void>((resolve) => (logged = resolve));
  const off = service.child.onLine((line) => {
    if (loggedAt === undefined && line.startsWith(`made version mp4-720p of shelf ${shelfId}`)) {
      loggedAt = performance.now();
      logged();
    }
  });
  try {
    const started = performance.now();
    let version = await askVersion(service.url, shelfId, "mp4-720p");
    let polledAt: number | undefined;
    const deadline = Date.now() + 15 * 60_000;
    while (loggedAt === undefined && polledAt === undefined) {
      if (version.status === "READY") polledAt = performance.now();
      else if (version.status === "FAILED") throw new Error(`mp4-720p failed: ${version.error}`);
      else if (Date.now() > deadline) throw new Error("mp4-720p was not made within 15 minutes");
      else {
        await Promise.race([sleep(STATUS_POLL_MS), loggedLine]);
        if (loggedAt === undefined) version = await askVersion(service.url, shelfId, "mp4-720p");
      }
    }
    const readyAt = Math.min(loggedAt ?? Infinity, polledAt ?? Infinity);
    version = await askVersion(service.url, shelfId, "mp4-720p");
    if (version.status !== "READY") throw new Error(`mp4-720p is ${version.status} after its "made" line`);
    return {
      seconds: (readyAt - started) / 1000,
      size: version.size ?? 0,
      note: `${version.width}x${version.height}, ${((version.durationMs ?? 0) / 1000).toFixed(1)} s; READY seen by ${loggedAt !== undefined && loggedAt <= (polledAt ?? Infinity) ? "log line" : "status poll"}`,
    };
  } finally {
    off();
  }
}

export async function partVideo(setup: Setup, service: ServiceChild, video: string, report: Report): Promise<void> {
  const { root, config } = setup;
  const preset = config.versions.presets.get("VIDEO", "mp4-720p");
  if (!preset || preset.recipe.type !== "video") throw new Error("no mp4-720p video preset");
  const recipe = preset.recipe;
  const { KIND_FORMATS } = await import("../../src/media/kinds.js");
  const shelves = await uploadFiles(service.url, Array(VIDEO_RUNS).fill(video) as string[]);
  const mimeType = shelves[0]!.mimeType;
  const demuxer = KIND_FORMATS.VIDEO.formats.find((f) => f.mimeType === mimeType)?.demuxer;
  if (!demuxer) throw new Error(`the clip was stored as ${mimeType}, which has no demuxer`);
  console.log(`\n(b) mp4-720p of the ${VIDEO_SECONDS} s 1080p clip (${mimeType}, demuxer ${demuxer}), ${VIDEO_RUNS} run(s) each`);
  const bareRuns: VideoRun[] = [];
  const servedRuns: VideoRun[] = [];
  const bare = async () => {
    const run = await bareTranscode(config, video, demuxer, recipe, root);
    bareRuns.push(run);
    console.log(`  bare ffmpeg #${bareRuns.length}: ${run.seconds.toFixed(2)} s  (${(run.size / MiB).toFixed(2)} MiB)`);
  };
  const served = async () => {
    const run = await serviceTranscode(service, shelves[servedRuns.length]!.id);
    servedRuns.push(run);
    console.log(`  service     #${servedRuns.length}: ${run.seconds.toFixed(2)} s  (${(run.size / MiB).toFixed(2)} MiB, ${run.note})`);
  };
  // bare, service, service, bare, ...: drift over the run hits both sides alike.
  for (const step of Array.from({ length: VIDEO_RUNS }, (_, i) => (i % 2 === 0 ? [bare, served] : [served, bare])).flat()) {
    await step();
    await sleep(SETTLE_MS);
  }
  const bestBare = minOf(bareRuns, (r) => r.seconds);
  const bestServed = minOf(servedRuns, (r) => r.seconds);
  const ratio = bestServed / bestBare;
  report.rows.push([
    `(b) mp4-720p wall time, ${VIDEO_SECONDS} s 1080p (best of ${VIDEO_RUNS})`,
    `${bestServed.toFixed(2)} s`,
    `${bestBare.toFixed(2)} s`,
    ratio.toFixed(3),
    `<= ${VIDEO_TARGET}`,
    verdict(ratio <= VIDEO_TARGET),
  ]);
  const spread = (runs: VideoRun[]) => `${minOf(runs, (r) => r.seconds).toFixed(1)}-${maxOf(runs, (r) => r.seconds).toFixed(1)} s`;
  report.notes.push(`(b) service minus bare (best runs): ${(bestServed - bestBare).toFixed(2)} s; spread of the runs: bare ${spread(bareRuns)}, service ${spread(servedRuns)}`);
}
