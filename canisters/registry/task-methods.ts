import { canisterSelf, performanceCounter, query, time, update } from 'azle';
import { requireAdmin } from '../../src/core/registry/access.js';
import { listPayouts, retryPayout } from '../../src/core/rewards/index.js';
import {
  acceptTask,
  checkSubmit,
  claimTask,
  completeTask,
  completionLease,
  failTask,
  quoteReward,
  rejectTask,
  setTaskConfig,
  submitTask,
  taskFor,
  MAX_INLINE_INPUT_BYTES,
  MAX_OUTPUT_BYTES,
  MAX_REDUNDANCY
} from '../../src/core/tasks/index.js';
import { fromOpt as some, opt } from '../../src/interface/candid.js';
import { registryMethods as m } from '../../src/interface/registry/index.js';
import { completeArgsWithOutputBytes, decodeInline, submitArgsWithInputBytes } from './submit-args.js';
import { argsOf, replyOf } from '../common/fast-candid.js';
import { handle, tooLarge } from './bounded-args.js';
import { escrow, escrowAccount, maintain } from './tasks.js';
import { fundingShortfall } from './funding.js';
import { claimable, taskPage } from './task-queries.js';
import { quoteTaskReply } from './task-quote.js';
import {
  accountIn,
  findRequestOf,
  hex,
  payoutView,
  quoteView,
  reputationView,
  taskConfigView,
  taskResultView,
  taskView
} from './task-views.js';
import { maintainCredit } from './credit.js';
import { MANUAL, caller, mapResult, state } from './context.js';
import { GovernanceMethods } from './governance-methods.js';

const inputRefused = (reason: string) => ({ Err: { InvalidArgument: { field: 'input.inline', reason } } });

/** Outputs above this many bytes are decoded only after the caller's lease on the task is checked. */
const EARLY_LEASE_CHECK_BYTES = 4096;

/** Instructions a claim without a task id may spend passing over candidates before it answers NotFound. */
const CLAIM_BUDGET = 2_000_000_000n;

/** A task as the caller may see it: every method that returns a task goes through the privacy rules. */
const visibleTaskView = (task: Parameters<typeof taskView>[0]): ReturnType<typeof taskView> => taskView(taskFor(state(), caller(), task));

/** The canister's task and reward methods: submit, claim, complete, review, queries, config and payouts (tasks.ts, src/core/tasks). */
export class TaskMethods extends GovernanceMethods {
  @update(m.submit_task.args, m.submit_task.ret, MANUAL)
  async submit_task(): Promise<void> {
    // The size first: an oversized argument is refused before it is decoded.
    if (tooLarge('submit_task')) return;
    // The inline input stays bytes until the requester is known to be able to pay: the checks before see its size.
    const a = submitArgsWithInputBytes();
    const inline = some(a.input.inline);
    if (inline !== undefined && inline.length > MAX_INLINE_INPUT_BYTES)
      return replyOf(m.submit_task, inputRefused(`larger than ${MAX_INLINE_INPUT_BYTES} bytes`));
    const redundancy = some(a.redundancy) ?? 1;
    const args = {
      idempotencyKey: a.idempotency_key,
      request: findRequestOf(a.request),
      input: { inline: inline === undefined ? undefined : '', digest: some(a.input.digest), reference: some(a.input.reference) },
      limits: { maxOutputTokens: a.limits.max_output_tokens, temperature: some(a.limits.temperature), seed: some(a.limits.seed) },
      rewardE8s: a.reward_e8s,
      deadlineNs: a.deadline_ns,
      redundancy: redundancy > MAX_REDUNDANCY ? MAX_REDUNDANCY + 1 : redundancy,
      refundSubaccount: some(a.refund_subaccount) === undefined ? undefined : hex(some(a.refund_subaccount) ?? [])
    };
    // Checked, then the ledger asked whether the requester can pay, before anything is stored (issue 15).
    // The caller is read once: after an await, msgCaller() is the ledger that replied.
    const requester = caller();
    const checked = checkSubmit(state(), requester, time(), args);
    if ('Err' in checked) return replyOf(m.submit_task, checked);
    if (checked.Ok.existing === undefined) {
      const shortfall = await fundingShortfall(state(), checked.Ok.from, checked.Ok.amountE8s);
      if (shortfall !== undefined) return replyOf(m.submit_task, { Err: { LedgerError: shortfall } });
    }
    const text = inline === undefined ? undefined : decodeInline(inline);
    if (inline !== undefined && text === undefined) return replyOf(m.submit_task, inputRefused('not valid UTF-8'));
    // submitTask checks again, the input now included: the state may have changed while the ledger answered.
    const submitted = submitTask(state(), requester, time(), { ...args, input: { ...args.input, inline: text } });
    if ('Err' in submitted) return replyOf(m.submit_task, submitted);
    const { task, escrow: owed } = submitted.Ok;
    // A repeated idempotency key returns the first task; nothing is escrowed twice.
    if (owed === undefined) return replyOf(m.submit_task, { Ok: taskView(task) });
    const escrowed = await escrow(state(), task);
    replyOf(m.submit_task, 'Ok' in escrowed ? { Ok: taskView(escrowed.Ok) } : { Err: { LedgerError: escrowed.Err } });
  }

