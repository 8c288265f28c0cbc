import path from "node:path";
import { exitCodeWithin, startScript } from "../harness/children.js";
import { fmtMiB, sizeLabel } from "./data.js";
import type { MemResult } from "./memory-probe.js";

/** Peak RSS growth of the adapters, one fresh child process (memory-probe.ts) per measurement. */

const CHILD_TIMEOUT_MS = 90_000;

export type MemoryAdapter = "filesystem" | "s3";
export type { MemResult };

async function measureOnce(adapter: MemoryAdapter, size: number, dir: string, endpoint: string): Promise<MemResult> {
  const env = { ...process.env, BENCH_ADAPTER: adapter, BENCH_SIZE_BYTES: String(size), BENCH_DIR: dir, BENCH_S3_ENDPOINT: endpoint };
  const child = startScript(`memory child (${adapter}, ${sizeLabel(size)})`, path.join(import.meta.dirname, "memory-probe.ts"), env);
  const code = await exitCodeWithin(child, CHILD_TIMEOUT_MS);
  const line = child.output.find((l) => l.startsWith("BENCH_RESULT="));
  if (code !== 0 || !line) throw new Error(`${child.name} exited with ${code}:\n${child.output.join("\n")}`);
  return JSON.parse(line.slice("BENCH_RESULT=".length)) as MemResult;
}

/**
 * Each adapter at `small` and `large`, `reps` times with the order of the sizes alternating, then
 * once at `huge`; returns the mean growth and peak per adapter and size (the growth of a single
 * run depends on where it caught the GC cycle).
 */
export async function measureMemory(
  sizes: { small: number; large: number; huge: number },
  reps: number,
  dir: string,
  endpoint: string,
): Promise<(adapter: MemoryAdapter, size: number) => { growthBytes: number; peakBytes: number }> {
  const plan: Array<[MemoryAdapter, number]> = [];
  for (let rep = 0; rep < reps; rep++) {
    const order = rep % 2 === 0 ? [sizes.small, sizes.large] : [sizes.large, sizes.small];
    for (const adapter of ["filesystem", "s3"] as const) for (const size of order) plan.push([adapter, size]);
  }
  for (const adapter of ["filesystem", "s3"] as const) plan.push([adapter, sizes.huge]);
  const results = new Map<string, MemResult[]>();
  for (const [adapter, size] of plan) {
    const r = await measureOnce(adapter, size, dir, endpoint);
    const key = `${adapter}:${size}`;
    results.set(key, [...(results.get(key) ?? []), r]);
    console.log(
      `  ${adapter.padEnd(10)} ${sizeLabel(size).padStart(8)}: RSS ${fmtMiB(r.baselineBytes)} -> peak ${fmtMiB(r.peakBytes)}, ` +
        `growth ${fmtMiB(r.growthBytes)} (${r.hwmReset ? "VmHWM reset" : "sampled only"}; ${r.seconds.toFixed(1)} s)`,
    );
  }
  return (adapter, size) => {
    const runs = results.get(`${adapter}:${size}`) ?? [];
    const mean = (f: (r: MemResult) => number) => runs.reduce((sum, r) => sum + f(r), 0) / runs.length;
    return { growthBytes: mean((r) => r.growthBytes), peakBytes: mean((r) => r.peakBytes) };
  };
}
