import '../common/text-codec.js';
import { IDL, init, isController, msgCaller, msgReply, Principal, postUpgrade, query, setTimerInterval, time, trap, update } from 'azle';

import {
  deprecateCard,
  deregisterRunner,
  findRunners,
  getCard,
  heartbeat,
  listCards,
  listRunners,
  makeConfig,
  publishCard,
  registerRunner,
  setAdmins,
  setSuspended,
  stats,
  updateRunner,
  MAX_MANIFEST_BYTES,
  MAX_MANIFEST_DEPTH,
  type RegistryError,
  type Result
} from '../../src/core/registry/index.js';
import { JsonTooDeepError, parseJson } from '../../src/core/json.js';
import { requireAdmin } from '../../src/core/registry/access.js';
import {
  acceptTask,
  claimTask,
  completeTask,
  failTask,
  quoteReward,
  rejectTask,
  setTaskConfig,
  submitTask,
  MAX_REDUNDANCY
} from '../../src/core/tasks/index.js';
import * as C from './candid.js';
import { candidatesReply } from './candid-text.js';
import { args, reply, warmReplyTypes } from '../common/fast-candid.js';
import { openStore } from './stable-store.js';
import { escrow, escrowAccount, maintain } from './tasks.js';
import { claimable, taskPage, type PageArgs, type TaskFilterArgs } from './task-queries.js';
import {
  accountIn,
  findRequestOf,
  hex,
  payoutView,
  quoteView,
  reputationView,
  taskConfigView,
  taskResultView,
  taskView,
  type ResultArgsValue,
  type SubmitTaskArgs,
  type TaskConfigArgsValue
} from './task-views.js';
import { candidateView, cardView, configView, runnerView, statsView } from './views.js';

type Opt<T> = [] | [T];
const some = <T>(value: Opt<T>): T | undefined => value[0];

// Opened on first use, not at module load: azle evaluates the module at build time (Candid generation),
// where stable memory cannot be read.
let opened: ReturnType<typeof openStore> | undefined;
const state = (): ReturnType<typeof openStore> => (opened ??= openStore());
const caller = (): string => msgCaller().toText();

/** Manifests arrive as JSON text (what `deai` reads from YAML or JSON files), bounded and parsed here. */
function manifestOf(json: string): Result<unknown> {
  if (json.length > MAX_MANIFEST_BYTES) return { Err: { LimitExceeded: { what: 'manifest bytes', limit: BigInt(MAX_MANIFEST_BYTES) } } };
  try {
    return { Ok: parseJson(json, { maxDepth: MAX_MANIFEST_DEPTH }) };
  } catch (error) {
    const message = error instanceof JsonTooDeepError ? error.message : `not valid JSON: ${String(error)}`;
    return { Err: { InvalidManifest: { issues: [{ path: '', message }] } } };
  }
}

const REPLY_TYPES = [
  ...Object.values(C.Results),
  C.OptCardView,
  C.OptRunnerView,
  C.StatsList,
  C.ConfigView,
  C.OptTaskView,
  C.TaskSummaries,
  C.RewardQuote,
  C.TaskConfigView,
  C.PayoutViews,
  C.OptReputationView
];

/** Task maintenance (expired leases, deadlines, reviews, epochs, payouts) runs on this interval. */
const MAINTENANCE_SECONDS = 5;

function startMaintenance(): void {
  setTimerInterval(MAINTENANCE_SECONDS, () => maintain(state()));
}

function configure(args: Opt<{ admins: Principal[]; heartbeat_interval_seconds: Opt<bigint>; heartbeat_ttl_seconds: Opt<bigint> }>): void {
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
  warmReplyTypes(REPLY_TYPES);
}

/** Decodes the arguments, runs `body`, and replies with a cached-type-table encoding of its result. */
function handle<A extends unknown[]>(argTypes: IDL.Type[], returnType: IDL.Type, body: (...decoded: A) => unknown): void {
  // IDL.decode has checked the bytes against argTypes, so the values have the parameter types.
  reply(returnType, body(...(args(argTypes) as A)));
}

const mapResult = <T, U>(result: Result<T>, view: (value: T) => U): { Ok: U } | { Err: RegistryError } =>
  'Ok' in result ? { Ok: view(result.Ok) } : result;

export default class {
  @init([IDL.Opt(C.InitArgs)])
  init(args: Opt<{ admins: Principal[]; heartbeat_interval_seconds: Opt<bigint>; heartbeat_ttl_seconds: Opt<bigint> }>): void {
    configure(args);
    startMaintenance();
  }

