import { IDL } from '@dfinity/candid';

import { Nat, Nat8, Nat64, query, serviceOf, typed, update, type CandidInterface, type ServiceOf } from '../candid.js';
import {
  Breakdown,
  CardFilter,
  CardPage,
  CardView,
  Candidate,
  ConfigView,
  Deprecation,
  ConfidentialView,
  DeploymentView,
  FindRequest,
  HeartbeatAck,
  HeartbeatArgs,
  HeartbeatView,
  InitArgs,
  ModelRef,
  ModelStats,
  PageRequest,
  QuotasArgs,
  QuotasView,
  RunnerFilter,
  RunnerPage,
  RunnerView
} from './discovery.js';
import { BondConfigArgs, BondConfigView, BondView } from './bonds.js';
import {
  CreditAccountView,
  CreditConfigArgs,
  CreditConfigView,
  CreditLineFilter,
  CreditLinePage,
  CreditLineView,
  DepositArgs,
  ReceiptArgs,
  SettledView,
  SettleItemResult,
  SignedReceiptArgs,
  UsageSettlement,
  WithdrawalView
} from './credit.js';
import { ManifestIssue, NotFoundKind, RegistryError, result } from './errors.js';
import { NamespaceView, PurgeReport } from './namespaces.js';
import {
  Account,
  GenerationLimits,
  Lease,
  PayoutFilter,
  PayoutPage,
  PayoutView,
  ReputationView,
  QuoteTaskArgs,
  ResultArgs,
  RewardQuote,
  SubmitTaskArgs,
  TaskConfigArgs,
  TaskConfigView,
  TaskFailure,
  TaskFilter,
  TaskInput,
  TaskListItem,
  TaskPage,
  TaskResultView,
  ClaimableTask,
  TaskQuote,
  TaskView
} from './tasks.js';

/**
 * One instance per reply type: the canister caches each reply type's encoded type table by identity
 * (canisters/common/fast-candid.ts), so every method that replies with a type uses the same object.
 */
export const Results = {
  modelRef: result(ModelRef),
  cardPage: result(CardPage),
  runnerPage: result(RunnerPage),
  unit: result(typed<null>(IDL.Null)),
  runner: result(RunnerView),
  heartbeat: result(HeartbeatAck),
  candidates: result(typed<Candidate[]>(IDL.Vec(Candidate))),
  task: result(TaskView),
  taskResult: result(TaskResultView),
  taskConfig: result(TaskConfigView),
  taskPage: result(TaskPage),
  quotas: result(QuotasView),
  payoutPage: result(PayoutPage),
  payout: result(PayoutView),
  namespace: result(NamespaceView),
  purge: result(PurgeReport),
  bondConfig: result(BondConfigView),
  taskQuote: result(TaskQuote),
  creditAccount: result(CreditAccountView),
  creditLine: result(CreditLineView),
  creditLinePage: result(CreditLinePage),
  withdrawal: result(WithdrawalView),
  settleItem: SettleItemResult,
  settleBatch: result(typed<SettleItemResult[]>(IDL.Vec(SettleItemResult))),
  creditConfig: result(CreditConfigView)
} as const;

export const Replies = {
  optCard: IDL.Opt(CardView),
  optRunner: IDL.Opt(RunnerView),
  stats: IDL.Vec(ModelStats),
  optTask: IDL.Opt(TaskView),
  taskSummaries: IDL.Vec(ClaimableTask),
  optReputation: IDL.Opt(ReputationView),
  optNamespace: IDL.Opt(NamespaceView),
  optBond: IDL.Opt(BondView),
  optCreditAccount: IDL.Opt(CreditAccountView),
  optCreditLine: IDL.Opt(CreditLineView)
} as const;

