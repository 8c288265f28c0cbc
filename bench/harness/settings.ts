import { fileURLToPath } from "node:url";

/** Settings every benchmark reads the same way: numbers from the environment, paths, units. */

export const MiB = 1024 * 1024;
export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The PostgreSQL server benchmarks create their throwaway databases on. */
export const POSTGRES_ADMIN_URL =
  process.env.BENCH_POSTGRES_URL ?? process.env.TEST_POSTGRES_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

export function positiveInt(raw: string | undefined, fallback: number): number {
  const n = raw === undefined || raw === "" ? fallback : Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`Expected a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

export function positiveNumber(raw: string | undefined, fallback: number): number {
  const n = raw === undefined || raw === "" ? fallback : Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`Expected a positive number, got ${JSON.stringify(raw)}`);
  return n;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Seconds since a `performance.now()` reading. */
export const secondsSince = (since: number) => (performance.now() - since) / 1000;
