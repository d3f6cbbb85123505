import '../common/text-codec.js';
import {
  canisterSelf,
  init,
  inspectMessage,
  isController,
  msgArgData,
  msgCaller,
  msgMethodName,
  msgReply,
  performanceCounter,
  postUpgrade,
  query,
  setTimerInterval,
  time,
  trap,
  update
} from 'azle';

import {
  deprecateCard,
  acceptOperator,
  findRunners,
  getCard,
  heartbeat,
  listCards,
  listRunners,
  makeConfig,
  publishCard,
  setAdmins,
  setSuspended,
  stats,
  updateRunner,
  manageable,
  inspectIngress,
  assignNamespace,
  delegateNamespace,
  getNamespace,
  revokeNamespaceDelegate,
  setQuotas,
  parseCardText,
  parseManifestBytes,
  type Quotas,
  type RegistryError,
  type Result
} from '../../src/core/registry/index.js';
import { requireAdmin } from '../../src/core/registry/access.js';
import { listPayouts, retryPayout, setBondConfig } from '../../src/core/rewards/index.js';
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
import { fromOpt as some, opt, type Opt } from '../../src/interface/candid.js';
import { RegistryInit, registryMethods as m, type InitArgs } from '../../src/interface/registry/index.js';
import { candidatesReply } from './candid-text.js';
import {
  completeArgsWithOutputBytes,
  decodeInline,
  ResultArgsWithOutputBytes,
  submitArgsWithInputBytes,
  SubmitTaskArgsWithInputBytes,
  registerArgsWithManifestBytes,
  RegisterRunnerArgsWithManifestBytes,
  updateArgsWithManifestBytes,
  UpdateRunnerArgsWithManifestBytes
} from './submit-args.js';
import { warmArgPlans } from '../common/candid-decoder.js';
import { warmManifestValidators } from '../../src/core/manifest/index.js';
import { principalText } from '../common/principals.js';
import { argsOf, replyOf, warmReplyTypes } from '../common/fast-candid.js';
import { handle, isMethod, tooLarge } from './bounded-args.js';
import { rebuildQuotaCountersIfNeeded } from './quota-backfill.js';
import { migrateNamespacesIfNeeded } from './namespace-migration.js';
import { migrateReviewVotesIfNeeded } from './review-vote-migration.js';
import { bondConfigView, bondShortfall, bondView, deregisterWithBond, maintainBonds, registerWithBond } from './bonds.js';
import { openStore } from './stable-store.js';
import { escrow, escrowAccount, maintain, maintainTasks, processPayouts, retryStaleEscrows } from './tasks.js';
import { namespaceResult, namespaceView, purgeCards } from './namespaces.js';
import { fundingShortfall } from './funding.js';
import { LEDGER_ARG_TYPES, LEDGER_REPLY_TYPES } from './ledger-calls.js';
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
import { candidateView, cardView, configView, runnerView, statsView } from './views.js';
import {
  closeCreditLine,
  finalizeCreditLine,
  findLine,
  getLine,
  listLines,
  reserveCredit,
  setCreditConfig,
  settleReceipt,
  settleUsage,
  withdrawAccrued,
  withdrawCredit
} from '../../src/core/credit/index.js';
import {
  accountViewOf,
  creditAccountView,
  creditConfigView,
  creditLineView,
  depositCredit,
  maintainCredit,
  settledView,
  signedReceiptOf,
  usageOf,
  withdrawalView
} from './credit.js';

const MANUAL = { manual: true };

// Opened on first use, not at module load: azle evaluates the module at build time (Candid generation),
// where stable memory cannot be read.
let opened: ReturnType<typeof openStore> | undefined;
const state = (): ReturnType<typeof openStore> => (opened ??= openStore());
const caller = (): string => principalText(msgCaller());

const inputRefused = (reason: string) => ({ Err: { InvalidArgument: { field: 'input.inline', reason } } });

const quotasView = (q: Quotas) => ({
  runners_per_operator: q.runnersPerOperator,
  open_tasks_per_requester: q.openTasksPerRequester,
  cards_per_publisher: q.cardsPerPublisher
});

