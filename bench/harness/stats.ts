/** The few statistics the benchmarks report: best, least, median, percentiles, ratios. */

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export const maxOf = <T>(items: T[], value: (item: T) => number) => Math.max(...items.map(value));
export const minOf = <T>(items: T[], value: (item: T) => number) => Math.min(...items.map(value));

/** The nearest-rank percentile `p` (0-100) of values already sorted ascending; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
