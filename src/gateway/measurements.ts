import type { RunnerMeasurements } from './routing.js';

/** Weight of the newest sample in the moving averages. */
const ALPHA = 0.3;
const MAX_RUNNERS = 10_000;

/** What this gateway measured of each runner it sent requests to (sort: latency / throughput). */
export class Measurements {
  private readonly byRunner = new Map<string, RunnerMeasurements>();

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
