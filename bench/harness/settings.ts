import { fileURLToPath } from "node:url";

/** Settings every benchmark reads the same way: numbers from the environment, paths, units. */

export const MiB = 1024 * 1024;
export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The PostgreSQL server benchmarks create their throwaway databases on. */
export const POSTGRES_ADMIN_URL =
  process.env.BENCH_POSTGRES_URL ?? process.env.TEST_POSTGRES_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

/** A number from the environment: `fallback` when unset or empty, else it must pass `valid`. */
function numberSetting(raw: string | undefined, fallback: number, valid: (n: number) => boolean, what: string): number {
  const n = raw === undefined || raw === "" ? fallback : Number(raw);
  if (!valid(n) || n <= 0) throw new Error(`Expected a positive ${what}, got ${JSON.stringify(raw)}`);
  return n;
}

export const positiveInt = (raw: string | undefined, fallback: number) => numberSetting(raw, fallback, Number.isInteger, "integer");
export const positiveNumber = (raw: string | undefined, fallback: number) => numberSetting(raw, fallback, Number.isFinite, "number");

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Seconds since a `performance.now()` reading. */
export const secondsSince = (since: number) => (performance.now() - since) / 1000;