  @update(m.claim_task.args, m.claim_task.ret, MANUAL)
  claim_task(): void {
    handle(m.claim_task, (id) =>
      mapResult(
        claimTask(state(), caller(), time(), some(id), () => performanceCounter(0) > CLAIM_BUDGET),
        visibleTaskView
      )
    );
  }

  @update(m.complete_task.args, m.complete_task.ret, MANUAL)
  complete_task(): void {
    if (tooLarge('complete_task')) return;
    // The output stays bytes until the caller is known to hold a lease on the task: a stranger's 256 KiB output is
    // refused without being decoded (issue 15). Small outputs skip the extra look at the task.
    const [id, r] = completeArgsWithOutputBytes();
    const bytes = some(r.output);
    if (bytes !== undefined && bytes.length > MAX_OUTPUT_BYTES)
      return replyOf(m.complete_task, { Err: { InvalidArgument: { field: 'output', reason: `larger than ${MAX_OUTPUT_BYTES} bytes` } } });
    if (bytes !== undefined && bytes.length > EARLY_LEASE_CHECK_BYTES) {
      const gate = completionLease(state(), caller(), time(), id);
      if ('Err' in gate) return replyOf(m.complete_task, gate);
    }
    const output = bytes === undefined ? undefined : decodeInline(bytes);
    if (bytes !== undefined && output === undefined)
      return replyOf(m.complete_task, { Err: { InvalidArgument: { field: 'output', reason: 'not valid UTF-8' } } });
    const result = completeTask(state(), caller(), time(), id, {
      outputDigest: r.output_digest,
      output,
      reference: some(r.reference),
      inputTokens: r.input_tokens,
      outputTokens: r.output_tokens,
      firstTokenMs: r.first_token_ms,
      totalMs: r.total_ms
    });
    replyOf(m.complete_task, mapResult(result, taskResultView));
  }

  @update(m.fail_task.args, m.fail_task.ret, MANUAL)
  fail_task(): void {
    handle(m.fail_task, (id, reason) => mapResult(failTask(state(), caller(), time(), id, reason), visibleTaskView));
  }

  @update(m.accept_task.args, m.accept_task.ret, MANUAL)
  accept_task(): void {
    handle(m.accept_task, (id) => mapResult(acceptTask(state(), caller(), time(), id), visibleTaskView));
  }

  @update(m.reject_task.args, m.reject_task.ret, MANUAL)
  reject_task(): void {
    handle(m.reject_task, (id, reason) => mapResult(rejectTask(state(), caller(), time(), id, reason), visibleTaskView));
  }

  @query(m.get_task.args, m.get_task.ret, MANUAL)
  get_task(): void {
    handle(m.get_task, (id) => {
      const task = id.length > 64 ? undefined : state().tasks.get(id);
      // Input, conversation and outputs only for the requester, the task's runners and admins (core/tasks/privacy.ts).
      return opt(task === undefined ? undefined : visibleTaskView(task));
    });
  }

