import { IDL } from '@dfinity/candid';

/**
 * The registry's Candid interface, shared by the canister's decorators and off-chain clients (same @dfinity/candid
 * copy as azle's). The generated registry.did is derived from the decorators; a test checks it lists every method.
 */
export const RegistryError = IDL.Variant({
  AnonymousCaller: IDL.Null,
  Unauthorized: IDL.Record({ reason: IDL.Text }),
  NotFound: IDL.Record({ what: IDL.Text }),
  InvalidManifest: IDL.Record({ issues: IDL.Vec(IDL.Record({ path: IDL.Text, message: IDL.Text })) }),
  InvalidArgument: IDL.Record({ field: IDL.Text, reason: IDL.Text }),
  AlreadyExists: IDL.Record({ what: IDL.Text }),
  CardNotPublished: IDL.Record({ model: IDL.Text }),
  CardDeprecated: IDL.Record({ model: IDL.Text, reason: IDL.Text }),
  Suspended: IDL.Record({ reason: IDL.Text }),
  LimitExceeded: IDL.Record({ what: IDL.Text, limit: IDL.Nat }),
  InvalidState: IDL.Record({ state: IDL.Text, expected: IDL.Text }),
  NoCapacity: IDL.Record({ slots: IDL.Nat32 }),
  NotConfigured: IDL.Record({ what: IDL.Text }),
  LedgerError: IDL.Record({ operation: IDL.Text, message: IDL.Text })
});

export const result = (ok: IDL.Type): IDL.VariantClass => IDL.Variant({ Ok: ok, Err: RegistryError });

export const InitArgs = IDL.Record({
  admins: IDL.Vec(IDL.Principal),
  heartbeat_interval_seconds: IDL.Opt(IDL.Nat64),
  heartbeat_ttl_seconds: IDL.Opt(IDL.Nat64)
});

export const ModelRef = IDL.Record({ id: IDL.Text, digest: IDL.Text });

export const CardView = IDL.Record({
  id: IDL.Text,
  digest: IDL.Text,
  version: IDL.Text,
  family: IDL.Text,
  architecture: IDL.Text,
  format: IDL.Text,
  quantization: IDL.Text,
  bits: IDL.Float64,
  context_length: IDL.Nat64,
  published_by: IDL.Principal,
  published_at_ns: IDL.Nat64,
  deprecated: IDL.Opt(IDL.Record({ reason: IDL.Text, at_ns: IDL.Nat64 })),
  manifest_json: IDL.Text
});

export const CardFilter = IDL.Record({
  id: IDL.Opt(IDL.Text),
  family: IDL.Opt(IDL.Text),
  format: IDL.Opt(IDL.Text),
  quantization: IDL.Opt(IDL.Text),
  include_deprecated: IDL.Opt(IDL.Bool)
});

export const PageRequest = IDL.Record({ after: IDL.Opt(IDL.Text), limit: IDL.Opt(IDL.Nat32) });

export const HeartbeatView = IDL.Record({
  state: IDL.Text,
  busy_slots: IDL.Nat32,
  queue_depth: IDL.Nat32,
  tokens_per_second: IDL.Float64,
  kv_cache_usage: IDL.Float64,
  at_ns: IDL.Nat64
});

export const DeploymentView = IDL.Record({
  model_id: IDL.Text,
  model_digest: IDL.Text,
  engine: IDL.Text,
  engine_version: IDL.Text,
  served_context: IDL.Nat64,
  slots: IDL.Nat32,
  input_price_per_million: IDL.Nat,
  output_price_per_million: IDL.Nat
});

export const RunnerView = IDL.Record({
  id: IDL.Principal,
  operator: IDL.Text,
  endpoint: IDL.Opt(IDL.Text),
  region: IDL.Text,
  registered_at_ns: IDL.Nat64,
  updated_at_ns: IDL.Nat64,
  suspended: IDL.Opt(IDL.Text),
  live: IDL.Bool,
  heartbeat: IDL.Opt(HeartbeatView),
  deployments: IDL.Vec(DeploymentView),
  manifest_json: IDL.Text
});

export const RunnerFilter = IDL.Record({ model: IDL.Opt(IDL.Text), live_only: IDL.Opt(IDL.Bool) });

export const HeartbeatArgs = IDL.Record({
  state: IDL.Text,
  busy_slots: IDL.Nat32,
  queue_depth: IDL.Nat32,
  tokens_per_second: IDL.Float64,
  kv_cache_usage: IDL.Float64
});

export const HeartbeatAck = IDL.Record({ next_heartbeat_in_ns: IDL.Nat64, ttl_ns: IDL.Nat64 });

