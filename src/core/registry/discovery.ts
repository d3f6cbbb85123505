import type { ModelCard } from '../manifest/index.js';
import type { IndexedDeployment, IndexedRunner } from './discovery-index.js';
import { err, ok, type Result } from './errors.js';
import {
  DEFAULT_FIND_RESULTS,
  MAX_AFFINITY_KEY_LENGTH,
  MAX_FILTER_TEXT,
  MAX_FILTER_VALUES,
  MAX_FIND_RESULTS,
  MAX_UNFILTERED_SCAN
} from './limits.js';
import { components, measuredLatencyMs, median, rankedTopsPerWatt, scoreOf, type Breakdown, type Medians } from './ranking.js';
import { confidentialOf } from './confidential.js';
import { mayPublish, namespaceOf } from './namespaces.js';
import type { RegistryStore } from './store.js';
import type { Heartbeat, Reputation, RunnerState } from './types.js';

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
  /** Only runners whose confidential-computing attestation the registry verified (an unverified claim is not enough). */
  confidentialRequired?: boolean;
  /**
   * The caller's session key: once a runner served a task with it, the caller's requests with the key go to that
   * runner first while it is live with free capacity (prompt-cache affinity, src/core/registry/affinity.ts).
   */
  affinityKey?: string;
  limit?: number;
  /** Only deployments of these exact weights (`sha256:…`); empty or absent: any digest of the model. */
  digests?: string[];
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
  /** The runner's confidential-computing claim (`none`, `sev-snp`, …) and whether its attestation was verified. */
  confidentialKind: string;
  confidentialVerified: boolean;
  /** The context (tokens) the runner serves the model with, as its engine reported it when it registered. */
  servedContext: number;
}

const LIVE_STATES: ReadonlySet<RunnerState> = new Set(['ready', 'busy']);

