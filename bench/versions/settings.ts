import type { Config } from "../../src/config.js";
import { positiveInt } from "../harness/settings.js";

/** The versions benchmark's settings, targets and the report its parts fill. */

export const IMAGES = positiveInt(process.env.BENCH_IMAGES, 40);
export const IMAGE_ROUNDS = positiveInt(process.env.BENCH_IMAGE_ROUNDS, 3);
export const VIDEO_SECONDS = positiveInt(process.env.BENCH_VIDEO_SECONDS, 30);
export const VIDEO_RUNS = positiveInt(process.env.BENCH_VIDEO_RUNS, 2);
export const CONCURRENT_ASKS = positiveInt(process.env.BENCH_CONCURRENT_REQUESTS, 50);
export const WITH_POSTGRES = process.env.BENCH_POSTGRES !== "0";
/** Images each side makes before it is timed: the service's code is compiled as it warms up. */
export const WARMUP_IMAGES = positiveInt(process.env.BENCH_WARMUP_IMAGES, 20);
/** The size of (a)'s JPEGs, WIDTHxHEIGHT. */
export const IMAGE_SIZE = (() => {
  const match = /^(\d+)x(\d+)$/.exec(process.env.BENCH_IMAGE_SIZE ?? "1600x1200");
  if (!match) throw new Error(`BENCH_IMAGE_SIZE: expected WIDTHxHEIGHT, got ${JSON.stringify(process.env.BENCH_IMAGE_SIZE)}`);
  return { width: Number(match[1]), height: Number(match[2]), label: match[0] };
})();
/** Which figures to measure: BENCH_PARTS=a,c runs (a) and (c) only. */
export const PARTS = new Set((process.env.BENCH_PARTS ?? "a,b,c,d").split(",").map((p) => p.trim().toLowerCase()).filter(Boolean));
for (const part of PARTS) if (!["a", "b", "c", "d"].includes(part)) throw new Error(`BENCH_PARTS: unknown part ${JSON.stringify(part)} (a, b, c, d)`);

export const THUMB_TARGET = 0.85; // service / raw sharp images per second, at least
export const VIDEO_TARGET = 1.05; // service / bare ffmpeg wall time, at most
export const GENERATIONS_TARGET = 1; // exactly
export const RSS_TARGET = 1.3; // service / bare sharp peak RSS, at most

export const TRANSFORM_WIDTHS = [640, 960, 1280, 1600, 1920, 2560, 3200, 3840];
export const READY_TIMEOUT_MS = 90_000;
export const RSS_POLL_MS = 50;
export const SETTLE_MS = 1000;

export type Row = [metric: string, service: string, baseline: string, ratio: string, target: string, met: string];

export interface Report {
  rows: Row[];
  notes: string[];
}

export const verdict = (ok: boolean) => (ok ? "yes" : "NO");

export interface Setup {
  root: string;
  config: Config;
  /** The service's image job concurrency, and the clients' and raw sharp's. */
  concurrency: number;
}