export const FindRequest = IDL.Record({
  model: IDL.Opt(IDL.Text),
  family: IDL.Opt(IDL.Text),
  min_context: IDL.Opt(IDL.Nat64),
  quantizations: IDL.Opt(IDL.Vec(IDL.Text)),
  min_bits: IDL.Opt(IDL.Float64),
  input_modality: IDL.Opt(IDL.Text),
  output_modality: IDL.Opt(IDL.Text),
  capabilities: IDL.Opt(IDL.Vec(IDL.Text)),
  engine: IDL.Opt(IDL.Text),
  accelerator_class: IDL.Opt(IDL.Text),
  region: IDL.Opt(IDL.Text),
  max_input_price_per_million: IDL.Opt(IDL.Nat),
  max_output_price_per_million: IDL.Opt(IDL.Nat),
  endpoint_required: IDL.Opt(IDL.Bool),
  confidential_required: IDL.Opt(IDL.Bool),
  affinity_key: IDL.Opt(IDL.Text),
  limit: IDL.Opt(IDL.Nat32)
});

type Opt<T> = [] | [T];

/** The JS value of FindRequest (Candid `opt T` is `[] | [T]`). */
export interface FindRequestArgs {
  model: Opt<string>;
  family: Opt<string>;
  min_context: Opt<bigint>;
  quantizations: Opt<string[]>;
  min_bits: Opt<number>;
  input_modality: Opt<string>;
  output_modality: Opt<string>;
  capabilities: Opt<string[]>;
  engine: Opt<string>;
  accelerator_class: Opt<string>;
  region: Opt<string>;
  max_input_price_per_million: Opt<bigint>;
  max_output_price_per_million: Opt<bigint>;
  endpoint_required: Opt<boolean>;
  confidential_required: Opt<boolean>;
  affinity_key: Opt<string>;
  limit: Opt<number>;
}

export const Breakdown = IDL.Record({
  load: IDL.Float64,
  freshness: IDL.Float64,
  price: IDL.Float64,
  reputation: IDL.Float64,
  latency: IDL.Float64,
  efficiency: IDL.Float64
});

export const Candidate = IDL.Record({
  runner: IDL.Principal,
  /** Empty when the runner publishes no endpoint (find_runners' native encoder cannot type a mixed `opt` column). */
  endpoint: IDL.Text,
  region: IDL.Text,
  model: ModelRef,
  engine: IDL.Text,
  deployment: IDL.Nat32,
  input_price_per_million: IDL.Nat,
  output_price_per_million: IDL.Nat,
  state: IDL.Text,
  free_slots: IDL.Nat32,
  heartbeat_age_ns: IDL.Nat64,
  score: IDL.Nat32,
  breakdown: Breakdown,
  affinity: IDL.Bool
});

export const ModelStats = IDL.Record({
  model: IDL.Text,
  ready_runners: IDL.Nat32,
  free_slots: IDL.Nat32,
  queue_depth: IDL.Nat32,
  median_input_price_per_million: IDL.Nat,
  median_output_price_per_million: IDL.Nat
});

export const ConfigView = IDL.Record({
  admins: IDL.Vec(IDL.Principal),
  heartbeat_interval_ns: IDL.Nat64,
  heartbeat_ttl_ns: IDL.Nat64,
  weights: Breakdown
});

