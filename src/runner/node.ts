import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

import { z } from 'zod';

import type { TaskView } from '../interface/registry/index.js';
import { safeValidateModelCard } from '../core/manifest/index.js';
import { publishedCardContradictions } from './card-check.js';
import { RunnerError } from './errors.js';
import { RunnerMetrics } from './metrics.js';
import type { ProbeResult } from './probes/types.js';
import { describeErr, TaskRunner, type TaskRunOptions } from './task-runner.js';

export { defaultLeaseMarginMs, LEASE_ENDED_REASON } from './task-runner.js';

/** The node's own lifecycle (with `offline` after it stops); the registry's RunnerState is what a heartbeat reports. */
export type NodeState = 'loading' | 'ready' | 'busy' | 'draining' | 'offline';

/** The engine, registry and lease options of {@link TaskRunOptions}, and the node's own. */
export interface RunnerNodeOptions extends TaskRunOptions {
  /** Reconciled RunnerManifest (JSON) and the model cards it needs published. */
  manifestJson: string;
  cards: Array<{ id: string; digest: string; json: string }>;
  slots: number;
  probe: () => Promise<ProbeResult>;
  /** Where leases in flight are remembered across restarts. */
  stateFile: string;
  pollMs?: number;
  heartbeatMs?: number;
  metrics?: RunnerMetrics;
  log?: (event: string, fields?: Record<string, unknown>) => void;
  sleep?: (ms: number) => Promise<void>;
  /** Wall-clock time in ms since the epoch, compared with the registry's lease ends (default `Date.now`). */
  now?: () => number;
  /**
   * Runs before a first registration (not before an update): approves the registry for the runner bond
   * (src/runner/bond.ts). None: the runner registers without approving anything.
   */
  prepareRegistration?: () => Promise<void>;
}

const InFlightFile = z.object({ tasks: z.array(z.string()) });

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A runner node: registers what the local engine really serves, heartbeats its live load, leases matching tasks,
 * runs them on the engine and reports the result — each report idempotent and retried with backoff, so a restart of
 * the engine or of the IC network loses nothing and reports nothing twice. SIGTERM → `drain()`: no new claims,
 * tasks in flight finish and are reported, then the node goes offline.
 */
export class RunnerNode {
  readonly metrics: RunnerMetrics;
  private state: NodeState = 'loading';
  private readonly inFlight = new Map<string, Promise<void>>();
  private stopping = false;
  private loops: Array<Promise<void>> = [];
  private readonly tasks: TaskRunner;
  private readonly now: () => number;
  private readonly log: (event: string, fields?: Record<string, unknown>) => void;
  private readonly wakers = new Set<() => void>();
  private lastProbe: ProbeResult | undefined;
  /** The engine's generated-token counter at the previous heartbeat, for tokens/s. */
  private lastTokens: { total: number; atMs: number } | undefined;

  constructor(private readonly options: RunnerNodeOptions) {
    this.metrics = options.metrics ?? new RunnerMetrics();
    this.now = options.now ?? Date.now;
    this.log = options.log ?? (() => undefined);
    this.tasks = new TaskRunner(options, { metrics: this.metrics, log: this.log, sleep: options.sleep ?? defaultSleep, now: this.now });
  }

  get currentState(): NodeState {
    return this.state;
  }

  /** Publishes missing cards, registers (or updates) the runner, recovers leases, then starts heartbeats and claims. */
  async start(): Promise<void> {
    const { registry, principal } = this.options;
    for (const card of this.options.cards) {
      const known = (await registry.get_model_card(card.id, [card.digest]))[0];
      if (known !== undefined) {
        this.refuseContradictingCard(card, known.manifest_json);
        continue;
      }
      const published = await registry.publish_model_card(card.json);
      if ('Err' in published)
        throw new RunnerError('RegistrationRefused', `publishing ${card.id} failed: ${describeErr(published.Err)}`, {
          cause: published.Err
        });
      this.log('card-published', { id: card.id, digest: card.digest });
    }
    const existing = await registry.get_runner(principal);
    if (existing.length === 0) await this.options.prepareRegistration?.();
    const registered =
      existing.length > 0
        ? await registry.update_runner(principal, this.options.manifestJson)
        : await registry.register_runner(this.options.manifestJson);
    if ('Err' in registered)
      throw new RunnerError('RegistrationRefused', `registering the runner failed: ${describeErr(registered.Err)}`, {
        cause: registered.Err
      });
    this.log(existing.length > 0 ? 'runner-updated' : 'runner-registered', { principal: principal.toText() });
    await this.recover();
    this.loops = [this.heartbeatLoop(), this.claimLoop()];
  }

  /**
   * A card already published for these weights must not contradict what the runner measured (the registry would
   * describe this deployment by it): the runner refuses to register, naming every contradicting field.
   */
  private refuseContradictingCard(card: { id: string; digest: string; json: string }, publishedJson: string): void {
    const measured = safeValidateModelCard(JSON.parse(card.json) as unknown);
    if (!measured.ok) return;
    const issues = publishedCardContradictions(publishedJson, measured.manifest);
    if (issues.length === 0) return;
    const fields = issues.map((issue) => issue.path);
    this.log('card-contradicts', { id: card.id, digest: card.digest, fields, issues });
    const lines = issues.map((issue) => `  ${issue.path}: ${issue.message}`);
    throw new RunnerError(
      'PublishedCardContradicts',
      [`the card published for ${card.id}@${card.digest} contradicts what this runner measured (${fields.join(', ')}):`, ...lines].join(
        '\n'
      ),
      { issues }
    );
  }

