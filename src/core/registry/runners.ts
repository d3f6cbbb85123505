import { safeValidateRunnerManifest, type RunnerManifest } from '../manifest/index.js';
import { principalTextProblem } from '../principal-text.js';
import { checkReason, requireAdmin, requireAuthenticated } from './access.js';
import { err, ok, type RegistryError, type Result } from './errors.js';
import { MAX_QUEUE_DEPTH, MAX_RUNNERS, MAX_TOKENS_PER_SECOND } from './limits.js';
import { isLive } from './discovery.js';
import { bump, checkQuota } from './quotas.js';
import { effectiveOperator, operatorAccepted } from './operators.js';
import { pageOf, type Page, type PageRequest } from './pagination.js';
import { cardKey, type RegistryStore } from './store.js';
import { isRunnerState, RUNNER_STATES, type Heartbeat, type StoredRunner } from './types.js';

/**
 * Why `operator` cannot be paid, or undefined: it must be a principal's canonical text (checksum included: a typo must
 * fail here, not in every payout) and not the registry itself, whose default account is the ledger's minting account
 * (a payment to it is a burn).
 */
export function operatorProblem(operator: string, registryId: string | undefined): RegistryError | undefined {
  const problem = principalTextProblem(operator);
  if (problem !== undefined) return invalid('operator', problem);
  if (registryId !== undefined && operator === registryId)
    return invalid('operator', "the registry itself cannot be paid (its account is the ledger's minting account)");
  return undefined;
}

/**
 * Checks a manifest, its operator, and that every deployment serves a published, non-deprecated card within the card's
 * context length.
 */
function checkManifest(store: RegistryStore, input: unknown, registryId: string | undefined): Result<RunnerManifest> {
  const parsed = safeValidateRunnerManifest(input);
  if (!parsed.ok) return err({ InvalidManifest: { issues: parsed.issues } });
  const badOperator = operatorProblem(parsed.manifest.operator, registryId);
  if (badOperator !== undefined) return err(badOperator);
  for (const [index, deployment] of parsed.manifest.deployments.entries()) {
    const key = cardKey(deployment.model.id, deployment.model.digest);
    const card = store.cards.get(key);
    if (card === undefined) return err({ CardNotPublished: { model: key } });
    if (card.deprecated !== undefined) return err({ CardDeprecated: { model: key, reason: card.deprecated.reason } });
    // A runner cannot serve more context than the model was trained for: the card is the bound.
    if (deployment.servedContext > card.card.contextLength) {
      const path = `deployments[${index}].servedContext`;
      const message = `implausible: serves ${deployment.servedContext} tokens of context, more than the ${card.card.contextLength} of card ${key}`;
      return err({ InvalidManifest: { issues: [{ path, message }] } });
    }
  }
  return ok(parsed.manifest);
}

/**
 * What registering would store, without storing it: the checks of registerRunner. The bonded registration
 * (src/core/rewards/bonds.ts) runs them before it takes the bond, and registerRunner runs them again after.
 */
export function checkRegistration(
  store: RegistryStore,
  caller: string,
  nowNs: bigint,
  input: unknown,
  registryId?: string
): Result<StoredRunner> {
  const denied = requireAuthenticated(caller);
  if (denied !== undefined) return err(denied);
  if (store.runners.has(caller)) return err({ AlreadyExists: { what: `runner ${caller} (use update_runner)` } });
  if (store.runners.size() >= MAX_RUNNERS) return err({ LimitExceeded: { what: 'runners', limit: BigInt(MAX_RUNNERS) } });
  const manifest = checkManifest(store, input, registryId);
  if ('Err' in manifest) return manifest;
  const runner: StoredRunner = { id: caller, manifest: manifest.Ok, registeredAtNs: nowNs, updatedAtNs: nowNs };
  // Counted against its operator only once the operator accepts (operators.ts): until then, against itself.
  const quota = checkQuota(store, 'runners', effectiveOperator(runner));
  if ('Err' in quota) return quota;
  return ok(runner);
}

/**
 * The caller registers itself: a runner's identity is the principal that signs its calls. `registryId` is the
 * registry's own principal, which no operator may name.
 */
export function registerRunner(
  store: RegistryStore,
  caller: string,
  nowNs: bigint,
  input: unknown,
  registryId?: string
): Result<StoredRunner> {
  const checked = checkRegistration(store, caller, nowNs, input, registryId);
  if ('Err' in checked) return checked;
  return addRunner(store, checked.Ok);
}

/**
 * Stores a runner that checkRegistration returned in this same message (nothing changed since): validating a large
 * manifest again would cost as much as the first time (~20M instructions for 16 deployments in a canister).
 */
export function addRunner(store: RegistryStore, runner: StoredRunner): Result<StoredRunner> {
  bump(store, 'runners', effectiveOperator(runner), 1, runner.id);
  store.runners.set(runner.id, runner);
  store.index.add(runner);
  return ok(runner);
}

/** Only the runner itself or its operator, once that operator accepted being named (`accept_operator`), may change or remove it. */
export function manageable(store: RegistryStore, caller: string, runnerId: string): Result<StoredRunner> {
  const denied = requireAuthenticated(caller);
  if (denied !== undefined) return err(denied);
  const runner = store.runners.get(runnerId);
  if (runner === undefined) return err({ NotFound: { kind: { Runner: null }, id: runnerId } });
  if (caller !== runner.id && !(caller === runner.manifest.operator && operatorAccepted(runner))) {
    return err({ Unauthorized: { reason: 'only the runner itself or its operator (once it accepted) may manage it' } });
  }
  return ok(runner);
}

