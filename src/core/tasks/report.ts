import { ANONYMOUS_PRINCIPAL, err, ok, type Result } from '../registry/errors.js';
import { recordCompleted, recordFailed } from '../rewards/reputation.js';
import { bondFault } from '../rewards/bonds.js';
import { MAX_OUTPUT_BYTES, MAX_REASON_LENGTH, MAX_REFERENCE_LENGTH } from './limits.js';
import { neededResults } from './escalation.js';
import { givenUp, openOnPreferredFailure } from './routing.js';
import { meteredCostE8s } from '../rewards/pricing.js';
import { saveTask } from './save-task.js';
import { enterReview, settle } from './settlement.js';
import type { Stores } from './store.js';
import type { Lease, Task, TaskResult } from './types.js';
import { checkUsage, measuredMs, MIN_REFERENCE_OUTPUT_TOKENS } from './usage.js';
import { bad, DIGEST, utf8LongerThan } from './validate.js';

export interface ResultArgs {
  outputDigest: string;
  output?: string;
  reference?: string;
  inputTokens: bigint;
  outputTokens: bigint;
  firstTokenMs: number;
  totalMs: number;
}

/** The runner's lease, if it is still running: a result after the lease ends (or the deadline) is not accepted. */
function leaseOf(task: Task, runner: string, now: bigint): Lease | undefined {
  return task.leases.find((l) => l.runner === runner && l.expiresAtNs > now);
}

/**
 * The runner reports its output and usage. Token counts are bounded by what is possible (`ImplausibleUsage`), its pay
 * is the counts times the prices its lease fixed, and its latency is the registry's lease-to-completion time.
 * Reporting again returns the first result unchanged.
 */
/**
 * Whether `runner` may report a result for task `id` now, from the task and the runner alone: its earlier result
 * (a repeated report answers it), or the task and the runner's active lease. The canister asks this before it decodes
 * a large output, so that a stranger's 256 KiB never costs the UTF-8 decoding (issue 15).
 */
export function completionLease(
  store: Stores,
  runner: string,
  now: bigint,
  id: string
): Result<{ earlier: TaskResult } | { earlier?: undefined; task: Task; lease: Lease }> {
  if (runner === ANONYMOUS_PRINCIPAL) return err({ AnonymousCaller: null });
  const task = store.tasks.get(id);
  if (task === undefined) return err({ NotFound: { kind: { Task: null }, id } });
  const earlier = task.results.find((r) => r.runner === runner);
  if (earlier !== undefined) return ok({ earlier });
  // Only a runner that is still registered and not suspended may add a result (and be paid, and vote, for it).
  const registered = store.runners.get(runner);
  if (registered === undefined) return err({ NotFound: { kind: { Runner: null }, id: runner } });
  if (registered.suspended !== undefined) return err({ Suspended: { reason: registered.suspended.reason } });
  const lease = leaseOf(task, runner, now);
  if (lease === undefined || task.state !== 'queued') return err({ Unauthorized: { reason: `no active lease on ${id}` } });
  return ok({ task, lease });
}

export function completeTask(store: Stores, runner: string, now: bigint, id: string, args: ResultArgs): Result<TaskResult> {
  const gate = completionLease(store, runner, now, id);
  if ('Err' in gate) return gate;
  if (gate.Ok.earlier !== undefined) return ok(gate.Ok.earlier);
  const { task, lease } = gate.Ok;
  if (!DIGEST.test(args.outputDigest)) return bad('output_digest', 'expected sha256:<64 lowercase hex>');
  if (args.output === undefined && args.reference === undefined) return bad('output', 'give the output, or a reference to it');
  // A reference has no bytes to bound the output tokens billed; a redundant task's winners share one output, so each
  // gives it inline (README "States"). A single runner's reference is bounded by max_output_tokens alone.
  if (args.output === undefined && task.redundancy > 1) return bad('output', 'a redundant task needs the output inline, not a reference');
  if (args.output === undefined && args.outputTokens < BigInt(MIN_REFERENCE_OUTPUT_TOKENS))
    return bad('reference', `an output of fewer than ${MIN_REFERENCE_OUTPUT_TOKENS} tokens fits inline: give it inline`);
  if (args.output !== undefined && utf8LongerThan(args.output, MAX_OUTPUT_BYTES))
    return bad('output', `larger than ${MAX_OUTPUT_BYTES} bytes`);
  if (args.reference !== undefined && (args.reference.length === 0 || args.reference.length > MAX_REFERENCE_LENGTH))
    return bad('reference', `must be 1 to ${MAX_REFERENCE_LENGTH} characters`);
  const usage = checkUsage(task, lease, args.inputTokens, args.outputTokens, args.output);
  if ('Err' in usage) return usage;
  if (!(args.firstTokenMs >= 0) || !(args.totalMs >= args.firstTokenMs)) return bad('timings', 'expected 0 ≤ first_token_ms ≤ total_ms');
  const result: TaskResult = {
    runner,
    outputDigest: args.outputDigest,
    inputTokens: args.inputTokens,
    outputTokens: args.outputTokens,
    firstTokenMs: args.firstTokenMs,
    totalMs: args.totalMs,
    atNs: now,
    measuredMs: measuredMs(lease, now)
  };
  if (lease.operator !== undefined) result.operator = lease.operator;
  if (lease.prices !== undefined) {
    result.costE8s = meteredCostE8s(lease.prices, args.inputTokens, args.outputTokens);
    // Kept so that a winner's pay can be recomputed at these prices at settlement (settlement.ts).
    result.prices = lease.prices;
  }
  if (args.output !== undefined) result.output = args.output;
  if (args.reference !== undefined) result.reference = args.reference;
  task.leases = task.leases.filter((l) => l.runner !== runner);
  task.results.push(result);
  // The registry's own clock, never the self-reported total_ms (kept on the result as information only).
  recordCompleted(store, runner, result.measuredMs as number);
  if (task.results.length >= neededResults(task)) enterReview(store, task, now);
  saveTask(store, task);
  return ok(result);
}

/**
 * The runner gives up its lease. It costs the runner reputation and counts toward its bond slash (as an expired lease
 * does); a preferred runner's failure opens the task to every eligible runner at once; once MAX_FAILURES distinct
 * operators failed it (and nobody holds or returned it) the task fails and is refunded.
 */
export function failTask(store: Stores, runner: string, now: bigint, id: string, reason: string): Result<Task> {
  if (runner === ANONYMOUS_PRINCIPAL) return err({ AnonymousCaller: null });
  const task = store.tasks.get(id);
  if (task === undefined) return err({ NotFound: { kind: { Task: null }, id } });
  if (task.failures.some((f) => f.runner === runner)) return ok(task);
  const lease = leaseOf(task, runner, now);
  if (lease === undefined || task.state !== 'queued') return err({ Unauthorized: { reason: `no active lease on ${id}` } });
  if (reason.length > MAX_REASON_LENGTH) return bad('reason', `longer than ${MAX_REASON_LENGTH} characters`);
  task.leases = task.leases.filter((l) => l.runner !== runner);
  // Giving a lease back stays open to a runner that left or was suspended: it frees the place for another.
  task.failures.push({ runner, reason, atNs: now, ...(lease.operator === undefined ? {} : { operator: lease.operator }) });
  recordFailed(store, runner);
  bondFault(store, now, runner, store.taskConfig().treasury, 'failed tasks');
  openOnPreferredFailure(task, runner, now);
  if (givenUp(store, task)) settle(store, task, now, 'failed', `failed ${task.failures.length} times`);
  else saveTask(store, task);
  return ok(task);
}