  /** Stops claiming, lets tasks in flight finish and report, sends a last heartbeat, and stops. */
  async drain(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.state = 'draining';
    this.log('draining', { inFlight: this.inFlight.size });
    this.wakeAll();
    await this.beat().catch(() => undefined);
    await Promise.allSettled([...this.inFlight.values()]);
    await Promise.allSettled(this.loops);
    this.state = 'offline';
    // `maintenance` takes the runner out of discovery at once instead of waiting for the heartbeat TTL.
    await this.beat('maintenance').catch(() => undefined);
    this.log('offline');
  }

  private freeSlots(): number {
    const engineSlots = this.lastProbe?.status === 'ready' ? (this.lastProbe.slots?.total ?? this.options.slots) : this.options.slots;
    return Math.min(this.options.slots, engineSlots) - this.inFlight.size;
  }

  private async beat(forced?: string): Promise<void> {
    const probe = await this.options.probe();
    this.lastProbe = probe;
    if (!this.stopping) this.state = probe.status !== 'ready' ? 'loading' : this.freeSlots() <= 0 ? 'busy' : 'ready';
    const load = probe.status === 'ready' ? probe.load : undefined;
    const state = forced ?? (this.state === 'offline' ? 'maintenance' : this.state);
    let tokensPerSecond = 0;
    if (load?.tokensPredictedTotal !== undefined) {
      const nowMs = this.now();
      if (this.lastTokens !== undefined && nowMs > this.lastTokens.atMs && load.tokensPredictedTotal >= this.lastTokens.total) {
        tokensPerSecond = ((load.tokensPredictedTotal - this.lastTokens.total) * 1000) / (nowMs - this.lastTokens.atMs);
      }
      this.lastTokens = { total: load.tokensPredictedTotal, atMs: nowMs };
    }
    const result = await this.options.registry.heartbeat({
      state,
      busy_slots: Math.min(this.options.slots, this.inFlight.size),
      queue_depth: load?.requestsWaiting ?? 0,
      tokens_per_second: Math.min(tokensPerSecond, 1_000_000),
      kv_cache_usage: Math.min(1, Math.max(0, load?.kvCacheUsage ?? 0))
    });
    if ('Err' in result) throw new Error(`heartbeat refused: ${describeErr(result.Err)}`);
    this.metrics.heartbeatAcknowledged(Date.now());
  }

  private async heartbeatLoop(): Promise<void> {
    let backoff = 1_000;
    while (!this.stopping) {
      try {
        await this.beat();
        backoff = 1_000;
        await this.sleepOrWake(this.options.heartbeatMs ?? 30_000);
      } catch (error) {
        this.log('heartbeat-failed', { error: String(error), retryInMs: backoff });
        await this.sleepOrWake(backoff);
        backoff = Math.min(backoff * 2, 30_000);
      }
    }
  }

  private async claimLoop(): Promise<void> {
    const poll = this.options.pollMs ?? 1_000;
    while (!this.stopping) {
      if (this.state === 'loading' || this.freeSlots() <= 0) {
        await this.sleepOrWake(poll);
        continue;
      }
      let claimed;
      try {
        claimed = await this.options.registry.claim_task([]);
      } catch (error) {
        this.log('claim-failed', { error: String(error) });
        await this.sleepOrWake(poll);
        continue;
      }
      if ('Err' in claimed) {
        await this.sleepOrWake(poll);
        continue;
      }
      this.metrics.claimed.inc();
      this.track(claimed.Ok);
    }
  }

  private track(task: TaskView): void {
    const run = this.tasks.run(task).finally(() => {
      this.inFlight.delete(task.id);
      this.metrics.inFlight.set(this.inFlight.size);
      this.saveInFlight();
      this.wakeAll();
    });
    this.inFlight.set(task.id, run);
    this.metrics.inFlight.set(this.inFlight.size);
    this.saveInFlight();
  }

  /** After a restart: finish leases still running that were not reported; forget the rest. */
  private async recover(): Promise<void> {
    const remembered = this.loadInFlight();
    for (const id of remembered) {
      const found = await this.options.registry.get_task(id);
      const task = found[0];
      const me = this.options.principal.toText();
      if (task === undefined || task.results.some((r) => r.runner.toText() === me)) continue;
      const lease = task.leases.find((l) => l.runner.toText() === me);
      if (task.state === 'queued' && lease !== undefined && lease.expires_at_ns > BigInt(this.now()) * 1_000_000n) {
        this.log('task-recovered', { task: id });
        this.track(task);
      }
    }
    this.saveInFlight();
  }

  private loadInFlight(): string[] {
    if (!existsSync(this.options.stateFile)) return [];
    const parsed = InFlightFile.safeParse(safeJson(readFileSync(this.options.stateFile, 'utf8')));
    return parsed.success ? parsed.data.tasks : [];
  }

  private saveInFlight(): void {
    mkdirSync(dirname(this.options.stateFile), { recursive: true });
    const tmp = `${this.options.stateFile}.tmp`;
    writeFileSync(tmp, JSON.stringify({ tasks: [...this.inFlight.keys()] }));
    renameSync(tmp, this.options.stateFile);
  }

  /** Ends every loop's current wait (a slot came free, or the node is draining). */
  private wakeAll(): void {
    for (const wake of [...this.wakers]) wake();
  }

  private sleepOrWake(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