export function updateRunner(
  store: RegistryStore,
  caller: string,
  nowNs: bigint,
  runnerId: string,
  input: unknown,
  registryId?: string
): Result<StoredRunner> {
  const current = manageable(store, caller, runnerId);
  if ('Err' in current) return current;
  const manifest = checkManifest(store, input, registryId);
  if ('Err' in manifest) return manifest;
  const before = effectiveOperator(current.Ok);
  const runner: StoredRunner = { ...current.Ok, manifest: manifest.Ok, updatedAtNs: nowNs };
  // Naming another operator needs that operator's acceptance again.
  if (manifest.Ok.operator !== current.Ok.manifest.operator) delete runner.operatorAcceptedAtNs;
  const after = effectiveOperator(runner);
  if (after !== before) {
    // A runner moving to another operator takes a share of that operator's quota.
    const quota = checkQuota(store, 'runners', after);
    if ('Err' in quota) return quota;
    bump(store, 'runners', before, -1, runnerId);
    bump(store, 'runners', after, 1, runnerId);
  }
  store.runners.set(runnerId, runner);
  store.index.add(runner);
  return ok(runner);
}

export function deregisterRunner(store: RegistryStore, caller: string, runnerId: string): Result<null> {
  const current = manageable(store, caller, runnerId);
  if ('Err' in current) return current;
  store.index.remove(current.Ok);
  bump(store, 'runners', effectiveOperator(current.Ok), -1, runnerId);
  store.runners.delete(runnerId);
  store.heartbeats.delete(runnerId);
  return ok(null);
}

export interface HeartbeatInput {
  state: string;
  busySlots: number;
  queueDepth: number;
  tokensPerSecond: number;
  kvCacheUsage: number;
}

function invalid(field: string, reason: string): RegistryError {
  return { InvalidArgument: { field, reason } };
}

function checkHeartbeat(runner: StoredRunner, input: HeartbeatInput): RegistryError | undefined {
  if (!isRunnerState(input.state)) return invalid('state', `must be one of ${RUNNER_STATES.join(' | ')}`);
  const slots = runner.manifest.deployments.reduce((n, d) => n + d.slots, 0);
  if (!Number.isInteger(input.busySlots) || input.busySlots < 0 || input.busySlots > slots) {
    return invalid('busy_slots', `must be an integer between 0 and the runner's ${slots} slots`);
  }
  if (!Number.isInteger(input.queueDepth) || input.queueDepth < 0 || input.queueDepth > MAX_QUEUE_DEPTH) {
    return invalid('queue_depth', `must be an integer between 0 and ${MAX_QUEUE_DEPTH}`);
  }
  if (!Number.isFinite(input.tokensPerSecond) || input.tokensPerSecond < 0 || input.tokensPerSecond > MAX_TOKENS_PER_SECOND) {
    return invalid('tokens_per_second', `must be between 0 and ${MAX_TOKENS_PER_SECOND}`);
  }
  if (!Number.isFinite(input.kvCacheUsage) || input.kvCacheUsage < 0 || input.kvCacheUsage > 1) {
    return invalid('kv_cache_usage', 'must be a fraction between 0 and 1');
  }
  return undefined;
}

export interface HeartbeatAck {
  nextHeartbeatInNs: bigint;
  ttlNs: bigint;
}

/** Live state and load from the runner itself. Small and cheap: it runs every interval for every runner. */
export function heartbeat(store: RegistryStore, caller: string, nowNs: bigint, input: HeartbeatInput): Result<HeartbeatAck> {
  const denied = requireAuthenticated(caller);
  if (denied !== undefined) return err(denied);
  const runner = store.runners.get(caller);
  if (runner === undefined) return err({ NotFound: { kind: { Runner: null }, id: caller } });
  if (runner.suspended !== undefined) return err({ Suspended: { reason: runner.suspended.reason } });
  const problem = checkHeartbeat(runner, input);
  if (problem !== undefined) return err(problem);
  if (!isRunnerState(input.state)) return err(invalid('state', 'unknown state'));
  const beat: Heartbeat = { ...input, state: input.state, atNs: nowNs };
  store.heartbeats.set(caller, beat);
  store.index.beat(caller, beat);
  const config = store.config();
  return ok({ nextHeartbeatInNs: config.heartbeatIntervalNs, ttlNs: config.heartbeatTtlNs });
}

export function setSuspended(
  store: RegistryStore,
  caller: string,
  nowNs: bigint,
  runnerId: string,
  reason: string | undefined
): Result<null> {
  const denied = requireAdmin(store, caller);
  if (denied !== undefined) return err(denied);
  const runner = store.runners.get(runnerId);
  if (runner === undefined) return err({ NotFound: { kind: { Runner: null }, id: runnerId } });
  if (reason === undefined) {
    const { suspended: _gone, ...rest } = runner;
    void _gone;
    store.runners.set(runnerId, rest);
    store.index.setSuspended(runnerId, false);
    return ok(null);
  }
  const checked = checkReason(reason);
  if ('Err' in checked) return checked;
  store.runners.set(runnerId, { ...runner, suspended: { reason, atNs: nowNs, by: caller } });
  store.index.setSuspended(runnerId, true);
  return ok(null);
}

export interface RunnerFilter {
  model?: string;
  liveOnly?: boolean;
}

/** Runners in principal order, optionally only those serving `model` or only live ones. */
export function listRunners(store: RegistryStore, nowNs: bigint, filter: RunnerFilter, page: PageRequest): Result<Page<StoredRunner>> {
  const ttlNs = store.config().heartbeatTtlNs;
  return pageOf(store.runners.entries(page.after), page, (runner) => {
    if (filter.model !== undefined && !runner.manifest.deployments.some((d) => d.model.id === filter.model)) return false;
    if (filter.liveOnly === true && (runner.suspended !== undefined || !isLive(store.heartbeats.get(runner.id), nowNs, ttlNs)))
      return false;
    return true;
  });
}
