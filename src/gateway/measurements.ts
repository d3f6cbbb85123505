import type { RunnerMeasurements } from './routing.js';

/** Weight of the newest sample in the moving averages. */
const ALPHA = 0.3;
const MAX_RUNNERS = 10_000;
/** How long a runner whose 4xx another runner then served is tried last. */
export const DEMOTION_MS = 10 * 60_000;

/** What this gateway measured of each runner it sent requests to (sort: latency / throughput). */
export class Measurements {
  private readonly byRunner = new Map<string, RunnerMeasurements>();
  /** Runner → until when (nowMs) it is tried last. */
  private readonly demotedUntil = new Map<string, number>();

  constructor(private readonly nowMs: () => number = () => performance.now()) {}

  /** Tries `runner` last for DEMOTION_MS: it refused a request (4xx) that another runner then served. */
  demote(runner: string): void {
    if (!this.demotedUntil.has(runner) && this.demotedUntil.size >= MAX_RUNNERS) this.demotedUntil.clear();
    this.demotedUntil.set(runner, this.nowMs() + DEMOTION_MS);
  }

  demoted(runner: string): boolean {
    const until = this.demotedUntil.get(runner);
    if (until === undefined) return false;
    if (until > this.nowMs()) return true;
    this.demotedUntil.delete(runner);
    return false;
  }

  get(runner: string): RunnerMeasurements | undefined {
    return this.byRunner.get(runner);
  }

  record(runner: string, sample: { firstTokenMs: number; totalMs: number; completionTokens: number }): void {
    if (!this.byRunner.has(runner) && this.byRunner.size >= MAX_RUNNERS) this.byRunner.clear();
    const previous = this.byRunner.get(runner) ?? {};
    const average = (old: number | undefined, value: number): number => (old === undefined ? value : old + ALPHA * (value - old));
    const generationMs = sample.totalMs - sample.firstTokenMs;
    const next: RunnerMeasurements = { firstTokenMs: average(previous.firstTokenMs, sample.firstTokenMs) };
    if (sample.completionTokens > 1 && generationMs > 0)
      next.tokensPerSecond = average(previous.tokensPerSecond, ((sample.completionTokens - 1) * 1000) / generationMs);
    else if (previous.tokensPerSecond !== undefined) next.tokensPerSecond = previous.tokensPerSecond;
    this.byRunner.set(runner, next);
  }
}
