import type { ModelCard, RunnerManifest } from '../manifest/index.js';
import { err, ok, type Result } from './errors.js';
import { DEFAULT_FIND_RESULTS, MAX_AFFINITY_KEY_LENGTH, MAX_FILTER_TEXT, MAX_FILTER_VALUES, MAX_FIND_RESULTS } from './limits.js';
import { affinityWeight, components, scoreOf, type Breakdown, type RankInput } from './ranking.js';
import { cardKey, type RegistryStore } from './store.js';
import type { Heartbeat, RunnerState } from './types.js';

/** What a dApp asks for. Every field is optional; an empty request lists every live runner. */
export interface FindRequest {
  model?: string;
  family?: string;
  minContext?: number;
  quantizations?: string[];
  minBits?: number;
  inputModality?: string;
  outputModality?: string;
  capabilities?: string[];
  engine?: string;
  acceleratorClass?: string;
  region?: string;
  maxInputPricePerMillion?: bigint;
  maxOutputPricePerMillion?: bigint;
  endpointRequired?: boolean;
  confidentialRequired?: boolean;
  /** Requests with the same key keep going to the same runner while it stays live (prompt-cache affinity). */
  affinityKey?: string;
  limit?: number;
}

export interface Candidate {
  runnerId: string;
  endpoint?: string;
  region: string;
  model: { id: string; digest: string };
  engine: string;
  deployment: number;
  inputPricePerMillion: bigint;
  outputPricePerMillion: bigint;
  state: RunnerState;
  freeSlots: number;
  heartbeatAgeNs: bigint;
  score: number;
  breakdown: Breakdown;
  /** True for the runner the affinity key pins (it is listed first). */
  affinity: boolean;
}

const LIVE_STATES: ReadonlySet<RunnerState> = new Set(['ready', 'busy']);

function checkRequest(request: FindRequest): Result<number> {
  const limit = request.limit ?? DEFAULT_FIND_RESULTS;
  const bad = (field: string, reason: string): Result<number> => err({ InvalidArgument: { field, reason } });
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_FIND_RESULTS) return bad('limit', `must be between 1 and ${MAX_FIND_RESULTS}`);
  for (const [field, value] of Object.entries(request)) {
    if (typeof value === 'string' && value.length > MAX_FILTER_TEXT) return bad(field, `longer than ${MAX_FILTER_TEXT} characters`);
    if (Array.isArray(value) && value.length > MAX_FILTER_VALUES) return bad(field, `more than ${MAX_FILTER_VALUES} values`);
  }
  if (request.affinityKey !== undefined && (request.affinityKey.length === 0 || request.affinityKey.length > MAX_AFFINITY_KEY_LENGTH)) {
    return bad('affinity_key', `must be 1 to ${MAX_AFFINITY_KEY_LENGTH} characters`);
  }
  if (request.minBits !== undefined && !(request.minBits > 0 && request.minBits <= 32)) return bad('min_bits', 'must be in (0, 32]');
  return ok(limit);
}

function cardMatches(card: ModelCard, request: FindRequest): boolean {
  if (request.family !== undefined && card.family !== request.family) return false;
  if (request.quantizations !== undefined && request.quantizations.length > 0 && !request.quantizations.includes(card.quantization.method)) return false;
  if (request.minBits !== undefined && card.quantization.bits < request.minBits) return false;
  if (request.inputModality !== undefined && !card.modalities.input.some((m) => m === request.inputModality)) return false;
  if (request.outputModality !== undefined && !card.modalities.output.some((m) => m === request.outputModality)) return false;
  for (const capability of request.capabilities ?? []) if (!card.capabilities.some((c) => c === capability)) return false;
  return true;
}

function runnerMatches(manifest: RunnerManifest, request: FindRequest): boolean {
  if (request.region !== undefined && manifest.region !== request.region) return false;
  if (request.endpointRequired === true && manifest.endpoint === undefined) return false;
  if (request.confidentialRequired === true && manifest.confidential.kind === 'none') return false;
  if (request.acceleratorClass !== undefined && !manifest.hardware.accelerators.some((a) => a.class === request.acceleratorClass)) {
    // A CPU-only runner has no accelerator entry but still serves class "cpu".
    if (!(request.acceleratorClass === 'cpu' && manifest.hardware.accelerators.length === 0)) return false;
  }
  return true;
}

function topsPerWatt(manifest: RunnerManifest): number | undefined {
  let best: number | undefined;
  for (const a of manifest.hardware.accelerators) {
    if (a.peakTops !== undefined && a.watts !== undefined && a.watts > 0) best = Math.max(best ?? 0, a.peakTops / a.watts);
  }
  return best;
}

/** Whether a heartbeat makes its runner discoverable now. */
export function isLive(heartbeat: Heartbeat | undefined, nowNs: bigint, ttlNs: bigint): heartbeat is Heartbeat {
  return heartbeat !== undefined && LIVE_STATES.has(heartbeat.state) && nowNs - heartbeat.atNs <= ttlNs;
}

/**
 * Ranked candidates for a request, each with its score and the breakdown that explains it. Runners whose last
 * heartbeat is older than the TTL, suspended runners and deprecated cards never appear.
 */