/** Every method's argument types, whose decoding plans are built once per install. */
const ARG_TYPES = Object.values(m).flatMap((method) => method.args);

/** Every method's reply type (the shared Results and Replies instances), warmed once per install. */
const REPLY_TYPES = Object.values(m).flatMap((method) => (method.ret === undefined ? [] : [method.ret]));

/** Outputs above this many bytes are decoded only after the caller's lease on the task is checked. */
const EARLY_LEASE_CHECK_BYTES = 4096;

/** Instructions a claim without a task id may spend passing over candidates before it answers NotFound. */
const CLAIM_BUDGET = 2_000_000_000n;

/** Task maintenance (expired leases, deadlines, reviews, epochs), payouts and escrow retries run on this interval. */
const MAINTENANCE_SECONDS = 5;

/** Three timers, so three messages: a trap or IC0522 in one (payouts, say) never rolls back another's work. */
function startMaintenance(): void {
  setTimerInterval(MAINTENANCE_SECONDS, () => maintainTasks(state()));
  setTimerInterval(MAINTENANCE_SECONDS, () => processPayouts(state()));
  setTimerInterval(MAINTENANCE_SECONDS, () => retryStaleEscrows(state()));
  // Bonds (stale locks, ended cooldowns) in a fourth message: their ledger calls never hold back the others.
  setTimerInterval(MAINTENANCE_SECONDS, () => maintainBonds(state()));
  // Credit (closing lines, balances to pay, lost deposit replies) in a fifth.
  setTimerInterval(MAINTENANCE_SECONDS, () => maintainCredit(state()));
}

function configure(args: Opt<InitArgs>): void {
  const given = some(args);
  const current = state().hasConfig() ? state().config() : undefined;
  const interval = some(given?.heartbeat_interval_seconds ?? []);
  const ttl = some(given?.heartbeat_ttl_seconds ?? []);
  const config = makeConfig({
    admins: given?.admins.map((a) => a.toText()) ?? current?.admins ?? [],
    heartbeatIntervalNs: interval === undefined ? current?.heartbeatIntervalNs : interval * 1_000_000_000n,
    heartbeatTtlNs: ttl === undefined ? current?.heartbeatTtlNs : ttl * 1_000_000_000n
  });
  // A bad init or upgrade argument must fail the install, so that nothing runs with an unchecked configuration.
  if ('Err' in config) trap(`invalid registry arguments: ${JSON.stringify(config.Err)}`);
  state().setConfig(config.Ok);
  warmManifestValidators();
  warmReplyTypes([...REPLY_TYPES, ...LEDGER_ARG_TYPES]);
  warmArgPlans([
    ...ARG_TYPES,
    SubmitTaskArgsWithInputBytes,
    ResultArgsWithOutputBytes,
    ...UpdateRunnerArgsWithManifestBytes,
    ...RegisterRunnerArgsWithManifestBytes,
    ...LEDGER_REPLY_TYPES
  ]);
}

/** A task as the caller may see it: every method that returns a task goes through the privacy rules. */
const visibleTaskView = (task: Parameters<typeof taskView>[0]): ReturnType<typeof taskView> => taskView(taskFor(state(), caller(), task));

const mapResult = <T, U>(result: Result<T>, view: (value: T) => U): { Ok: U } | { Err: RegistryError } =>
  'Ok' in result ? { Ok: view(result.Ok) } : result;

export default class {
  /**
   * Cheap early refusal of ingress (not a security boundary: every method checks again): unknown methods, arguments
   * larger than the method can need, and anonymous callers of methods that write. It
   * reads the method name, the argument's size and the caller; it never decodes the argument.
   */
  @inspectMessage({ manual: true })
  inspect(): boolean {
    const method = msgMethodName();
    const known = isMethod(method);
    const refusal = inspectIngress({
      method,
      argBytes: msgArgData().length,
      caller: caller(),
      known,
      readOnly: known && m[method].mode === 'query'
    });
    return refusal === undefined;
  }