/** A model id as cards name them (`org/name`, see src/core/manifest/fields.ts); anything else matches no card. */
const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\/[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;
const SHA256_DIGEST = /^sha256:[0-9a-f]{64}$/;

/** Whether a deployment serves weights the request pins (any, when it pins none). */
function digestMatches(d: IndexedDeployment, request: FindRequest): boolean {
  return request.digests === undefined || request.digests.length === 0 || request.digests.includes(d.digest);
}

/**
 * Bounds of a FindRequest (find_runners and submit_task's `request`): sizes first, then characters. Returns the
 * result limit. Cheap: it reads each field once and never touches the store.
 */
export function checkFindRequest(request: FindRequest): Result<number> {
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
  if (request.affinityKey !== undefined && CONTROL_CHARACTERS.test(request.affinityKey))
    return bad('affinity_key', 'must not contain control characters');
  if (request.model !== undefined && !MODEL_ID.test(request.model))
    return bad('model', 'expected a model id "org/name" (A-Z a-z 0-9 . _ -)');
  if (request.minBits !== undefined && !(request.minBits > 0 && request.minBits <= 32)) return bad('min_bits', 'must be in (0, 32]');
  if (request.digests !== undefined && !request.digests.every((digest) => SHA256_DIGEST.test(digest)))
    return bad('digests', 'expected digests "sha256:" followed by 64 lowercase hex digits');
  return ok(limit);
}

/**
 * Whether a deployment's card may serve `request`: live (not deprecated), matching its filters, and, unless the request
 * pins digests, published by its namespace's current owner or a delegate. A squatter's card (published before an
 * admin assigned the org to its owner) serves only requests that pin its exact weights.
 */
function cardServes(store: RegistryStore, cardKey: string, request: FindRequest): boolean {
  const stored = store.cards.get(cardKey);
  if (stored === undefined || stored.deprecated !== undefined || !cardMatches(stored.card, request)) return false;
  if (request.digests !== undefined && request.digests.length > 0) return true;
  return mayPublish(store.namespaces.get(namespaceOf(stored.card.id)), stored.publishedBy);
}

function cardMatches(card: ModelCard, request: FindRequest): boolean {
  if (request.family !== undefined && card.family !== request.family) return false;
  if (request.quantizations !== undefined && request.quantizations.length > 0 && !request.quantizations.includes(card.quantization.method))
    return false;
  if (request.minBits !== undefined && card.quantization.bits < request.minBits) return false;
  if (request.inputModality !== undefined && !card.modalities.input.some((m) => m === request.inputModality)) return false;
  if (request.outputModality !== undefined && !card.modalities.output.some((m) => m === request.outputModality)) return false;
  for (const capability of request.capabilities ?? []) if (!card.capabilities.some((c) => c === capability)) return false;
  return true;
}

function runnerMatches(runner: IndexedRunner, request: FindRequest): boolean {
  if (request.region !== undefined && runner.region !== request.region) return false;
  if (request.endpointRequired === true && !runner.hasEndpoint) return false;
  if (request.confidentialRequired === true && !runner.confidentialVerified) return false;
  if (request.acceleratorClass !== undefined && !runner.acceleratorClasses.includes(request.acceleratorClass)) return false;
  return true;
}

/** Live in number arithmetic (no BigInt per runner): ready or busy, and heard from within the TTL. */
function liveNow(runner: IndexedRunner, nowMs: number, ttlMs: number): boolean {
  return !runner.suspended && (runner.state === 'ready' || runner.state === 'busy') && nowMs - runner.beatAtMs <= ttlMs;
}

/** Whether a heartbeat makes its runner discoverable now. */
export function isLive(heartbeat: Heartbeat | undefined, nowNs: bigint, ttlNs: bigint): heartbeat is Heartbeat {
  return heartbeat !== undefined && LIVE_STATES.has(heartbeat.state) && nowNs - heartbeat.atNs <= ttlNs;
}

/**
 * The runners a request examines. Without a model filter and with more than MAX_UNFILTERED_SCAN runners, a window of
 * that many, starting at a point that moves every second: the query stays within its instruction budget (ranking
 * every runner would not) and answers instead of failing, and every runner gets its turn.
 */
function* scanned(store: RegistryStore, model: string | undefined, nowMs: number): Iterable<IndexedRunner> {
  const size = store.index.size;
  if (model !== undefined || size <= MAX_UNFILTERED_SCAN) {
    yield* store.index.runnersFor(model);
    return;
  }
  const start = Math.floor(nowMs / 1000) % size;
  let i = 0;
  for (const runner of store.index.runnersFor(undefined)) {
    const position = (i - start + size) % size;
    i++;
    if (position < MAX_UNFILTERED_SCAN) yield runner;
  }
}

/**
 * Ranked candidates for a request, each with its score and the breakdown that explains it. Runners whose last
 * heartbeat is older than the TTL, suspended runners and deprecated cards never appear. `caller`'s affinity binding
 * for `request.affinityKey`, if any, is listed first. `pool`, when given, is the runners to examine instead of every
 * runner of the model (paid routing ranks a bounded window: src/core/tasks/routing.ts), and `accept` a further test
 * of each deployment (paid routing's: whether the task's budget covers its prices).
 */
export function findRunners(
  store: RegistryStore,
  nowNs: bigint,
  request: FindRequest,
  caller?: string,
  pool?: Iterable<IndexedRunner>,
  accept: (deployment: IndexedDeployment) => boolean = () => true
): Result<Candidate[]> {
  const checked = checkFindRequest(request);
  if ('Err' in checked) return checked;
  const ttlNs = store.config().heartbeatTtlNs;
  const ttlMs = Number(ttlNs / 1_000_000n);
  const nowMs = Number(nowNs / 1_000_000n);
  // One pass over the runners of the requested model, in plain numbers; card checks are memoized per request and
  // full candidates are built only for the results returned.
  const cardOk = new Map<string, boolean>();
  const matches: Match[] = [];
  for (const runner of pool ?? scanned(store, request.model, nowMs)) {
    if (!liveNow(runner, nowMs, ttlMs) || !runnerMatches(runner, request)) continue;
    for (const d of runner.deployments) {
      if (request.model !== undefined && d.modelId !== request.model) continue;
      if (request.engine !== undefined && d.engine !== request.engine) continue;
      if (!digestMatches(d, request)) continue;
      if (request.minContext !== undefined && d.servedContext < request.minContext) continue;
      if (request.maxInputPricePerMillion !== undefined && d.inputPrice > request.maxInputPricePerMillion) continue;
      if (request.maxOutputPricePerMillion !== undefined && d.outputPrice > request.maxOutputPricePerMillion) continue;
      if (!accept(d)) continue;
      let ok = cardOk.get(d.cardKey);
      if (ok === undefined) {
        ok = cardServes(store, d.cardKey, request);
        cardOk.set(d.cardKey, ok);
      }
      if (ok) matches.push({ runner, deployment: d, reputation: store.reputation.get(runner.id), score: 0 });
    }
  }
  const context: RankContext = { nowMs, ttlMs, medians: mediansOf(matches) };
  // Keep only the best `limit` matches (insertion into a short sorted list): O(n · limit), no full sort of
  // every candidate, which at 10,000 runners would cost more than the query limit allows.
  const limit = checked.Ok;
  const top: Match[] = [];
  for (const m of matches) {
    m.score = scoreOf(rank(m, context));
    const worst = top[top.length - 1];
    if (top.length === limit && worst !== undefined && before(worst, m)) continue;
    let at = top.length;
    while (at > 0 && before(m, top[at - 1] as Match)) at--;
    top.splice(at, 0, m);
    if (top.length > limit) top.pop();
  }
  const pinned = affinityPin(store, caller, request.affinityKey, matches);
  const chosen = pinned === undefined ? top : [pinned, ...top.filter((m) => m !== pinned)].slice(0, limit);
  return ok(chosen.map((m) => toCandidate(store, m, rank(m, context), nowNs, m === pinned)));
}

/**
 * The deployment of `runnerId` that can serve `request` now (live, not suspended, card published and matching), or
 * undefined. Task claims use it: a runner may only lease work it could have been found for (and, by `accept`, whose
 * budget covers the deployment's prices).
 */
export function matchingDeployment(
  store: RegistryStore,
  nowNs: bigint,
  runnerId: string,
  request: FindRequest,
  accept: (deployment: IndexedDeployment) => boolean = () => true
): IndexedDeployment | undefined {
  const runner = store.index.get(runnerId);
  const ttlNs = store.config().heartbeatTtlNs;
  if (runner === undefined || !liveNow(runner, Number(nowNs / 1_000_000n), Number(ttlNs / 1_000_000n)) || !runnerMatches(runner, request))
    return undefined;
  return runner.deployments.find((d) => {
    if (request.model !== undefined && d.modelId !== request.model) return false;
    if (request.engine !== undefined && d.engine !== request.engine) return false;
    if (!digestMatches(d, request)) return false;
    if (request.minContext !== undefined && d.servedContext < request.minContext) return false;
    if (request.maxInputPricePerMillion !== undefined && d.inputPrice > request.maxInputPricePerMillion) return false;
    if (request.maxOutputPricePerMillion !== undefined && d.outputPrice > request.maxOutputPricePerMillion) return false;
    if (!accept(d)) return false;
    return cardServes(store, d.cardKey, request);
  });
}

interface RankContext {
  nowMs: number;
  ttlMs: number;
  medians: Medians;
}

/** The candidates' medians of blended price, measured latency and (clamped) TOPS/W: what relative components compare. */
function mediansOf(matches: Match[]): Medians {
  const prices: number[] = [];
  const latencies: number[] = [];
  const efficiencies: number[] = [];
  for (const m of matches) {
    prices.push(Math.max(0, m.deployment.blendedPrice));
    const latency = measuredLatencyMs(m.reputation);
    if (latency !== undefined) latencies.push(latency);
    const efficiency = rankedTopsPerWatt(m.runner.topsPerWatt);
    if (efficiency !== undefined) efficiencies.push(efficiency);
  }
  return { price: median(prices), latencyMs: median(latencies), topsPerWatt: median(efficiencies) };
}

/**
 * The match `caller`'s session for `key` stays on: the runner bound to it by service, while it is a live candidate
 * with a free slot. Nothing else pins: a runner cannot make itself the pin by choosing its identity.
 */
function affinityPin(store: RegistryStore, caller: string | undefined, key: string | undefined, matches: Match[]): Match | undefined {
  if (caller === undefined || key === undefined) return undefined;
  const bound = store.affinity.runnerFor(caller, key);
  if (bound === undefined) return undefined;
  let pinned: Match | undefined;
  for (const m of matches) {
    if (m.runner.id !== bound || m.runner.slots - m.runner.busySlots <= 0) continue;
    if (pinned === undefined || before(m, pinned)) pinned = m;
  }
  return pinned;
}

function rank(m: Match, c: RankContext): Breakdown {
  return components(
    {
      slots: m.runner.slots,
      busySlots: m.runner.busySlots,
      queueDepth: m.runner.queueDepth,
      ageMs: c.nowMs - m.runner.beatAtMs,
      ttlMs: c.ttlMs,
      blendedPrice: m.deployment.blendedPrice,
      reputation: m.reputation,
      topsPerWatt: m.runner.topsPerWatt
    },
    c.medians
  );
}

/** Ranking order: higher score first, then runner id, then deployment index (a total order). */
function before(a: Match, b: Match): boolean {
  if (a.score !== b.score) return a.score > b.score;
  if (a.runner.id !== b.runner.id) return a.runner.id < b.runner.id;
  return a.deployment.index < b.deployment.index;
}

interface Match {
  runner: IndexedRunner;
  deployment: IndexedDeployment;
  reputation: Reputation | undefined;
  score: number;
}

function toCandidate(store: RegistryStore, m: Match, breakdown: Breakdown, nowNs: bigint, affinity: boolean): Candidate {
  const stored = store.runners.get(m.runner.id);
  const beat = store.heartbeats.get(m.runner.id);
  const deployment = stored?.manifest.deployments[m.deployment.index];
  if (stored === undefined || beat === undefined || deployment === undefined) {
    throw new Error('invariant: the discovery index names a stored runner, its heartbeat and its deployment');
  }
  return {
    runnerId: m.runner.id,
    endpoint: stored.manifest.endpoint,
    region: stored.manifest.region,
    model: { id: deployment.model.id, digest: deployment.model.digest },
    engine: deployment.engine,
    deployment: m.deployment.index,
    inputPricePerMillion: deployment.price.inputPerMillion,
    outputPricePerMillion: deployment.price.outputPerMillion,
    state: beat.state,
    freeSlots: Math.max(0, m.runner.slots - beat.busySlots),
    heartbeatAgeNs: nowNs - beat.atNs,
    score: m.score,
    breakdown,
    affinity,
    confidentialKind: stored.manifest.confidential.kind,
    confidentialVerified: stored.manifest.confidential.kind !== 'none' && confidentialOf(stored).verified,
    servedContext: m.deployment.servedContext
  };
}

export interface ModelStats {
  model: string;
  readyRunners: number;
  freeSlots: number;
  queueDepth: number;
  medianInputPricePerMillion: bigint;
  medianOutputPricePerMillion: bigint;
}

function medianAmount(values: bigint[]): bigint {
  if (values.length === 0) return 0n;
  const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? 0n;
}

/** Per model id: live runners, free slots, queue depth and median prices. */
export function stats(store: RegistryStore, nowNs: bigint): ModelStats[] {
  const ttlMs = Number(store.config().heartbeatTtlNs / 1_000_000n);
  const nowMs = Number(nowNs / 1_000_000n);
  const perModel = new Map<string, { runners: Set<string>; free: number; queue: number; input: bigint[]; output: bigint[] }>();
  for (const runner of store.index.runnersFor(undefined)) {
    if (!liveNow(runner, nowMs, ttlMs)) continue;
    for (const d of runner.deployments) {
      const entry = perModel.get(d.modelId) ?? { runners: new Set(), free: 0, queue: 0, input: [], output: [] };
      if (!entry.runners.has(runner.id)) {
        entry.runners.add(runner.id);
        entry.free += Math.max(0, runner.slots - runner.busySlots);
        entry.queue += runner.queueDepth;
      }
      entry.input.push(d.inputPrice);
      entry.output.push(d.outputPrice);
      perModel.set(d.modelId, entry);
    }
  }
  return [...perModel.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([model, e]) => ({
      model,
      readyRunners: e.runners.size,
      freeSlots: e.free,
      queueDepth: e.queue,
      medianInputPricePerMillion: medianAmount(e.input),
      medianOutputPricePerMillion: medianAmount(e.output)
    }));
}
