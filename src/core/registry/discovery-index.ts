import { confidentialOf } from './confidential.js';
import type { Heartbeat, Reputation, RunnerState, StoredRunner } from './types.js';

/** Runners per model the index keeps as its proven top (routing always ranks them besides its window). */
export const MAX_TOP_RUNNERS = 8;

/**
 * A runner's proven record: independent accepted tasks less rejections, failures and expired leases (what a vote's
 * weight grows with). Only work independent requesters accepted and paid fees for raises it, so Sybils cannot buy
 * their way above an honest runner's record for less than that runner's paid history.
 */
export const provenRecord = (r: Reputation | undefined): number =>
  r === undefined ? 0 : (r.independentAccepted ?? 0) - r.rejected - r.failed - r.expiredLeases;

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
  /** Its proven record (provenRecord), kept current by `noteRecord`. */
  record: number;
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
  /** Per model: the MAX_TOP_RUNNERS runners with the best positive record, best first (ties by id). */
  private readonly top = new Map<string, IndexedRunner[]>();

  add(runner: StoredRunner, heartbeat?: Heartbeat, reputation?: Reputation): void {
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
      beatAtMs: previous?.beatAtMs ?? 0,
      record: reputation === undefined ? (previous?.record ?? 0) : provenRecord(reputation)
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
    this.rankTop(entry);
  }

  /** The runner's reputation changed: its record moves it in or out of its models' top lists (O(MAX_TOP_RUNNERS)). */
  noteRecord(runnerId: string, reputation: Reputation): void {
    const entry = this.all.get(runnerId);
    if (entry === undefined) return;
    entry.record = provenRecord(reputation);
    this.unrankTop(entry);
    this.rankTop(entry);
  }

  /** The model's proven top runners, best first: at most MAX_TOP_RUNNERS. */
  topFor(modelId: string): readonly IndexedRunner[] {
    return this.top.get(modelId) ?? [];
  }

  private rankTop(entry: IndexedRunner): void {
    if (entry.record <= 0) return;
    for (const modelId of new Set(entry.deployments.map((d) => d.modelId))) {
      const list = (this.top.get(modelId) ?? []).filter((r) => r.id !== entry.id);
      const at = list.findIndex((r) => r.record < entry.record || (r.record === entry.record && r.id > entry.id));
      list.splice(at === -1 ? list.length : at, 0, entry);
      if (list.length > MAX_TOP_RUNNERS) list.length = MAX_TOP_RUNNERS;
      this.top.set(modelId, list);
    }
  }

  private unrankTop(entry: { id: string; deployments: IndexedDeployment[] }): void {
    for (const d of entry.deployments) {
      const list = this.top.get(d.modelId);
      if (list === undefined || !list.some((r) => r.id === entry.id)) continue;
      const rest = list.filter((r) => r.id !== entry.id);
      if (rest.length === 0) this.top.delete(d.modelId);
      else this.top.set(d.modelId, rest);
    }
  }

  remove(runner: { id: string }): void {
    const entry = this.all.get(runner.id);
    if (entry === undefined) return;
    this.all.delete(runner.id);
    this.unrankTop(entry);
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

  rebuild(
    runners: Iterable<[string, StoredRunner]>,
    heartbeat: (runnerId: string) => Heartbeat | undefined,
    reputation: (runnerId: string) => Reputation | undefined = () => undefined
  ): void {
    this.byModel.clear();
    this.all.clear();
    this.top.clear();
    for (const [, runner] of runners) this.add(runner, heartbeat(runner.id), reputation(runner.id));
  }
}