// ---------- tasks and rewards
export const Account = IDL.Record({ owner: IDL.Principal, subaccount: IDL.Opt(IDL.Vec(IDL.Nat8)) });
export const TaskInput = IDL.Record({ inline: IDL.Opt(IDL.Text), digest: IDL.Opt(IDL.Text), reference: IDL.Opt(IDL.Text) });
export const GenerationLimits = IDL.Record({ max_output_tokens: IDL.Nat32, temperature: IDL.Opt(IDL.Float64), seed: IDL.Opt(IDL.Nat64) });
export const SubmitTaskArgs = IDL.Record({
  idempotency_key: IDL.Text,
  request: FindRequest,
  input: TaskInput,
  limits: GenerationLimits,
  reward_e8s: IDL.Nat,
  deadline_ns: IDL.Nat64,
  redundancy: IDL.Opt(IDL.Nat8),
  refund_subaccount: IDL.Opt(IDL.Vec(IDL.Nat8))
});
export const ResultArgs = IDL.Record({
  output_digest: IDL.Text,
  output: IDL.Opt(IDL.Text),
  reference: IDL.Opt(IDL.Text),
  input_tokens: IDL.Nat64,
  output_tokens: IDL.Nat64,
  first_token_ms: IDL.Float64,
  total_ms: IDL.Float64
});
export const TaskResultView = IDL.Record({
  runner: IDL.Principal,
  output_digest: IDL.Text,
  output: IDL.Opt(IDL.Text),
  reference: IDL.Opt(IDL.Text),
  input_tokens: IDL.Nat64,
  output_tokens: IDL.Nat64,
  first_token_ms: IDL.Float64,
  total_ms: IDL.Float64,
  at_ns: IDL.Nat64
});
export const TaskView = IDL.Record({
  id: IDL.Text,
  requester: IDL.Principal,
  state: IDL.Text,
  model: IDL.Text,
  request: FindRequest,
  input: TaskInput,
  limits: GenerationLimits,
  reward_e8s: IDL.Nat,
  deadline_ns: IDL.Nat64,
  redundancy: IDL.Nat8,
  created_at_ns: IDL.Nat64,
  escrow_block: IDL.Opt(IDL.Nat),
  leases: IDL.Vec(IDL.Record({ runner: IDL.Principal, claimed_at_ns: IDL.Nat64, expires_at_ns: IDL.Nat64 })),
  results: IDL.Vec(TaskResultView),
  failures: IDL.Vec(IDL.Record({ runner: IDL.Principal, reason: IDL.Text, at_ns: IDL.Nat64 })),
  review_ends_at_ns: IDL.Opt(IDL.Nat64),
  paid_runners: IDL.Vec(IDL.Principal),
  outcome: IDL.Opt(IDL.Text)
});
export const TaskSummary = IDL.Record({
  id: IDL.Text,
  model: IDL.Text,
  reward_e8s: IDL.Nat,
  deadline_ns: IDL.Nat64,
  redundancy: IDL.Nat8,
  open_places: IDL.Nat8
});
export const RewardQuote = IDL.Record({
  reward_e8s: IDL.Nat,
  protocol_fee_e8s: IDL.Nat,
  per_runner_net_e8s: IDL.Int,
  treasury_net_e8s: IDL.Nat,
  refund_net_e8s: IDL.Int,
  ledger_fee_e8s: IDL.Nat,
  acceptable: IDL.Bool
});
export const TaskConfigArgs = IDL.Record({
  ledger: IDL.Opt(IDL.Principal),
  treasury: IDL.Opt(Account),
  protocol_fee_bps: IDL.Opt(IDL.Nat16),
  ledger_fee_e8s: IDL.Opt(IDL.Nat),
  lease_seconds: IDL.Opt(IDL.Nat64),
  review_window_seconds: IDL.Opt(IDL.Nat64),
  min_reward_e8s: IDL.Opt(IDL.Nat),
  emission_per_epoch_e8s: IDL.Opt(IDL.Nat),
  epoch_seconds: IDL.Opt(IDL.Nat64)
});
export const TaskConfigView = IDL.Record({
  ledger: IDL.Opt(IDL.Principal),
  treasury: IDL.Opt(Account),
  escrow: IDL.Opt(Account),
  protocol_fee_bps: IDL.Nat16,
  ledger_fee_e8s: IDL.Nat,
  lease_ns: IDL.Nat64,
  review_window_ns: IDL.Nat64,
  min_reward_e8s: IDL.Nat,
  emission_per_epoch_e8s: IDL.Nat,
  epoch_ns: IDL.Nat64
});
export const PayoutView = IDL.Record({
  id: IDL.Text,
  kind: IDL.Text,
  task_id: IDL.Opt(IDL.Text),
  to: Account,
  amount_e8s: IDL.Nat,
  created_at_ns: IDL.Nat64,
  attempts: IDL.Nat32,
  last_error: IDL.Opt(IDL.Text)
});
export const ReputationView = IDL.Record({
  completed: IDL.Nat32,
  failed: IDL.Nat32,
  rejected: IDL.Nat32,
  expired_leases: IDL.Nat32,
  latency_ms_ema: IDL.Float64
});
export const TaskFilter = IDL.Record({ requester: IDL.Opt(IDL.Principal), runner: IDL.Opt(IDL.Principal), state: IDL.Opt(IDL.Text) });
/** One row of list_tasks: what a listing shows, without the (up to 256 KiB) input and outputs of get_task. */
export const TaskListItem = IDL.Record({
  id: IDL.Text,
  requester: IDL.Principal,
  state: IDL.Text,
  model: IDL.Text,
  reward_e8s: IDL.Nat,
  redundancy: IDL.Nat8,
  created_at_ns: IDL.Nat64,
  deadline_ns: IDL.Nat64,
  runners: IDL.Vec(IDL.Principal),
  results: IDL.Nat32,
  input_tokens: IDL.Nat64,
  output_tokens: IDL.Nat64,
  review_ends_at_ns: IDL.Opt(IDL.Nat64),
  outcome: IDL.Opt(IDL.Text)
});
export const OptTaskView = IDL.Opt(TaskView);
export const TaskSummaries = IDL.Vec(TaskSummary);
export const PayoutViews = IDL.Vec(PayoutView);
export const OptReputationView = IDL.Opt(ReputationView);

