import { confidentialOf } from './confidential.js';
import type { Heartbeat, RunnerState, StoredRunner } from './types.js';

/** What discovery needs of one deployment, precomputed as plain numbers (BigInt is slow in the canister's QuickJS). */
export interface IndexedDeployment {
  index: number;
  modelId: string;
  /** The weights' digest (`sha256:…`), what requests pin. */
  digest: string;
  cardKey: string;
  engine: string;
  servedContext: number;
  slots: number;
  inputPrice: bigint;
  outputPrice: bigint;
  /** input + output price per million, as a float: only used for ranking ratios. */
  blendedPrice: number;
}

/** One runner as discovery sees it; heartbeat fields are kept current by `beat`. */
export interface IndexedRunner {
  id: string;
  slots: number;
  topsPerWatt: number | undefined;
  region: string;
  hasEndpoint: boolean;
  /** A verified confidential-computing attestation (an unverified claim does not count). */
  confidentialVerified: boolean;
  acceleratorClasses: string[];
  suspended: boolean;
  deployments: IndexedDeployment[];
  state: RunnerState | undefined;
  busySlots: number;
  queueDepth: number;
  /** Last heartbeat time in ms (0 = never). */
  beatAtMs: number;
}

function topsPerWatt(runner: StoredRunner): number | undefined {
  let best: number | undefined;
  for (const a of runner.manifest.hardware.accelerators) {
    if (a.peakTops !== undefined && a.watts !== undefined && a.watts > 0) best = Math.max(best ?? 0, a.peakTops / a.watts);
  }
  return best;
}

/**
 * A heap-only index of runners by model id, derived from the stable maps and rebuilt after an upgrade. Discovery
 * reads only this: one map lookup per model and number comparisons per runner.
 */
export class DiscoveryIndex {
  /** Per model: its runners in an array (for a window at any position) and each one's place in it. */
  private readonly byModel = new Map<string, { list: IndexedRunner[]; at: Map<string, number> }>();
  private readonly all = new Map<string, IndexedRunner>();

  add(runner: StoredRunner, heartbeat?: Heartbeat): void {
    const m = runner.manifest;
    const previous = this.all.get(runner.id);
    const entry: IndexedRunner = {
      id: runner.id,
      slots: m.deployments.reduce((n, d) => n + d.slots, 0),
      topsPerWatt: topsPerWatt(runner),
      region: m.region,
      hasEndpoint: m.endpoint !== undefined,
      confidentialVerified: m.confidential.kind !== 'none' && confidentialOf(runner).verified,
      acceleratorClasses: m.hardware.accelerators.length === 0 ? ['cpu'] : m.hardware.accelerators.map((a) => a.class),
      suspended: runner.suspended !== undefined,
      deployments: m.deployments.map((d, index) => ({
        index,
        modelId: d.model.id,
        digest: d.model.digest,
        cardKey: `${d.model.id}@${d.model.digest}`,
        engine: d.engine,
        servedContext: d.servedContext,
        slots: d.slots,
        inputPrice: d.price.inputPerMillion,
        outputPrice: d.price.outputPerMillion,
        blendedPrice: Number(d.price.inputPerMillion + d.price.outputPerMillion)
      })),
      state: previous?.state,
      busySlots: previous?.busySlots ?? 0,
      queueDepth: previous?.queueDepth ?? 0,
      beatAtMs: previous?.beatAtMs ?? 0
    };
    if (previous !== undefined) this.remove(runner);
    this.all.set(runner.id, entry);
    for (const d of entry.deployments) {
      let runners = this.byModel.get(d.modelId);
      if (runners === undefined) {
        runners = { list: [], at: new Map() };
        this.byModel.set(d.modelId, runners);
      }
      const at = runners.at.get(runner.id);
      if (at === undefined) {
        runners.at.set(runner.id, runners.list.length);
        runners.list.push(entry);
      } else runners.list[at] = entry;
    }
    if (heartbeat !== undefined) this.beat(runner.id, heartbeat);
  }

  remove(runner: { id: string }): void {
    const entry = this.all.get(runner.id);
    if (entry === undefined) return;
    this.all.delete(runner.id);
    for (const d of entry.deployments) {
      const runners = this.byModel.get(d.modelId);
      const at = runners?.at.get(runner.id);
      if (runners === undefined || at === undefined) continue;
      // Swap with the last: O(1), and order does not matter (ranking breaks every tie).
      const last = runners.list.pop() as IndexedRunner;
      runners.at.delete(runner.id);
      if (last.id !== runner.id) {
        runners.list[at] = last;
        runners.at.set(last.id, at);
      }
      if (runners.list.length === 0) this.byModel.delete(d.modelId);
    }
  }

  beat(runnerId: string, heartbeat: Heartbeat): void {
    const entry = this.all.get(runnerId);
    if (entry === undefined) return;
    entry.state = heartbeat.state;
    entry.busySlots = heartbeat.busySlots;
    entry.queueDepth = heartbeat.queueDepth;
    entry.beatAtMs = Number(heartbeat.atNs / 1_000_000n);
  }

  setSuspended(runnerId: string, suspended: boolean): void {
    const entry = this.all.get(runnerId);
    if (entry !== undefined) entry.suspended = suspended;
  }

  get(runnerId: string): IndexedRunner | undefined {
    return this.all.get(runnerId);
  }

  /** Runners serving `modelId`, or every runner. Order does not matter: ranking breaks every tie. */
  runnersFor(modelId: string | undefined): Iterable<IndexedRunner> {
    return modelId === undefined ? this.all.values() : (this.byModel.get(modelId)?.list ?? []);
  }

  /** How many runners serve `modelId`. */
  countFor(modelId: string): number {
    return this.byModel.get(modelId)?.list.length ?? 0;
  }

  /**
   * At most `count` runners serving `modelId`, from position `start` (modulo their number) on, wrapping around: a
   * window whose cost does not grow with the model's runners. Successive starts rotate through all of them.
   */
  windowFor(modelId: string, start: number, count: number): IndexedRunner[] {
    const list = this.byModel.get(modelId)?.list ?? [];
    if (list.length <= count) return [...list];
    const from = ((start % list.length) + list.length) % list.length;
    const out: IndexedRunner[] = [];
    for (let i = 0; i < count; i++) out.push(list[(from + i) % list.length] as IndexedRunner);
    return out;
  }

  get size(): number {
    return this.all.size;
  }

  rebuild(runners: Iterable<[string, StoredRunner]>, heartbeat: (runnerId: string) => Heartbeat | undefined): void {
    this.byModel.clear();
    this.all.clear();
    for (const [, runner] of runners) this.add(runner, heartbeat(runner.id));
  }
}