  /** Queued tasks the calling runner could lease now, oldest first. */
  @query(m.list_claimable.args, m.list_claimable.ret, MANUAL)
  list_claimable(): void {
    handle(m.list_claimable, () => claimable(state(), caller(), time()));
  }

  /** Tasks newest first (any caller), filtered by requester, runner and state; paged like list_runners. */
  @query(m.list_tasks.args, m.list_tasks.ret, MANUAL)
  list_tasks(): void {
    handle(m.list_tasks, (filter, page) => taskPage(state(), filter, page));
  }

  @query(m.quote_reward.args, m.quote_reward.ret, MANUAL)
  quote_reward(): void {
    handle(m.quote_reward, (reward, redundancy) =>
      quoteView(quoteReward(state().taskConfig(), reward, Math.min(Math.max(redundancy, 1), MAX_REDUNDANCY)))
    );
  }

  @update(m.set_task_config.args, m.set_task_config.ret, MANUAL)
  set_task_config(): void {
    handle(m.set_task_config, (a) => {
      const treasury = some(a.treasury);
      const result = setTaskConfig(
        state(),
        caller(),
        {
          ledger: some(a.ledger)?.toText(),
          treasury: treasury === undefined ? undefined : accountIn(treasury),
          protocolFeeBps: some(a.protocol_fee_bps),
          ledgerFeeE8s: some(a.ledger_fee_e8s),
          leaseSeconds: some(a.lease_seconds),
          reviewWindowSeconds: some(a.review_window_seconds),
          minRewardE8s: some(a.min_reward_e8s),
          emissionPerEpochE8s: some(a.emission_per_epoch_e8s),
          epochSeconds: some(a.epoch_seconds),
          emissionRequesterCapBps: some(a.emission_requester_cap_bps),
          routingWindowSeconds: some(a.routing_window_seconds),
          minProtocolFeeE8s: some(a.min_protocol_fee_e8s)
        },
        canisterSelf().toText()
      );
      return mapResult(result, (config) => taskConfigView(config, escrowAccount()));
    });
  }

  /** Prices a task against the live runners' posted prices: cheapest and median cost, budgets, fee, emission. */
  @query(m.quote_task.args, m.quote_task.ret, MANUAL)
  quote_task(): void {
    handle(m.quote_task, (a) => quoteTaskReply(state(), time(), a));
  }

  @query(m.get_task_config.args, m.get_task_config.ret, MANUAL)
  get_task_config(): void {
    handle(m.get_task_config, () => taskConfigView(state().taskConfig(), escrowAccount()));
  }

  /** Payouts recorded but not yet confirmed by the ledger (state, attempts, next attempt, last error); one bounded page. */
  @query(m.list_payouts.args, m.list_payouts.ret, MANUAL)
  list_payouts(): void {
    handle(m.list_payouts, (filter, page) =>
      mapResult(listPayouts(state(), { state: some(filter.state) }, { after: some(page.after), limit: some(page.limit) }), (p) => ({
        items: p.items.map(payoutView),
        next: opt(p.next)
      }))
    );
  }

  /** Admins send a payout again now: a stuck one with a fresh attempt budget, a pending one without its backoff. */
  @update(m.retry_payout.args, m.retry_payout.ret, MANUAL)
  retry_payout(): void {
    handle(m.retry_payout, (id) => mapResult(retryPayout(state(), caller(), id, time()), payoutView));
  }

  @query(m.get_reputation.args, m.get_reputation.ret, MANUAL)
  get_reputation(): void {
    handle(m.get_reputation, (runner) => {
      const r = state().reputation.get(runner.toText());
      return opt(r === undefined ? undefined : reputationView(r));
    });
  }

  /** Runs one maintenance pass now (admins): what the timer does every few seconds. */
  @update(m.process_tasks.args, m.process_tasks.ret, MANUAL)
  async process_tasks(): Promise<void> {
    argsOf(m.process_tasks);
    const denied = requireAdmin(state(), caller());
    if (denied !== undefined) return replyOf(m.process_tasks, { Err: denied });
    await maintainCredit(state());
    await maintain(state());
    replyOf(m.process_tasks, { Ok: null });
  }
}
