/** The summary table benchmarks end with: a header, a rule, one aligned row per metric. */
export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((_, c) => Math.max(...[header, ...rows].map((r) => (r[c] ?? "").length)));
  const line = (cells: string[]) => cells.map((cell, c) => cell.padEnd(widths[c]!)).join("  ").trimEnd();
  console.log(`\n${line(header)}`);
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of rows) console.log(line(row));
}
