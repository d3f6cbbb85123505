import { createServer, type Server } from 'node:http';

import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The runner's own Prometheus metrics (served on `/metrics`). */
export class RunnerMetrics {
  readonly registry = new Registry();
  readonly claimed = new Counter({
    name: 'deai_runner_tasks_claimed_total',
    help: 'Tasks leased from the registry',
    registers: [this.registry]
  });
  readonly completed = new Counter({
    name: 'deai_runner_tasks_completed_total',
    help: 'Tasks completed and reported',
    registers: [this.registry]
  });
  readonly failed = new Counter({ name: 'deai_runner_tasks_failed_total', help: 'Tasks reported as failed', registers: [this.registry] });
  /** complete_task answered Err (by variant): no result was kept, so the task is also reported as failed. */
  readonly completionsRefused = new Counter({
    name: 'deai_runner_task_completions_refused_total',
    help: 'Results the registry refused (complete_task Err), by error variant',
    labelNames: ['error'] as const,
    registers: [this.registry]
  });
  readonly tokens = new Counter({
    name: 'deai_runner_tokens_total',
    help: 'Tokens processed',
    labelNames: ['kind'] as const,
    registers: [this.registry]
  });
  readonly taskSeconds = new Histogram({
    name: 'deai_runner_task_duration_seconds',
    help: 'Inference time per task',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry]
  });
  readonly firstTokenSeconds = new Histogram({
    name: 'deai_runner_first_token_seconds',
    help: 'Time to first token per task',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry]
  });
  readonly inFlight = new Gauge({ name: 'deai_runner_tasks_in_flight', help: 'Tasks being executed now', registers: [this.registry] });
  private lastHeartbeatMs: number | undefined;

  constructor(now: () => number = Date.now) {
    new Gauge({
      name: 'deai_runner_heartbeat_age_seconds',
      help: 'Seconds since the last acknowledged heartbeat (-1 before the first)',
      registers: [this.registry],
      collect: () => undefined
    });
    const age = this.registry.getSingleMetric('deai_runner_heartbeat_age_seconds') as Gauge;
    const collectAge = (): void => age.set(this.lastHeartbeatMs === undefined ? -1 : (now() - this.lastHeartbeatMs) / 1000);
    this.collectAge = collectAge;
  }

  private readonly collectAge: () => void;

  heartbeatAcknowledged(atMs: number): void {
    this.lastHeartbeatMs = atMs;
  }

  async text(): Promise<string> {
    this.collectAge();
    return this.registry.metrics();
  }

  /** Serves `/metrics` on 127.0.0.1:`port` (0 = a free port). */
  async serve(port: number): Promise<{ url: string; close(): Promise<void> }> {
    const server: Server = createServer((request, response) => {
      if (request.url !== '/metrics') {
        response.writeHead(404).end();
        return;
      }
      this.text().then(
        (body) => response.writeHead(200, { 'content-type': this.registry.contentType }).end(body),
        (error: unknown) => response.writeHead(500).end(String(error))
      );
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const address = server.address();
    const bound = typeof address === 'object' && address !== null ? address.port : port;
    return { url: `http://127.0.0.1:${bound}/metrics`, close: () => new Promise((resolve) => server.close(() => resolve())) };
  }
}
