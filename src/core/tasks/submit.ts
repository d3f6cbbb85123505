import { ANONYMOUS_PRINCIPAL, err, ok, type Result } from '../registry/errors.js';
import { checkFindRequest, type FindRequest } from '../registry/discovery.js';
import { bump, checkQuota } from '../registry/quotas.js';
import { quoteReward } from '../rewards/economics.js';
import {
  MAX_DEADLINE_NS,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  MAX_INLINE_INPUT_BYTES,
  MAX_OPEN_TASKS,
  MAX_OUTPUT_TOKENS,
  MAX_REDUNDANCY,
  MAX_REFERENCE_LENGTH
} from './limits.js';
import { taskPricing } from './affordable.js';
import { preferredRunners, routingWindowNs } from './routing.js';
import { saveTask } from './save-task.js';
import { CHAT_TEMPLATE_OVERHEAD_TOKENS } from './usage.js';
import { taskId, type Stores } from './store.js';
import type { GenerationLimits, PayAccount, Task, TaskInput } from './types.js';
import { bad, DIGEST, byteLength } from './validate.js';

export interface SubmitArgs {
  idempotencyKey: string;
  request: FindRequest;
  input: TaskInput;
  limits: GenerationLimits;
  /** The budget: escrowed whole; the metered cost of the work is paid from it and the rest refunded. */
  rewardE8s: bigint;
  deadlineNs: bigint;
  redundancy: number;
  refundSubaccount?: string;
}

const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/**
 * Every field's bounds (sizes, counts, characters), cheapest first and before anything reads the store: an oversized
 * or malformed submit is refused for the price of reading its fields once.
 */