  @postUpgrade([IDL.Opt(C.InitArgs)])
  postUpgrade(args: Opt<{ admins: Principal[]; heartbeat_interval_seconds: Opt<bigint>; heartbeat_ttl_seconds: Opt<bigint> }>): void {
    // state() rebuilds the heap copies from stable memory on first use. Timers do not survive an upgrade.
    configure(args);
    startMaintenance();
  }

  @update([IDL.Text], C.Results.modelRef, { manual: true })
  publish_model_card(): void {
    handle([IDL.Text], C.Results.modelRef, (manifestJson: string) => {
      const manifest = manifestOf(manifestJson);
      if ('Err' in manifest) return manifest;
      return publishCard(state(), caller(), time(), manifest.Ok);
    });
  }

  @query([IDL.Text, IDL.Opt(IDL.Text)], C.OptCardView, { manual: true })
  get_model_card(): void {
    handle([IDL.Text, IDL.Opt(IDL.Text)], C.OptCardView, (id: string, digest: Opt<string>) => {
      const stored = getCard(state(), id, some(digest));
      return stored === undefined ? [] : [cardView(stored)];
    });
  }

  @query([C.CardFilter, C.PageRequest], C.Results.cardPage, { manual: true })
  list_model_cards(): void {
    handle(
      [C.CardFilter, C.PageRequest],
      C.Results.cardPage,
      (
        filter: { id: Opt<string>; family: Opt<string>; format: Opt<string>; quantization: Opt<string>; include_deprecated: Opt<boolean> },
        page: { after: Opt<string>; limit: Opt<number> }
      ) => {
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
      }
    );
  }

  @query([C.RunnerFilter, C.PageRequest], C.Results.runnerPage, { manual: true })
  list_runners(): void {
    handle(
      [C.RunnerFilter, C.PageRequest],
      C.Results.runnerPage,
      (filter: { model: Opt<string>; live_only: Opt<boolean> }, page: { after: Opt<string>; limit: Opt<number> }) => {
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
      }
    );
  }

  @update([C.ModelRef, IDL.Text], C.Results.unit, { manual: true })
  deprecate_model_card(): void {
    handle([C.ModelRef, IDL.Text], C.Results.unit, (ref: { id: string; digest: string }, reason: string) => {
      return deprecateCard(state(), caller(), time(), ref, reason);
    });
  }

  @update([IDL.Text], C.Results.runner, { manual: true })
  register_runner(): void {
    handle([IDL.Text], C.Results.runner, (manifestJson: string) => {
      const manifest = manifestOf(manifestJson);
      if ('Err' in manifest) return manifest;
      return mapResult(registerRunner(state(), caller(), time(), manifest.Ok), (r) => runnerView(state(), r, time()));
    });
  }

  @update([IDL.Principal, IDL.Text], C.Results.runner, { manual: true })
  update_runner(): void {
    handle([IDL.Principal, IDL.Text], C.Results.runner, (runner: Principal, manifestJson: string) => {
      const manifest = manifestOf(manifestJson);
      if ('Err' in manifest) return manifest;
      return mapResult(updateRunner(state(), caller(), time(), runner.toText(), manifest.Ok), (r) => runnerView(state(), r, time()));
    });
  }

  @update([IDL.Principal], C.Results.unit, { manual: true })
  deregister_runner(): void {
    handle([IDL.Principal], C.Results.unit, (runner: Principal) => {
      return deregisterRunner(state(), caller(), runner.toText());
    });
  }

  @update([C.HeartbeatArgs], C.Results.heartbeat, { manual: true })
  heartbeat(): void {
    handle(
      [C.HeartbeatArgs],
      C.Results.heartbeat,
      (args: { state: string; busy_slots: number; queue_depth: number; tokens_per_second: number; kv_cache_usage: number }) => {
        const result = heartbeat(state(), caller(), time(), {
          state: args.state,
          busySlots: args.busy_slots,
          queueDepth: args.queue_depth,
          tokensPerSecond: args.tokens_per_second,
          kvCacheUsage: args.kv_cache_usage
        });
        return mapResult(result, (ack) => ({ next_heartbeat_in_ns: ack.nextHeartbeatInNs, ttl_ns: ack.ttlNs }));
      }
    );
  }

