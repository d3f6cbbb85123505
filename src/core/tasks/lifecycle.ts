import { ANONYMOUS_PRINCIPAL, err, ok, type Result } from '../registry/errors.js';
import { matchingDeployment, type FindRequest } from '../registry/discovery.js';
import type { RegistryStore } from '../registry/store.js';
import { quoteReward } from './economics.js';
import { settle } from './settlement.js';
import {
  MAX_DEADLINE_NS,
  MAX_FAILURES,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  MAX_INLINE_INPUT_BYTES,
  MAX_OPEN_TASKS,
  MAX_OUTPUT_BYTES,
  MAX_OUTPUT_TOKENS,
  MAX_REASON_LENGTH,
  MAX_REDUNDANCY,
  MAX_REFERENCE_LENGTH
} from './limits.js';
import { summarizeTask } from './listing.js';
import { taskId, type TaskStore } from './store.js';
import type { GenerationLimits, Lease, OpenTask, PayAccount, Task, TaskInput, TaskResult } from './types.js';

export type Stores = RegistryStore & TaskStore;

export interface SubmitArgs {
  idempotencyKey: string;
  request: FindRequest;
  input: TaskInput;
  limits: GenerationLimits;
  rewardE8s: bigint;
  deadlineNs: bigint;
  redundancy: number;
  refundSubaccount?: string;
}

export interface ResultArgs {
  outputDigest: string;
  output?: string;
  reference?: string;
  inputTokens: bigint;
  outputTokens: bigint;
  firstTokenMs: number;
  totalMs: number;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const bad = <T>(field: string, reason: string): Result<T> => err({ InvalidArgument: { field, reason } });
const byteLength = (text: string): number => {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c <= 0xdbff ? (i++, 4) : 3;
  }
  return n;
};

function openOf(task: Task): OpenTask {
  const open: OpenTask = {
    model: task.request.model,
    state: task.state,
    deadlineNs: task.deadlineNs,
    redundancy: task.redundancy,
    leases: task.leases,
    done: [...task.results.map((r) => r.runner), ...task.failures.map((f) => f.runner)],
    results: task.results.length
  };
  if (task.reviewEndsAtNs !== undefined) open.reviewEndsAtNs = task.reviewEndsAtNs;
  return open;
}

/** Writes a task with its listing summary, and keeps the heap queue in step with it. */
export function saveTask(store: Stores, task: Task): void {
  store.tasks.set(task.id, task);
  store.summaries.set(task.id, summarizeTask(task));
  if (task.state === 'accepted' || task.state === 'rejected' || task.state === 'failed' || task.state === 'expired')
    store.open.delete(task.id);
  else store.open.set(task.id, openOf(task));
}

