import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { z } from 'zod';

/**
 * How big a benchmark run is. `DEAI_BENCH_SMOKE=1` shrinks every size to a few seconds of work, so that
 * tests/e2e/bench-smoke.test.ts can run the README's `npm run bench:*` commands; unset (or `0`), the benchmarks
 * run at their full, published sizes. Parsed once, here, so a typo such as `DEAI_BENCH_SMOKE=yes` fails loudly
 * instead of silently running for minutes.
 */
const SmokeEnvSchema = z.enum(['', '0', '1']).optional();
export const SMOKE = SmokeEnvSchema.parse(process.env.DEAI_BENCH_SMOKE) === '1';

/** `full` normally, `smoke` under DEAI_BENCH_SMOKE=1. */
export const sized = <T>(full: T, smoke: T): T => (SMOKE ? smoke : full);

/** A numeric `--name value` command-line flag; without one, `fallback` (pass a `sized` value to shrink it). */
export function flag(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : NaN;
  return Number.isFinite(value) ? value : fallback;
}

/** A `--name value` flag that must be one of `choices`; without one, `fallback`. Anything else fails loudly. */
export function choice<T extends string>(name: string, choices: readonly T[], fallback: T): T {
  const index = process.argv.indexOf(`--${name}`);
  if (index < 0) return fallback;
  const value = process.argv[index + 1];
  if (value === undefined || !(choices as readonly string[]).includes(value))
    throw new Error(`--${name} must be one of ${choices.join(', ')} (got ${value ?? 'nothing'})`);
  return value as T;
}

/** Node flags for a host process the benchmark starts: with `--profile-host`, a CPU profile in $TMPDIR/deai-host-profile. */
export function hostProfileArgs(): string[] {
  return process.argv.includes('--profile-host') ? ['--cpu-prof', `--cpu-prof-dir=${join(tmpdir(), 'deai-host-profile')}`] : [];
}
