/**
 * One memory measurement of the storage benchmark, in a fresh process: after an untimed warm-up
 * and a GC, the RSS growth (VmHWM reset, VmRSS sampled every 20 ms) while BENCH_SIZE_BYTES are
 * written and read back through BENCH_ADAPTER (filesystem under BENCH_DIR, or s3 at
 * BENCH_S3_ENDPOINT). Prints BENCH_RESULT=<MemResult as JSON>.
 */
import type { Storage } from "../../src/storage/contract.js";
import { runChildScript } from "../harness/lifecycle.js";
import { watchMemory } from "../harness/memory.js";
import { MiB, sleep, secondsSince } from "../harness/settings.js";
import { expectedHash, gc } from "./data.js";
import { adapterTarget, fsAdapter, PART_SIZE, s3Adapter, writeReadCheck } from "./targets.js";

export interface MemResult {
  adapter: string;
  size: number;
  baselineBytes: number;
  peakBytes: number;
  growthBytes: number;
  hwmReset: boolean;
  polledPeakBytes: number;
  seconds: number;
}

const POLL_MS = 20;

async function main(): Promise<void> {
  const adapter = process.env.BENCH_ADAPTER;
  const size = Number(process.env.BENCH_SIZE_BYTES);
  let storage: Storage;
  if (adapter === "filesystem") storage = fsAdapter(process.env.BENCH_DIR ?? "");
  else if (adapter === "s3") storage = s3Adapter(process.env.BENCH_S3_ENDPOINT ?? "", `mem-${process.pid}`);
  else throw new Error(`unknown BENCH_ADAPTER ${adapter}`);
  const target = adapterTarget(adapter, storage);

  // Warm-up: load and compile the whole path (two parts, so S3 takes the multipart path), untimed.
  await writeReadCheck(target, 2 * PART_SIZE + MiB);
  expectedHash(size);
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(50);
  }

  const watch = watchMemory(process.pid, POLL_MS);
  const started = performance.now();
  await writeReadCheck(target, size);
  const seconds = secondsSince(started);
  const mem = watch.finish();
  const result: MemResult = {
    adapter,
    size,
    baselineBytes: mem.idleKiB * 1024,
    peakBytes: mem.peakKiB * 1024,
    growthBytes: (mem.peakKiB - mem.idleKiB) * 1024,
    hwmReset: mem.hwmReset,
    polledPeakBytes: mem.polledPeakKiB * 1024,
    seconds,
  };
  process.stdout.write(`BENCH_RESULT=${JSON.stringify(result)}\n`);
}

runChildScript(main);