function checkSubmit(store: Stores, now: bigint, args: SubmitArgs): Result<null> {
  const key = args.idempotencyKey;
  if (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH)
    return bad('idempotency_key', `must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
  if (args.request.model === undefined || args.request.model.length === 0)
    return bad('request.model', 'a task must name the model it needs');
  const { inline, digest, reference } = args.input;
  if (inline === undefined && (digest === undefined || reference === undefined))
    return bad('input', 'give the input inline, or its digest and a reference');
  if (inline !== undefined && byteLength(inline) > MAX_INLINE_INPUT_BYTES)
    return bad('input.inline', `larger than ${MAX_INLINE_INPUT_BYTES} bytes`);
  if (digest !== undefined && !DIGEST.test(digest)) return bad('input.digest', 'expected sha256:<64 lowercase hex>');
  if (reference !== undefined && (reference.length === 0 || reference.length > MAX_REFERENCE_LENGTH))
    return bad('input.reference', `must be 1 to ${MAX_REFERENCE_LENGTH} characters`);
  const { maxOutputTokens, temperature, seed } = args.limits;
  if (!Number.isInteger(maxOutputTokens) || maxOutputTokens < 1 || maxOutputTokens > MAX_OUTPUT_TOKENS)
    return bad('limits.max_output_tokens', `must be 1 to ${MAX_OUTPUT_TOKENS}`);
  if (temperature !== undefined && !(temperature >= 0 && temperature <= 2)) return bad('limits.temperature', 'must be between 0 and 2');
  if (!Number.isInteger(args.redundancy) || args.redundancy < 1 || args.redundancy > MAX_REDUNDANCY)
    return bad('redundancy', `must be 1 to ${MAX_REDUNDANCY}`);
  if (args.redundancy > 1 && (temperature !== 0 || seed === undefined)) {
    return bad('limits', 'redundant tasks need deterministic settings: temperature 0 and a fixed seed, so that honest outputs agree');
  }
  if (args.deadlineNs <= now || args.deadlineNs > now + MAX_DEADLINE_NS)
    return bad('deadline_ns', 'must be in the future, at most 7 days ahead');
  if (args.refundSubaccount !== undefined && !/^[0-9a-f]{64}$/.test(args.refundSubaccount))
    return bad('refund_subaccount', 'must be 32 bytes');
  const quote = quoteReward(store.taskConfig(), args.rewardE8s, args.redundancy);
  if (!quote.acceptable) {
    return bad(
      'reward_e8s',
      `too small: at least ${store.taskConfig().minRewardE8s}, and each of the ${args.redundancy} runner payouts must exceed the ledger fee`
    );
  }
  if (store.open.size() >= MAX_OPEN_TASKS) return err({ LimitExceeded: { what: 'open tasks', limit: BigInt(MAX_OPEN_TASKS) } });
  return ok(null);
}

/**
 * Creates a task in `escrowing` and says what to escrow; the caller then runs the ledger's `transfer_from` and calls
 * `escrowConfirmed` or `escrowFailed`. A repeated idempotency key returns the first task and nothing to escrow.
 */
export function submitTask(
  store: Stores,
  caller: string,
  now: bigint,
  args: SubmitArgs
): Result<{ task: Task; escrow?: { from: PayAccount; amountE8s: bigint } }> {
  if (caller === ANONYMOUS_PRINCIPAL) return err({ AnonymousCaller: null });
  const config = store.taskConfig();
  if (config.ledger === undefined) return err({ NotConfigured: { what: 'ledger canister (set_task_config)' } });
  const idempotency = `${caller}|${args.idempotencyKey}`;
  const existingId = store.idempotency.get(idempotency);
  const existing = existingId === undefined ? undefined : store.tasks.get(existingId);
  if (existing !== undefined) return ok({ task: existing });
  const checked = checkSubmit(store, now, args);
  if ('Err' in checked) return checked;
  const refundTo: PayAccount =
    args.refundSubaccount === undefined ? { owner: caller } : { owner: caller, subaccount: args.refundSubaccount };
  const task: Task = {
    id: taskId(store.nextTaskNumber()),
    requester: caller,
    refundTo,
    idempotencyKey: args.idempotencyKey,
    request: { ...args.request, model: args.request.model as string },
    input: args.input,
    limits: args.limits,
    rewardE8s: args.rewardE8s,
    deadlineNs: args.deadlineNs,
    redundancy: args.redundancy,
    state: 'escrowing',
    createdAtNs: now,
    leases: [],
    results: [],
    failures: []
  };
  saveTask(store, task);
  store.idempotency.set(idempotency, task.id);
  return ok({ task, escrow: { from: refundTo, amountE8s: args.rewardE8s } });
}

export function escrowConfirmed(store: Stores, id: string, block: bigint): Task | undefined {
  const task = store.tasks.get(id);
  if (task === undefined || task.state !== 'escrowing') return task;
  task.state = 'queued';
  task.escrowBlock = block;
  saveTask(store, task);
  return task;
}

/** Compensation when the escrow failed: the task never existed, and the key may be used again. */
export function escrowFailed(store: Stores, id: string): void {
  const task = store.tasks.get(id);
  if (task === undefined || task.state !== 'escrowing') return;
  store.tasks.delete(id);
  store.summaries.delete(id);
  store.open.delete(id);
  store.idempotency.delete(`${task.requester}|${task.idempotencyKey}`);
}

function activeLeases(store: Stores, runner: string, model: string): number {
  let n = 0;
  for (const [, open] of store.open.entries()) if (open.model === model) for (const lease of open.leases) if (lease.runner === runner) n++;
  return n;
}

/** Places a runner could still lease: results still missing, minus leases running now. */
export function openPlaces(open: OpenTask, now: bigint): number {
  return open.redundancy - open.results - open.leases.filter((l) => l.expiresAtNs > now).length;
}

function claimable(open: OpenTask, runner: string, now: bigint): boolean {
  return (
    open.state === 'queued' &&
    open.deadlineNs > now &&
    !open.done.includes(runner) &&
    !open.leases.some((l) => l.runner === runner) &&
    openPlaces(open, now) > 0
  );
}

/**
 * A live runner leases a queued task it can serve (the given one, or the oldest it matches), within the slots of
 * the matching deployment. The lease ends at `leaseNs` or the task's deadline, whichever comes first.
 */
export function claimTask(store: Stores, runner: string, now: bigint, wanted?: string): Result<Task> {
  if (runner === ANONYMOUS_PRINCIPAL) return err({ AnonymousCaller: null });
  if (!store.runners.has(runner)) return err({ NotFound: { what: `runner ${runner}` } });
  const config = store.taskConfig();
  let capacityHit: number | undefined;
  const candidates: Array<[string, OpenTask]> = [];
  if (wanted !== undefined) {
    const open = store.open.get(wanted);
    if (open === undefined) return err({ NotFound: { what: `open task ${wanted}` } });
    const task = store.tasks.get(wanted);
    const full = task !== undefined && task.leases.filter((l) => l.expiresAtNs > now).length + task.results.length >= task.redundancy;
    if (!claimable(open, runner, now) || full)
      return err({ InvalidState: { state: open.state, expected: 'queued, with a free place for this runner' } });
    candidates.push([wanted, open]);
  } else {
    for (const entry of store.open.entries()) if (claimable(entry[1], runner, now)) candidates.push(entry);
  }
  for (const [id, open] of candidates) {
    const task = store.tasks.get(id);
    if (task === undefined) continue;
    const deployment = matchingDeployment(store, now, runner, task.request);
    if (deployment === undefined) {
      if (wanted !== undefined)
        return err({ InvalidState: { state: 'not serving', expected: `a live deployment matching ${task.request.model}` } });
      continue;
    }
    if (activeLeases(store, runner, open.model) >= deployment.slots) {
      capacityHit = deployment.slots;
      continue;
    }
    if (task.leases.filter((l) => l.expiresAtNs > now).length + task.results.length >= task.redundancy) continue;
    const lease: Lease = {
      runner,
      claimedAtNs: now,
      expiresAtNs: now + config.leaseNs < task.deadlineNs ? now + config.leaseNs : task.deadlineNs
    };
    task.leases.push(lease);
    saveTask(store, task);
    return ok(task);
  }
  if (capacityHit !== undefined) return err({ NoCapacity: { slots: capacityHit } });
  return err({ NotFound: { what: 'claimable task' } });
}

/** The runner's lease, if it is still running: a result after the lease ends (or the deadline) is not accepted. */
function leaseOf(task: Task, runner: string, now: bigint): Lease | undefined {
  return task.leases.find((l) => l.runner === runner && l.expiresAtNs > now);
}

function bumpReputation(
  store: Stores,
  runner: string,
  change: (r: { completed: number; failed: number; rejected: number; expiredLeases: number; latencyMsEma: number }) => void
): void {
  const current = store.reputation.get(runner) ?? { completed: 0, failed: 0, rejected: 0, expiredLeases: 0, latencyMsEma: 0 };
  const next = { ...current };
  change(next);
  store.reputation.set(runner, next);
}

/** The runner reports its output. Reporting again returns the first result unchanged. */
export function completeTask(store: Stores, runner: string, now: bigint, id: string, args: ResultArgs): Result<TaskResult> {
  if (runner === ANONYMOUS_PRINCIPAL) return err({ AnonymousCaller: null });
  const task = store.tasks.get(id);
  if (task === undefined) return err({ NotFound: { what: `task ${id}` } });
  const earlier = task.results.find((r) => r.runner === runner);
  if (earlier !== undefined) return ok(earlier);
  if (leaseOf(task, runner, now) === undefined || task.state !== 'queued')
    return err({ Unauthorized: { reason: `no active lease on ${id}` } });
  if (!DIGEST.test(args.outputDigest)) return bad('output_digest', 'expected sha256:<64 lowercase hex>');
  if (args.output === undefined && args.reference === undefined) return bad('output', 'give the output, or a reference to it');
  if (args.output !== undefined && byteLength(args.output) > MAX_OUTPUT_BYTES)
    return bad('output', `larger than ${MAX_OUTPUT_BYTES} bytes`);
  if (args.reference !== undefined && (args.reference.length === 0 || args.reference.length > MAX_REFERENCE_LENGTH))
    return bad('reference', `must be 1 to ${MAX_REFERENCE_LENGTH} characters`);
  if (args.inputTokens < 0n || args.outputTokens < 0n || args.outputTokens > BigInt(task.limits.maxOutputTokens))
    return bad('usage', `tokens must be non-negative and output at most ${task.limits.maxOutputTokens}`);
  if (!(args.firstTokenMs >= 0) || !(args.totalMs >= args.firstTokenMs)) return bad('timings', 'expected 0 ≤ first_token_ms ≤ total_ms');
  const result: TaskResult = {
    runner,
    outputDigest: args.outputDigest,
    inputTokens: args.inputTokens,
    outputTokens: args.outputTokens,
    firstTokenMs: args.firstTokenMs,
    totalMs: args.totalMs,
    atNs: now
  };
  if (args.output !== undefined) result.output = args.output;
  if (args.reference !== undefined) result.reference = args.reference;
  task.leases = task.leases.filter((l) => l.runner !== runner);
  task.results.push(result);
  bumpReputation(store, runner, (r) => {
    r.completed += 1;
    r.latencyMsEma = r.latencyMsEma === 0 ? args.totalMs : Math.round(0.8 * r.latencyMsEma + 0.2 * args.totalMs);
  });
  if (task.results.length >= task.redundancy) {
    task.state = 'review';
    task.reviewEndsAtNs = now + store.taskConfig().reviewWindowNs;
  }
  saveTask(store, task);
  return ok(result);
}

/** The runner gives up its lease; after MAX_FAILURES failures in all the task fails and is refunded. */
export function failTask(store: Stores, runner: string, now: bigint, id: string, reason: string): Result<Task> {
  if (runner === ANONYMOUS_PRINCIPAL) return err({ AnonymousCaller: null });
  const task = store.tasks.get(id);
  if (task === undefined) return err({ NotFound: { what: `task ${id}` } });
  if (task.failures.some((f) => f.runner === runner)) return ok(task);
  if (leaseOf(task, runner, now) === undefined || task.state !== 'queued')
    return err({ Unauthorized: { reason: `no active lease on ${id}` } });
  if (reason.length > MAX_REASON_LENGTH) return bad('reason', `longer than ${MAX_REASON_LENGTH} characters`);
  task.leases = task.leases.filter((l) => l.runner !== runner);
  task.failures.push({ runner, reason, atNs: now });
  bumpReputation(store, runner, (r) => {
    r.failed += 1;
  });
  if (task.failures.length >= MAX_FAILURES && task.leases.length === 0 && task.results.length === 0)
    settle(store, task, now, 'failed', `failed ${task.failures.length} times`);
  else saveTask(store, task);
  return ok(task);
}