/** Every registry method, declared once: the canister's decorators and handlers, the actors and the .did read this. */
export const registryMethods = {
  publish_model_card: update([IDL.Text], Results.modelRef),
  get_model_card: query([IDL.Text, IDL.Opt(IDL.Text)], Replies.optCard),
  list_model_cards: query([CardFilter, PageRequest], Results.cardPage),
  list_runners: query([RunnerFilter, PageRequest], Results.runnerPage),
  deprecate_model_card: update([ModelRef, IDL.Text], Results.unit),
  register_runner: update([IDL.Text], Results.runner),
  update_runner: update([IDL.Principal, IDL.Text], Results.runner),
  deregister_runner: update([IDL.Principal], Results.unit),
  heartbeat: update([HeartbeatArgs], Results.heartbeat),
  get_runner: query([IDL.Principal], Replies.optRunner),
  find_runners: query([FindRequest], Results.candidates),
  stats: query([], Replies.stats),
  suspend_runner: update([IDL.Principal, IDL.Text], Results.unit),
  unsuspend_runner: update([IDL.Principal], Results.unit),
  set_admins: update([IDL.Vec(IDL.Principal)], Results.unit),
  get_config: query([], ConfigView),
  submit_task: update([SubmitTaskArgs], Results.task),
  claim_task: update([IDL.Opt(IDL.Text)], Results.task),
  complete_task: update([IDL.Text, ResultArgs], Results.taskResult),
  fail_task: update([IDL.Text, IDL.Text], Results.task),
  accept_task: update([IDL.Text], Results.task),
  reject_task: update([IDL.Text, IDL.Text], Results.task),
  get_task: query([IDL.Text], Replies.optTask),
  list_claimable: query([], Replies.taskSummaries),
  list_tasks: query([TaskFilter, PageRequest], Results.taskPage),
  quote_reward: query([Nat, Nat8], RewardQuote),
  set_task_config: update([TaskConfigArgs], Results.taskConfig),
  get_task_config: query([], TaskConfigView),
  list_payouts: query([PayoutFilter, PageRequest], Results.payoutPage),
  retry_payout: update([IDL.Text], Results.payout),
  get_reputation: query([IDL.Principal], Replies.optReputation),
  process_tasks: update([], Results.unit),
  set_quotas: update([QuotasArgs], Results.quotas),
  get_quotas: query([], QuotasView),
  get_namespace: query([IDL.Text], Replies.optNamespace),
  assign_namespace: update([IDL.Text, IDL.Principal], Results.namespace),
  delegate_namespace: update([IDL.Text, IDL.Principal], Results.namespace),
  revoke_namespace_delegate: update([IDL.Text, IDL.Principal], Results.namespace),
  /** Admins: (namespace, publisher, after, limit) removes a former holder's cards, bounded per call (issue 16). */
  purge_namespace_cards: update([IDL.Text, IDL.Principal, IDL.Opt(IDL.Text), IDL.Opt(IDL.Nat32)], Results.purge),
  accept_operator: update([IDL.Principal], Results.runner),
  set_bond_config: update([BondConfigArgs], Results.bondConfig),
  get_bond_config: query([], BondConfigView),
  get_bond: query([IDL.Principal], Replies.optBond),
  quote_task: query([QuoteTaskArgs], Results.taskQuote),
  deposit_credit: update([DepositArgs], Results.creditAccount),
  withdraw_credit: update([Nat], Results.withdrawal),
  reserve_credit: update([IDL.Principal, Nat], Results.creditLine),
  close_credit_line: update([Nat64], Results.creditLine),
  finalize_credit_line: update([Nat64], Results.creditLine),
  settle_usage: update([IDL.Vec(UsageSettlement)], Results.settleBatch),
  settle_receipt: update([SignedReceiptArgs], Results.settleItem),
  withdraw_accrued: update([], Results.withdrawal),
  get_credit_account: query([IDL.Principal], Replies.optCreditAccount),
  get_credit_line: query([Nat64], Replies.optCreditLine),
  find_credit_line: query([IDL.Principal, IDL.Principal], Replies.optCreditLine),
  list_credit_lines: query([CreditLineFilter, PageRequest], Results.creditLinePage),
  set_credit_config: update([CreditConfigArgs], Results.creditConfig),
  get_credit_config: query([], CreditConfigView)
};