export function checkSubmitBounds(args: SubmitArgs): Result<{ inputBytes?: number }> {
  const key = args.idempotencyKey;
  if (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH)
    return bad('idempotency_key', `must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
  if (CONTROL_CHARACTERS.test(key)) return bad('idempotency_key', 'must not contain control characters');
  const { inline, digest, reference } = args.input;
  if (inline !== undefined && inline.length > MAX_INLINE_INPUT_BYTES)
    return bad('input.inline', `larger than ${MAX_INLINE_INPUT_BYTES} bytes`);
  if (reference !== undefined && (reference.length === 0 || reference.length > MAX_REFERENCE_LENGTH))
    return bad('input.reference', `must be 1 to ${MAX_REFERENCE_LENGTH} characters`);
  if (digest !== undefined && (digest.length > 71 || !DIGEST.test(digest)))
    return bad('input.digest', 'expected sha256:<64 lowercase hex>');
  if (args.refundSubaccount !== undefined && !/^[0-9a-f]{64}$/.test(args.refundSubaccount))
    return bad('refund_subaccount', 'must be 32 bytes');
  if (args.request.model === undefined || args.request.model.length === 0)
    return bad('request.model', 'a task must name the model it needs');
  const request = checkFindRequest(args.request);
  if ('Err' in request) {
    const e = request.Err;
    return 'InvalidArgument' in e ? bad(`request.${e.InvalidArgument.field}`, e.InvalidArgument.reason) : err(e);
  }
  if (inline === undefined && (digest === undefined || reference === undefined))
    return bad('input', 'give the input inline, or its digest and a reference');
  // Length first (no encoding for text that is too long anyway), then its UTF-8 size, once.
  const inputBytes = inline === undefined || inline.length > MAX_INLINE_INPUT_BYTES ? undefined : byteLength(inline);
  if (inline !== undefined && (inputBytes === undefined || inputBytes > MAX_INLINE_INPUT_BYTES))
    return bad('input.inline', `larger than ${MAX_INLINE_INPUT_BYTES} bytes`);
  const { maxOutputTokens, temperature, seed } = args.limits;
  if (!Number.isInteger(maxOutputTokens) || maxOutputTokens < 1 || maxOutputTokens > MAX_OUTPUT_TOKENS)
    return bad('limits.max_output_tokens', `must be 1 to ${MAX_OUTPUT_TOKENS}`);
  if (temperature !== undefined && !(temperature >= 0 && temperature <= 2)) return bad('limits.temperature', 'must be between 0 and 2');
  if (!Number.isInteger(args.redundancy) || args.redundancy < 1 || args.redundancy > MAX_REDUNDANCY)
    return bad('redundancy', `must be 1 to ${MAX_REDUNDANCY}`);
  if (args.redundancy > 1 && (temperature !== 0 || seed === undefined)) {
    return bad('limits', 'redundant tasks need deterministic settings: temperature 0 and a fixed seed, so that honest outputs agree');
  }
  return ok(inputBytes === undefined ? {} : { inputBytes });
}

/** What depends on time, configuration and state: the deadline, the reward, the open-task caps. */
function checkTerms(store: Stores, caller: string, now: bigint, args: SubmitArgs): Result<null> {
  if (args.deadlineNs <= now || args.deadlineNs > now + MAX_DEADLINE_NS)
    return bad('deadline_ns', 'must be in the future, at most 7 days ahead');
  const quote = quoteReward(store.taskConfig(), args.rewardE8s, args.redundancy);
  if (!quote.acceptable) {
    return bad(
      'reward_e8s',
      `too small a budget: at least ${store.taskConfig().minRewardE8s}, and enough for each of the ${args.redundancy} runners to be paid above the ledger and protocol fees`
    );
  }
  if (store.open.size() >= MAX_OPEN_TASKS) return err({ LimitExceeded: { what: 'open tasks', limit: BigInt(MAX_OPEN_TASKS) } });
  return checkQuota(store, 'open-tasks', caller);
}

/**
 * Everything submitTask checks before it writes (bounds, configuration, the idempotency key, the terms), without
 * writing: the canister runs it before it asks the ledger whether the requester can pay at all, so that an unfunded
 * call is refused before its task and input are stored. `existing` is the task a repeated idempotency key names.
 */
export function checkSubmit(
  store: Stores,
  caller: string,
  now: bigint,
  args: SubmitArgs
): Result<{ existing?: Task; from: PayAccount; amountE8s: bigint; inputBytes?: number }> {
  if (caller === ANONYMOUS_PRINCIPAL) return err({ AnonymousCaller: null });
  const bounds = checkSubmitBounds(args);
  if ('Err' in bounds) return bounds;
  const config = store.taskConfig();
  if (config.ledger === undefined) return err({ NotConfigured: { what: 'ledger canister (set_task_config)' } });
  const from: PayAccount = args.refundSubaccount === undefined ? { owner: caller } : { owner: caller, subaccount: args.refundSubaccount };
  const existingId = store.idempotency.get(`${caller}|${args.idempotencyKey}`);
  const existing = existingId === undefined ? undefined : store.tasks.get(existingId);
  if (existing !== undefined) return ok({ existing, from, amountE8s: args.rewardE8s });
  const checked = checkTerms(store, caller, now, args);
  if ('Err' in checked) return checked;
  return ok({ from, amountE8s: args.rewardE8s, ...bounds.Ok });
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
  const checked = checkSubmit(store, caller, now, args);
  if ('Err' in checked) return checked;
  if (checked.Ok.existing !== undefined) return ok({ task: checked.Ok.existing });
  const refundTo = checked.Ok.from;
  const idempotency = `${caller}|${args.idempotencyKey}`;
  const taskNumber = store.nextTaskNumber();
  const task: Task = {
    id: taskId(taskNumber),
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
  if (checked.Ok.inputBytes !== undefined) task.inputTokenBound = checked.Ok.inputBytes + CHAT_TEMPLATE_OVERHEAD_TOKENS;
  const pricing = taskPricing(store.taskConfig(), task, args.redundancy);
  const routing = preferredRunners(store, caller, now, task.request, args.redundancy, taskNumber, pricing);
  if (routing !== undefined) {
    task.preferred = routing.preferred;
    task.openToAllAtNs = routing.openToAllAtNs;
  }
  bump(store, 'open-tasks', caller, 1, task.id);
  saveTask(store, task);
  store.idempotency.set(idempotency, task.id);
  return ok({ task, escrow: { from: refundTo, amountE8s: args.rewardE8s } });
}

/** The escrow went through: the task is queued, and its routing window (if any) starts `now`, when it can be claimed. */
export function escrowConfirmed(store: Stores, id: string, block: bigint, now?: bigint): Task | undefined {
  const task = store.tasks.get(id);
  if (task === undefined || task.state !== 'escrowing') return task;
  task.state = 'queued';
  task.escrowBlock = block;
  if (now !== undefined && task.openToAllAtNs !== undefined) task.openToAllAtNs = now + routingWindowNs(store.taskConfig());
  saveTask(store, task);
  return task;
}

/** Compensation when the escrow failed: the task never existed, and the key may be used again. */
export function escrowFailed(store: Stores, id: string): void {
  const task = store.tasks.get(id);
  if (task === undefined || task.state !== 'escrowing') return;
  store.tasks.delete(id);
  store.summaries.delete(id);
  if (store.open.has(id)) bump(store, 'open-tasks', task.requester, -1, id);
  store.open.delete(id);
  store.idempotency.delete(`${task.requester}|${task.idempotencyKey}`);
}