  @query([IDL.Principal], C.OptRunnerView, { manual: true })
  get_runner(): void {
    handle([IDL.Principal], C.OptRunnerView, (runner: Principal) => {
      const stored = state().runners.get(runner.toText());
      return stored === undefined ? [] : [runnerView(state(), stored, time())];
    });
  }

  @query([C.FindRequest], C.Results.candidates, { manual: true })
  find_runners(): void {
    const [request] = args([C.FindRequest]) as [C.FindRequestArgs];
    const result = findRunners(state(), time(), findRequestOf(request));
    if ('Ok' in result && result.Ok.length > 0) msgReply(candidatesReply(result.Ok));
    else
      reply(
        C.Results.candidates,
        mapResult(result, (candidates) => candidates.map(candidateView))
      );
  }

  @query([], C.StatsList, { manual: true })
  stats(): void {
    handle([], C.StatsList, () => {
      return stats(state(), time()).map(statsView);
    });
  }

  @update([IDL.Principal, IDL.Text], C.Results.unit, { manual: true })
  suspend_runner(): void {
    handle([IDL.Principal, IDL.Text], C.Results.unit, (runner: Principal, reason: string) => {
      return setSuspended(state(), caller(), time(), runner.toText(), reason);
    });
  }

  @update([IDL.Principal], C.Results.unit, { manual: true })
  unsuspend_runner(): void {
    handle([IDL.Principal], C.Results.unit, (runner: Principal) => {
      return setSuspended(state(), caller(), time(), runner.toText(), undefined);
    });
  }

  @update([IDL.Vec(IDL.Principal)], C.Results.unit, { manual: true })
  set_admins(): void {
    handle([IDL.Vec(IDL.Principal)], C.Results.unit, (admins: Principal[]) => {
      return setAdmins(
        state(),
        caller(),
        isController(msgCaller()),
        admins.map((a) => a.toText())
      );
    });
  }

  @query([], C.ConfigView, { manual: true })
  get_config(): void {
    handle([], C.ConfigView, () => {
      return configView(state().config());
    });
  }

  // ---------- tasks and rewards
  @update([C.SubmitTaskArgs], C.Results.task, { manual: true })
  async submit_task(): Promise<void> {
    const [a] = args([C.SubmitTaskArgs]) as [SubmitTaskArgs];
    const redundancy = some(a.redundancy) ?? 1;
    const submitted = submitTask(state(), caller(), time(), {
      idempotencyKey: a.idempotency_key,
      request: findRequestOf(a.request),
      input: { inline: some(a.input.inline), digest: some(a.input.digest), reference: some(a.input.reference) },
      limits: { maxOutputTokens: a.limits.max_output_tokens, temperature: some(a.limits.temperature), seed: some(a.limits.seed) },
      rewardE8s: a.reward_e8s,
      deadlineNs: a.deadline_ns,
      redundancy: redundancy > MAX_REDUNDANCY ? MAX_REDUNDANCY + 1 : redundancy,
      refundSubaccount: some(a.refund_subaccount) === undefined ? undefined : hex(some(a.refund_subaccount) ?? [])
    });
    if ('Err' in submitted) return reply(C.Results.task, submitted);
    const { task, escrow: owed } = submitted.Ok;
    // A repeated idempotency key returns the first task; nothing is escrowed twice.
    if (owed === undefined) return reply(C.Results.task, { Ok: taskView(task) });
    const escrowed = await escrow(state(), task);
    reply(C.Results.task, 'Ok' in escrowed ? { Ok: taskView(escrowed.Ok) } : { Err: { LedgerError: escrowed.Err } });
  }

  @update([IDL.Opt(IDL.Text)], C.Results.task, { manual: true })
  claim_task(): void {
    handle([IDL.Opt(IDL.Text)], C.Results.task, (id: Opt<string>) => mapResult(claimTask(state(), caller(), time(), some(id)), taskView));
  }

  @update([IDL.Text, C.ResultArgs], C.Results.taskResult, { manual: true })
  complete_task(): void {
    handle([IDL.Text, C.ResultArgs], C.Results.taskResult, (id: string, r: ResultArgsValue) =>
      mapResult(
        completeTask(state(), caller(), time(), id, {
          outputDigest: r.output_digest,
          output: some(r.output),
          reference: some(r.reference),
          inputTokens: r.input_tokens,
          outputTokens: r.output_tokens,
          firstTokenMs: r.first_token_ms,
          totalMs: r.total_ms
        }),
        taskResultView
      )
    );
  }