/** The registry's install and upgrade argument. */
export const RegistryInit = IDL.Opt(InitArgs);

/** The registry actor's type (`ActorSubclass<RegistryService>` in src/ic). */
export type RegistryService = ServiceOf<typeof registryMethods>;

/** The service, for `Actor.createActor` (off-chain SDK, CLI, explorer and tests). */
export const registryIdlFactory: IDL.InterfaceFactory = () => serviceOf(registryMethods);

/** The named types of registry.did, in the order it lists them. */
export const registryInterface = (): CandidInterface => ({
  service: serviceOf(registryMethods),
  init: [RegistryInit],
  types: {
    InitArgs,
    RegistryError,
    ManifestIssue,
    NotFoundKind,
    ModelRef,
    Deprecation,
    CardView,
    CardFilter,
    PageRequest,
    CardPage,
    HeartbeatView,
    DeploymentView,
    ConfidentialView,
    RunnerView,
    RunnerFilter,
    RunnerPage,
    HeartbeatArgs,
    HeartbeatAck,
    FindRequest,
    Breakdown,
    Candidate,
    ModelStats,
    ConfigView,
    QuotasView,
    QuotasArgs,
    Account,
    TaskInput,
    GenerationLimits,
    SubmitTaskArgs,
    ResultArgs,
    TaskResultView,
    Lease,
    TaskFailure,
    TaskView,
    ClaimableTask,
    TaskListItem,
    TaskFilter,
    TaskPage,
    RewardQuote,
    QuoteTaskArgs,
    TaskQuote,
    TaskConfigArgs,
    TaskConfigView,
    PayoutView,
    PayoutFilter,
    PayoutPage,
    ReputationView,
    NamespaceView,
    PurgeReport,
    BondConfigView,
    BondConfigArgs,
    BondView,
    CreditAccountView,
    CreditLineView,
    DepositArgs,
    UsageSettlement,
    SettledView,
    ReceiptArgs,
    SignedReceiptArgs,
    WithdrawalView,
    CreditLineFilter,
    CreditLinePage,
    CreditConfigView,
    CreditConfigArgs,
    ModelRefResult: Results.modelRef,
    CardPageResult: Results.cardPage,
    RunnerPageResult: Results.runnerPage,
    UnitResult: Results.unit,
    RunnerResult: Results.runner,
    HeartbeatResult: Results.heartbeat,
    CandidatesResult: Results.candidates,
    TaskViewResult: Results.task,
    TaskResultViewResult: Results.taskResult,
    TaskConfigResult: Results.taskConfig,
    TaskPageResult: Results.taskPage,
    QuotasResult: Results.quotas,
    PayoutPageResult: Results.payoutPage,
    PayoutResult: Results.payout,
    NamespaceResult: Results.namespace,
    PurgeResult: Results.purge,
    BondConfigResult: Results.bondConfig,
    TaskQuoteResult: Results.taskQuote,
    CreditAccountResult: Results.creditAccount,
    CreditLineResult: Results.creditLine,
    CreditLinePageResult: Results.creditLinePage,
    WithdrawalResult: Results.withdrawal,
    SettleItemResult: Results.settleItem,
    SettleBatchResult: Results.settleBatch,
    CreditConfigResult: Results.creditConfig
  }
});

/** The registry's install argument: `opt InitArgs` (none keeps the current configuration on upgrade). */
export const registryInitArgs = (
  args: { admins: Array<{ toUint8Array(): Uint8Array }>; heartbeatIntervalSeconds?: bigint; heartbeatTtlSeconds?: bigint } | undefined
): Uint8Array =>
  new Uint8Array(
    IDL.encode(
      [RegistryInit],
      [
        args === undefined
          ? []
          : [
              {
                admins: args.admins,
                heartbeat_interval_seconds: args.heartbeatIntervalSeconds === undefined ? [] : [args.heartbeatIntervalSeconds],
                heartbeat_ttl_seconds: args.heartbeatTtlSeconds === undefined ? [] : [args.heartbeatTtlSeconds]
              }
            ]
      ]
    )
  );