  @init([RegistryInit])
  init(args: Opt<InitArgs>): void {
    configure(args);
    rebuildQuotaCountersIfNeeded(state(), true);
    migrateNamespacesIfNeeded(state(), true);
    migrateReviewVotesIfNeeded(state(), true);
    startMaintenance();
  }

  @postUpgrade([RegistryInit])
  postUpgrade(args: Opt<InitArgs>): void {
    // state() rebuilds the heap copies from stable memory on first use. Timers do not survive an upgrade.
    configure(args);
    rebuildQuotaCountersIfNeeded(state(), false);
    // Cards published before namespaces existed give each org to its first publisher (budgeted timer steps).
    migrateNamespacesIfNeeded(state(), false);
    // Tasks in review before their vote was recorded at review entry get it now, counted once (budgeted timer steps).
    migrateReviewVotesIfNeeded(state(), false);
    startMaintenance();
  }

  @update(m.publish_model_card.args, m.publish_model_card.ret, MANUAL)
  publish_model_card(): void {
    handle(m.publish_model_card, (manifestJson) => {
      const manifest = parseCardText(manifestJson);
      if ('Err' in manifest) return manifest;
      return publishCard(state(), caller(), time(), manifest.Ok);
    });
  }

  @query(m.get_model_card.args, m.get_model_card.ret, MANUAL)
  get_model_card(): void {
    handle(m.get_model_card, (id, digest) => {
      const stored = getCard(state(), id, some(digest));
      return opt(stored === undefined ? undefined : cardView(stored));
    });
  }

  @query(m.list_model_cards.args, m.list_model_cards.ret, MANUAL)
  list_model_cards(): void {
    handle(m.list_model_cards, (filter, page) => {
      const result = listCards(
        state(),
        {
          id: some(filter.id),
          family: some(filter.family),
          format: some(filter.format),
          quantization: some(filter.quantization),
          includeDeprecated: some(filter.include_deprecated)
        },
        { after: some(page.after), limit: some(page.limit) }
      );
      return mapResult(result, (p) => ({ items: p.items.map(cardView), next: p.next === undefined ? [] : [p.next] }));
    });
  }

  @query(m.list_runners.args, m.list_runners.ret, MANUAL)
  list_runners(): void {
    handle(m.list_runners, (filter, page) => {
      const now = time();
      const result = listRunners(
        state(),
        now,
        { model: some(filter.model), liveOnly: some(filter.live_only) },
        { after: some(page.after), limit: some(page.limit) }
      );
      return mapResult(result, (p) => ({
        items: p.items.map((r) => runnerView(state(), r, now)),
        next: p.next === undefined ? [] : [p.next]
      }));
    });
  }

  @update(m.deprecate_model_card.args, m.deprecate_model_card.ret, MANUAL)
  deprecate_model_card(): void {
    handle(m.deprecate_model_card, (ref, reason) => {
      return deprecateCard(state(), caller(), time(), ref, reason);
    });
  }

  /** Async: while bonds are required the bond is moved first (canisters/registry/bonds.ts). */
  @update(m.register_runner.args, m.register_runner.ret, MANUAL)
  async register_runner(): Promise<void> {
    if (tooLarge('register_runner')) return;
    // Read before any await (after one, the message's caller and argument are the ledger's reply's).
    const runner = caller();
    const bytes = registerArgsWithManifestBytes();
    // With bonds on, an unfunded caller is refused before its manifest is decoded and parsed (issue 15).
    const short = await bondShortfall(state(), runner);
    if (short !== undefined) return replyOf(m.register_runner, { Err: short });
    const manifest = parseManifestBytes(bytes, decodeInline);
    if ('Err' in manifest) return replyOf(m.register_runner, manifest);
    const registered = await registerWithBond(state(), runner, manifest.Ok, canisterSelf().toText());
    replyOf(
      m.register_runner,
      mapResult(registered, (r) => runnerView(state(), r, time()))
    );
  }