const CardPage = IDL.Record({ items: IDL.Vec(CardView), next: IDL.Opt(IDL.Text) });
const RunnerPage = IDL.Record({ items: IDL.Vec(RunnerView), next: IDL.Opt(IDL.Text) });
const TaskPage = IDL.Record({ items: IDL.Vec(TaskListItem), next: IDL.Opt(IDL.Text) });

/** One instance per result type: the canister caches each type's encoded table by identity. */
export const Results = {
  modelRef: result(ModelRef),
  cardPage: result(CardPage),
  runnerPage: result(RunnerPage),
  unit: result(IDL.Null),
  runner: result(RunnerView),
  heartbeat: result(HeartbeatAck),
  candidates: result(IDL.Vec(Candidate)),
  task: result(TaskView),
  taskResult: result(TaskResultView),
  taskConfig: result(TaskConfigView),
  taskPage: result(TaskPage)
} as const;
export const OptCardView = IDL.Opt(CardView);
export const OptRunnerView = IDL.Opt(RunnerView);
export const StatsList = IDL.Vec(ModelStats);

/** The service, for `Actor.createActor` (off-chain SDK, CLI and tests). */
export const registryIdlFactory: IDL.InterfaceFactory = () =>
  IDL.Service({
    publish_model_card: IDL.Func([IDL.Text], [Results.modelRef], []),
    get_model_card: IDL.Func([IDL.Text, IDL.Opt(IDL.Text)], [OptCardView], ['query']),
    list_model_cards: IDL.Func([CardFilter, PageRequest], [Results.cardPage], ['query']),
    list_runners: IDL.Func([RunnerFilter, PageRequest], [Results.runnerPage], ['query']),
    deprecate_model_card: IDL.Func([ModelRef, IDL.Text], [Results.unit], []),
    register_runner: IDL.Func([IDL.Text], [Results.runner], []),
    update_runner: IDL.Func([IDL.Principal, IDL.Text], [Results.runner], []),
    deregister_runner: IDL.Func([IDL.Principal], [Results.unit], []),
    heartbeat: IDL.Func([HeartbeatArgs], [Results.heartbeat], []),
    get_runner: IDL.Func([IDL.Principal], [OptRunnerView], ['query']),
    find_runners: IDL.Func([FindRequest], [Results.candidates], ['query']),
    stats: IDL.Func([], [StatsList], ['query']),
    suspend_runner: IDL.Func([IDL.Principal, IDL.Text], [Results.unit], []),
    unsuspend_runner: IDL.Func([IDL.Principal], [Results.unit], []),
    set_admins: IDL.Func([IDL.Vec(IDL.Principal)], [Results.unit], []),
    get_config: IDL.Func([], [ConfigView], ['query']),
    submit_task: IDL.Func([SubmitTaskArgs], [Results.task], []),
    claim_task: IDL.Func([IDL.Opt(IDL.Text)], [Results.task], []),
    complete_task: IDL.Func([IDL.Text, ResultArgs], [Results.taskResult], []),
    fail_task: IDL.Func([IDL.Text, IDL.Text], [Results.task], []),
    accept_task: IDL.Func([IDL.Text], [Results.task], []),
    reject_task: IDL.Func([IDL.Text, IDL.Text], [Results.task], []),
    get_task: IDL.Func([IDL.Text], [OptTaskView], ['query']),
    list_claimable: IDL.Func([], [TaskSummaries], ['query']),
    list_tasks: IDL.Func([TaskFilter, PageRequest], [Results.taskPage], ['query']),
    quote_reward: IDL.Func([IDL.Nat, IDL.Nat8], [RewardQuote], ['query']),
    set_task_config: IDL.Func([TaskConfigArgs], [Results.taskConfig], []),
    get_task_config: IDL.Func([], [TaskConfigView], ['query']),
    list_payouts: IDL.Func([], [PayoutViews], ['query']),
    get_reputation: IDL.Func([IDL.Principal], [OptReputationView], ['query']),
    process_tasks: IDL.Func([], [Results.unit], [])
  });

export const registryInitArgs = (
  args: { admins: Array<{ toUint8Array(): Uint8Array }>; heartbeatIntervalSeconds?: bigint; heartbeatTtlSeconds?: bigint } | undefined
): Uint8Array =>
  new Uint8Array(
    IDL.encode(
      [IDL.Opt(InitArgs)],
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
