/** What every benchmark prints: a line per figure as it is measured, then one `| metric | value | target |` table. */
export const ms = (n: number): string => `${n.toFixed(1)} ms`;

/** The p-th percentile (nearest rank) of `values`; NaN when there are none. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const rows: Array<[string, string, string]> = [];

/** Records a figure and prints it at once (long benchmarks show progress). */
export function row(metric: string, value: string, target = ''): void {
  rows.push([metric, value, target]);
  console.log(`  ${metric}: ${value}${target ? `  (target ${target})` : ''}`);
}

/** The table of every figure recorded, for README and closing notes. */
export function printTable(): void {
  console.log('\n| metric | value | target |\n|---|---|---|');
  for (const [metric, value, target] of rows) console.log(`| ${metric} | ${value} | ${target} |`);
}
