import { sleep } from "../harness/settings.js";
import { median } from "../harness/stats.js";
import { gc } from "./data.js";
import { writeReadCheck, type Measurement, type Target } from "./targets.js";

/** Throughput rounds: an adapter against its raw baseline, alternating, best and median kept. */

const SETTLE_MS = 300;

/** Best (the figure that counts) and median (to show how noisy the runs were) MiB/s. */
export interface Best {
  write: number;
  read: number;
  medianWrite: number;
  medianRead: number;
}

function best(runs: Measurement[]): Best {
  const writes = runs.map((r) => r.writeMiBs);
  const reads = runs.map((r) => r.readMiBs);
  return { write: Math.max(...writes), read: Math.max(...reads), medianWrite: median(writes), medianRead: median(reads) };
}

function logRun(label: string, m: Measurement): void {
  console.log(
    `  ${label.padEnd(22)} write ${m.writeMiBs.toFixed(0).padStart(5)} MiB/s (${m.writeSeconds.toFixed(2)} s)   read ${m.readMiBs.toFixed(0).padStart(5)} MiB/s (${m.readSeconds.toFixed(2)} s)`,
  );
}

/** One timed write + read of `size`, after a full GC and a pause, logged as run `round`. */
async function timedRun(target: Target, size: number, round: number): Promise<Measurement> {
  gc();
  await sleep(SETTLE_MS);
  const m = await writeReadCheck(target, size);
  logRun(`${target.label} #${round}`, m);
  return m;
}

/** `runs` rounds of adapter and raw, alternating which goes first; one untimed warm-up of each first. */
export async function comparePair(adapter: Target, raw: Target, size: number, warmupSize: number, runs: number): Promise<{ adapter: Best; raw: Best }> {
  await writeReadCheck(adapter, warmupSize);
  await writeReadCheck(raw, warmupSize);
  const measured = new Map<Target, Measurement[]>([
    [adapter, []],
    [raw, []],
  ]);
  for (let i = 0; i < runs; i++) {
    for (const target of i % 2 === 0 ? [adapter, raw] : [raw, adapter]) measured.get(target)!.push(await timedRun(target, size, i + 1));
  }
  return { adapter: best(measured.get(adapter)!), raw: best(measured.get(raw)!) };
}

/** `runs` rounds of one target with no baseline (information only). */
export async function informational(target: Target, size: number, runs: number): Promise<Best> {
  const all: Measurement[] = [];
  for (let i = 0; i < runs; i++) all.push(await timedRun(target, size, i + 1));
  return best(all);
}