  @update([IDL.Text, IDL.Text], C.Results.task, { manual: true })
  fail_task(): void {
    handle([IDL.Text, IDL.Text], C.Results.task, (id: string, reason: string) =>
      mapResult(failTask(state(), caller(), time(), id, reason), taskView)
    );
  }

  @update([IDL.Text], C.Results.task, { manual: true })
  accept_task(): void {
    handle([IDL.Text], C.Results.task, (id: string) => mapResult(acceptTask(state(), caller(), time(), id), taskView));
  }

  @update([IDL.Text, IDL.Text], C.Results.task, { manual: true })
  reject_task(): void {
    handle([IDL.Text, IDL.Text], C.Results.task, (id: string, reason: string) =>
      mapResult(rejectTask(state(), caller(), time(), id, reason), taskView)
    );
  }

  @query([IDL.Text], C.OptTaskView, { manual: true })
  get_task(): void {
    handle([IDL.Text], C.OptTaskView, (id: string) => {
      const task = id.length > 64 ? undefined : state().tasks.get(id);
      return task === undefined ? [] : [taskView(task)];
    });
  }

  /** Queued tasks the calling runner could lease now, oldest first. */
  @query([], C.TaskSummaries, { manual: true })
  list_claimable(): void {
    handle([], C.TaskSummaries, () => claimable(state(), caller(), time()));
  }

  /** Tasks newest first (any caller), filtered by requester, runner and state; paged like list_runners. */
  @query([C.TaskFilter, C.PageRequest], C.Results.taskPage, { manual: true })
  list_tasks(): void {
    handle([C.TaskFilter, C.PageRequest], C.Results.taskPage, (filter: TaskFilterArgs, page: PageArgs) => taskPage(state(), filter, page));
  }

  @query([IDL.Nat, IDL.Nat8], C.RewardQuote, { manual: true })
  quote_reward(): void {
    handle([IDL.Nat, IDL.Nat8], C.RewardQuote, (reward: bigint, redundancy: number) =>
      quoteView(quoteReward(state().taskConfig(), reward, Math.min(Math.max(redundancy, 1), MAX_REDUNDANCY)))
    );
  }

  @update([C.TaskConfigArgs], C.Results.taskConfig, { manual: true })
  set_task_config(): void {
    handle([C.TaskConfigArgs], C.Results.taskConfig, (a: TaskConfigArgsValue) => {
      const treasury = some(a.treasury);
      const result = setTaskConfig(state(), caller(), {
        ledger: some(a.ledger)?.toText(),
        treasury: treasury === undefined ? undefined : accountIn(treasury),
        protocolFeeBps: some(a.protocol_fee_bps),
        ledgerFeeE8s: some(a.ledger_fee_e8s),
        leaseSeconds: some(a.lease_seconds),
        reviewWindowSeconds: some(a.review_window_seconds),
        minRewardE8s: some(a.min_reward_e8s),
        emissionPerEpochE8s: some(a.emission_per_epoch_e8s),
        epochSeconds: some(a.epoch_seconds)
      });
      return mapResult(result, (config) => taskConfigView(config, escrowAccount()));
    });
  }

  @query([], C.TaskConfigView, { manual: true })
  get_task_config(): void {
    handle([], C.TaskConfigView, () => taskConfigView(state().taskConfig(), escrowAccount()));
  }

  /** Payouts recorded but not yet confirmed by the ledger (with their attempts and last error). */
  @query([], C.PayoutViews, { manual: true })
  list_payouts(): void {
    handle([], C.PayoutViews, () => [...state().payouts.entries()].slice(0, 100).map(([, p]) => payoutView(p)));
  }

  @query([IDL.Principal], C.OptReputationView, { manual: true })
  get_reputation(): void {
    handle([IDL.Principal], C.OptReputationView, (runner: Principal) => {
      const r = state().reputation.get(runner.toText());
      return r === undefined ? [] : [reputationView(r)];
    });
  }

  /** Runs one maintenance pass now (admins): what the timer does every few seconds. */
  @update([], C.Results.unit, { manual: true })
  async process_tasks(): Promise<void> {
    args([]);
    const denied = requireAdmin(state(), caller());
    if (denied !== undefined) return reply(C.Results.unit, { Err: denied });
    await maintain(state());
    reply(C.Results.unit, { Ok: null });
  }
}