  @update(m.update_runner.args, m.update_runner.ret, MANUAL)
  update_runner(): void {
    if (tooLarge('update_runner')) return;
    // Who may manage the runner is checked before the manifest is decoded and parsed (~850 instructions a byte under
    // QuickJS): a stranger's 64 KiB manifest costs the check, not the parse (issue 15).
    const [runner, bytes] = updateArgsWithManifestBytes();
    const allowed = manageable(state(), caller(), runner.toText());
    if ('Err' in allowed) return replyOf(m.update_runner, allowed);
    const manifest = parseManifestBytes(bytes, decodeInline);
    if ('Err' in manifest) return replyOf(m.update_runner, manifest);
    replyOf(
      m.update_runner,
      mapResult(updateRunner(state(), caller(), time(), runner.toText(), manifest.Ok, canisterSelf().toText()), (r) =>
        runnerView(state(), r, time())
      )
    );
  }

  @update(m.deregister_runner.args, m.deregister_runner.ret, MANUAL)
  deregister_runner(): void {
    handle(m.deregister_runner, (runner) => {
      return deregisterWithBond(state(), caller(), runner.toText());
    });
  }

  @update(m.heartbeat.args, m.heartbeat.ret, MANUAL)
  heartbeat(): void {
    handle(m.heartbeat, (args) => {
      const result = heartbeat(state(), caller(), time(), {
        state: args.state,
        busySlots: args.busy_slots,
        queueDepth: args.queue_depth,
        tokensPerSecond: args.tokens_per_second,
        kvCacheUsage: args.kv_cache_usage
      });
      return mapResult(result, (ack) => ({ next_heartbeat_in_ns: ack.nextHeartbeatInNs, ttl_ns: ack.ttlNs }));
    });
  }

  @query(m.get_runner.args, m.get_runner.ret, MANUAL)
  get_runner(): void {
    handle(m.get_runner, (runner) => {
      const stored = state().runners.get(runner.toText());
      return opt(stored === undefined ? undefined : runnerView(state(), stored, time()));
    });
  }

  @query(m.find_runners.args, m.find_runners.ret, MANUAL)
  find_runners(): void {
    if (tooLarge('find_runners')) return;
    const [request] = argsOf(m.find_runners);
    const result = findRunners(state(), time(), findRequestOf(request), caller());
    if ('Ok' in result && result.Ok.length > 0) msgReply(candidatesReply(result.Ok));
    else
      replyOf(
        m.find_runners,
        mapResult(result, (candidates) => candidates.map(candidateView))
      );
  }

  @query(m.stats.args, m.stats.ret, MANUAL)
  stats(): void {
    handle(m.stats, () => {
      return stats(state(), time()).map(statsView);
    });
  }

  @update(m.suspend_runner.args, m.suspend_runner.ret, MANUAL)
  suspend_runner(): void {
    handle(m.suspend_runner, (runner, reason) => {
      return setSuspended(state(), caller(), time(), runner.toText(), reason);
    });
  }

  @update(m.unsuspend_runner.args, m.unsuspend_runner.ret, MANUAL)
  unsuspend_runner(): void {
    handle(m.unsuspend_runner, (runner) => {
      return setSuspended(state(), caller(), time(), runner.toText(), undefined);
    });
  }

  @update(m.set_admins.args, m.set_admins.ret, MANUAL)
  set_admins(): void {
    handle(m.set_admins, (admins) => {
      return setAdmins(
        state(),
        caller(),
        isController(msgCaller()),
        admins.map((a) => a.toText())
      );
    });
  }

  @query(m.get_config.args, m.get_config.ret, MANUAL)
  get_config(): void {
    handle(m.get_config, () => {
      return configView(state().config());
    });
  }

  // ---------- tasks and rewards
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

  @update(m.set_quotas.args, m.set_quotas.ret, MANUAL)
  set_quotas(): void {
    handle(m.set_quotas, (a) =>
      mapResult(
        setQuotas(state(), caller(), {
          runnersPerOperator: some(a.runners_per_operator),
          openTasksPerRequester: some(a.open_tasks_per_requester),
          cardsPerPublisher: some(a.cards_per_publisher)
        }),
        quotasView
      )
    );
  }

  @query(m.get_quotas.args, m.get_quotas.ret, MANUAL)
  get_quotas(): void {
    handle(m.get_quotas, () => quotasView(state().quotas()));
  }