export function findRunners(store: RegistryStore, nowNs: bigint, request: FindRequest): Result<Candidate[]> {
  const checked = checkRequest(request);
  if ('Err' in checked) return checked;
  const ttlNs = store.config().heartbeatTtlNs;
  const matches: Array<{ input: RankInput; candidate: Omit<Candidate, 'score' | 'breakdown' | 'affinity'>; latencyMs: number }> = [];
  for (const runnerId of store.index.runnersFor(request.model)) {
    const runner = store.runners.get(runnerId);
    const beat = store.heartbeats.get(runnerId);
    if (runner === undefined || runner.suspended !== undefined || !isLive(beat, nowNs, ttlNs)) continue;
    if (!runnerMatches(runner.manifest, request)) continue;
    const slots = runner.manifest.deployments.reduce((n, d) => n + d.slots, 0);
    runner.manifest.deployments.forEach((deployment, index) => {
      if (request.model !== undefined && deployment.model.id !== request.model) return;
      if (request.engine !== undefined && deployment.engine !== request.engine) return;
      if (request.minContext !== undefined && deployment.servedContext < request.minContext) return;
      const price = deployment.price;
      if (request.maxInputPricePerMillion !== undefined && price.inputPerMillion > request.maxInputPricePerMillion) return;
      if (request.maxOutputPricePerMillion !== undefined && price.outputPerMillion > request.maxOutputPricePerMillion) return;
      const card = store.cards.get(cardKey(deployment.model.id, deployment.model.digest));
      if (card === undefined || card.deprecated !== undefined || !cardMatches(card.card, request)) return;
      const reputation = store.reputation.get(runnerId);
      matches.push({
        input: { runnerId, slots, heartbeat: beat, ttlNs, nowNs, blendedPrice: price.inputPerMillion + price.outputPerMillion, reputation, topsPerWatt: topsPerWatt(runner.manifest) },
        candidate: {
          runnerId,
          endpoint: runner.manifest.endpoint,
          region: runner.manifest.region,
          model: { id: deployment.model.id, digest: deployment.model.digest },
          engine: deployment.engine,
          deployment: index,
          inputPricePerMillion: price.inputPerMillion,
          outputPricePerMillion: price.outputPerMillion,
          state: beat.state,
          freeSlots: Math.max(0, slots - beat.busySlots),
          heartbeatAgeNs: nowNs - beat.atNs
        },
        latencyMs: reputation?.latencyMsEma ?? 0
      });
    });
  }
  let cheapest: bigint | undefined;
  let fastest = Infinity;
  let bestEfficiency = 0;
  for (const m of matches) {
    if (cheapest === undefined || m.input.blendedPrice < cheapest) cheapest = m.input.blendedPrice;
    if (m.latencyMs > 0) fastest = Math.min(fastest, m.latencyMs);
    bestEfficiency = Math.max(bestEfficiency, m.input.topsPerWatt ?? 0);
  }
  const ranked: Candidate[] = matches.map((m) => {
    const breakdown = components(m.input, cheapest ?? 0n, Number.isFinite(fastest) ? fastest : 0, bestEfficiency);
    return { ...m.candidate, score: scoreOf(breakdown), breakdown, affinity: false };
  });
  ranked.sort((a, b) => b.score - a.score || (a.runnerId < b.runnerId ? -1 : a.runnerId > b.runnerId ? 1 : a.deployment - b.deployment));
  const key = request.affinityKey;
  if (key !== undefined && ranked.length > 0) {
    // Rendezvous hashing among live candidates with free capacity: stable while the pinned runner stays live.
    const pool = ranked.filter((c) => c.freeSlots > 0);
    const pinned = (pool.length > 0 ? pool : ranked).reduce((best, c) => (affinityWeight(key, c.runnerId) > affinityWeight(key, best.runnerId) ? c : best));
    pinned.affinity = true;
    ranked.splice(ranked.indexOf(pinned), 1);
    ranked.unshift(pinned);
  }
  return ok(ranked.slice(0, checked.Ok));
}

export interface ModelStats {
  model: string;
  readyRunners: number;
  freeSlots: number;
  queueDepth: number;
  medianInputPricePerMillion: bigint;
  medianOutputPricePerMillion: bigint;
}

function median(values: bigint[]): bigint {
  if (values.length === 0) return 0n;
  const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? 0n;
}

/** Per model id: live runners, free slots, queue depth and median prices. */
export function stats(store: RegistryStore, nowNs: bigint): ModelStats[] {
  const ttlNs = store.config().heartbeatTtlNs;
  const perModel = new Map<string, { runners: Set<string>; free: number; queue: number; input: bigint[]; output: bigint[] }>();
  for (const runnerId of store.index.runnersFor(undefined)) {
    const runner = store.runners.get(runnerId);
    const beat = store.heartbeats.get(runnerId);
    if (runner === undefined || runner.suspended !== undefined || !isLive(beat, nowNs, ttlNs)) continue;
    const slots = runner.manifest.deployments.reduce((n, d) => n + d.slots, 0);
    for (const deployment of runner.manifest.deployments) {
      const entry = perModel.get(deployment.model.id) ?? { runners: new Set(), free: 0, queue: 0, input: [], output: [] };
      if (!entry.runners.has(runnerId)) {
        entry.runners.add(runnerId);
        entry.free += Math.max(0, slots - beat.busySlots);
        entry.queue += beat.queueDepth;
      }
      entry.input.push(deployment.price.inputPerMillion);
      entry.output.push(deployment.price.outputPerMillion);
      perModel.set(deployment.model.id, entry);
    }
  }
  return [...perModel.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([model, e]) => ({
      model,
      readyRunners: e.runners.size,
      freeSlots: e.free,
      queueDepth: e.queue,
      medianInputPricePerMillion: median(e.input),
      medianOutputPricePerMillion: median(e.output)
    }));
}