  @query(m.get_namespace.args, m.get_namespace.ret, MANUAL)
  get_namespace(): void {
    handle(m.get_namespace, (name) => {
      const record = getNamespace(state(), name);
      return opt(record === undefined ? undefined : namespaceView(record));
    });
  }

  @update(m.assign_namespace.args, m.assign_namespace.ret, MANUAL)
  assign_namespace(): void {
    handle(m.assign_namespace, (name, owner) => namespaceResult(assignNamespace(state(), caller(), time(), name, owner.toText())));
  }

  @update(m.delegate_namespace.args, m.delegate_namespace.ret, MANUAL)
  delegate_namespace(): void {
    handle(m.delegate_namespace, (name, delegate) => namespaceResult(delegateNamespace(state(), caller(), name, delegate.toText())));
  }

  @update(m.purge_namespace_cards.args, m.purge_namespace_cards.ret, MANUAL)
  purge_namespace_cards(): void {
    handle(m.purge_namespace_cards, (name, publisher, after, limit) =>
      purgeCards(state(), caller(), name, publisher.toText(), after[0], limit[0] === undefined ? undefined : Number(limit[0]))
    );
  }

  @update(m.revoke_namespace_delegate.args, m.revoke_namespace_delegate.ret, MANUAL)
  revoke_namespace_delegate(): void {
    handle(m.revoke_namespace_delegate, (name, delegate) =>
      namespaceResult(revokeNamespaceDelegate(state(), caller(), name, delegate.toText()))
    );
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

  // ---------- runner bonds and operators (canisters/registry/bonds.ts)
  /** The operator a runner's manifest names accepts it: payouts go to it from now on, and it counts in its quota. */
  @update(m.accept_operator.args, m.accept_operator.ret, MANUAL)
  accept_operator(): void {
    handle(m.accept_operator, (runner) =>
      mapResult(acceptOperator(state(), caller(), time(), runner.toText()), (r) => runnerView(state(), r, time()))
    );
  }

  @update(m.set_bond_config.args, m.set_bond_config.ret, MANUAL)
  set_bond_config(): void {
    handle(m.set_bond_config, (a) =>
      mapResult(
        setBondConfig(state(), caller(), {
          amountE8s: some(a.amount_e8s),
          cooldownSeconds: some(a.cooldown_seconds),
          slashBps: some(a.slash_bps),
          expiredLeaseThreshold: some(a.expired_lease_threshold)
        }),
        bondConfigView
      )
    );
  }

  @query(m.get_bond_config.args, m.get_bond_config.ret, MANUAL)
  get_bond_config(): void {
    handle(m.get_bond_config, () => bondConfigView(state().bondConfig()));
  }

  /** A runner's bond, also after deregistration (until it is returned). */
  @query(m.get_bond.args, m.get_bond.ret, MANUAL)
  get_bond(): void {
    handle(m.get_bond, (runner) => {
      const bond = state().bonds.get(runner.toText());
      return opt(bond === undefined ? undefined : bondView(bond));
    });
  }

  // ---------- credit and batched settlement of the paid direct path (canisters/registry/credit.ts, src/core/credit)
  /** Async: the deposit moves with icrc2_transfer_from into the credit subaccount, credited exactly once. */
  @update(m.deposit_credit.args, m.deposit_credit.ret, MANUAL)
  async deposit_credit(): Promise<void> {
    if (tooLarge('deposit_credit')) return;
    const [a] = argsOf(m.deposit_credit);
    // The caller is read before the await (after it, msgCaller() is the ledger).
    const payer = caller();
    const result = await depositCredit(state(), payer, a.amount_e8s, some(a.created_at_time));
    replyOf(m.deposit_credit, mapResult(result, creditAccountView));
  }

  @update(m.withdraw_credit.args, m.withdraw_credit.ret, MANUAL)
  withdraw_credit(): void {
    handle(m.withdraw_credit, (amount) => mapResult(withdrawCredit(state(), caller(), time(), amount), withdrawalView));
  }

  @update(m.reserve_credit.args, m.reserve_credit.ret, MANUAL)
  reserve_credit(): void {
    handle(m.reserve_credit, (runner, amount) =>
      mapResult(reserveCredit(state(), caller(), time(), runner.toText(), amount), (l) => creditLineView(state(), l))
    );
  }

  @update(m.close_credit_line.args, m.close_credit_line.ret, MANUAL)
  close_credit_line(): void {
    handle(m.close_credit_line, (id) => mapResult(closeCreditLine(state(), caller(), time(), id), (l) => creditLineView(state(), l)));
  }

  @update(m.finalize_credit_line.args, m.finalize_credit_line.ret, MANUAL)
  finalize_credit_line(): void {
    handle(m.finalize_credit_line, (id) => mapResult(finalizeCreditLine(state(), caller(), time(), id), (l) => creditLineView(state(), l)));
  }

  /** The payer's batch: each item its own Ok or Err. */
  @update(m.settle_usage.args, m.settle_usage.ret, MANUAL)
  settle_usage(): void {
    handle(m.settle_usage, (items) =>
      mapResult(settleUsage(state(), caller(), time(), items.map(usageOf)), (outcomes) =>
        outcomes.map((o) => mapResult(o, (s) => settledView(state(), s)))
      )
    );
  }

  /** The runner settles alone with the payer's signed receipt (the signature is checked here). */
  @update(m.settle_receipt.args, m.settle_receipt.ret, MANUAL)
  settle_receipt(): void {
    handle(m.settle_receipt, (signed) =>
      mapResult(settleReceipt(state(), caller(), time(), signedReceiptOf(signed)), (s) => settledView(state(), s))
    );
  }

  @update(m.withdraw_accrued.args, m.withdraw_accrued.ret, MANUAL)
  withdraw_accrued(): void {
    handle(m.withdraw_accrued, () => mapResult(withdrawAccrued(state(), caller(), time()), withdrawalView));
  }

  @query(m.get_credit_account.args, m.get_credit_account.ret, MANUAL)
  get_credit_account(): void {
    handle(m.get_credit_account, (owner) => opt(accountViewOf(state(), owner.toText())));
  }

  @query(m.get_credit_line.args, m.get_credit_line.ret, MANUAL)
  get_credit_line(): void {
    handle(m.get_credit_line, (id) => {
      const line = getLine(state(), id);
      return opt(line === undefined ? undefined : creditLineView(state(), line));
    });
  }

  /** The pair's line that is not closed (open, or closing in its dispute window). */
  @query(m.find_credit_line.args, m.find_credit_line.ret, MANUAL)
  find_credit_line(): void {
    handle(m.find_credit_line, (payer, runner) => {
      const line = findLine(state(), payer.toText(), runner.toText());
      return opt(line === undefined ? undefined : creditLineView(state(), line));
    });
  }

  @query(m.list_credit_lines.args, m.list_credit_lines.ret, MANUAL)
  list_credit_lines(): void {
    handle(m.list_credit_lines, (filter, page) => {
      const payer = some(filter.payer);
      const runner = some(filter.runner);
      if ((payer === undefined) === (runner === undefined))
        return { Err: { InvalidArgument: { field: 'filter', reason: 'name exactly one of payer and runner' } } };
      const result = listLines(state(), payer ? 'payer' : 'runner', (payer ?? runner)!.toText(), {
        after: some(page.after),
        limit: some(page.limit)
      });
      return mapResult(result, (p) => ({ items: p.items.map((l) => creditLineView(state(), l)), next: opt(p.next) }));
    });
  }

  @update(m.set_credit_config.args, m.set_credit_config.ret, MANUAL)
  set_credit_config(): void {
    handle(m.set_credit_config, (a) =>
      mapResult(
        setCreditConfig(state(), caller(), {
          disputeWindowSeconds: some(a.dispute_window_seconds),
          autoPayoutThresholdE8s: some(a.auto_payout_threshold_e8s),
          minReserveE8s: some(a.min_reserve_e8s)
        }),
        creditConfigView
      )
    );
  }

  @query(m.get_credit_config.args, m.get_credit_config.ret, MANUAL)
  get_credit_config(): void {
    handle(m.get_credit_config, () => creditConfigView(state().creditConfig()));
  }
}
