import { describe, expect, it } from 'vitest';

import {
  acceptOperator,
  ANONYMOUS_PRINCIPAL,
  deprecateCard,
  heartbeat,
  makeConfig,
  memoryStore,
  publishCard,
  deregisterRunner,
  registerRunner,
  updateRunner,
  setSuspended,
  type Result
} from '../../../src/core/registry/index.ts';
import {
  acceptTask,
  claimTask,
  claimableFor,
  completeTask,
  escrowConfirmed,
  escrowFailed,
  failTask,
  MAX_DEADLINE_NS,
  MAX_FAILURES,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  MAX_INLINE_INPUT_BYTES,
  MAX_OPEN_TASKS,
  MAX_OUTPUT_BYTES,
  MAX_OUTPUT_TOKENS,
  MAX_REASON_LENGTH,
  MAX_REFERENCE_LENGTH,
  MAX_TASKS_PER_TICK,
  MIN_REFERENCE_OUTPUT_TOKENS,
  listTasks,
  memoryTaskStore,
  summarizeTask,
  rejectTask,
  setTaskConfig,
  submitTask,
  tick,
  type ResultArgs,
  type Stores,
  type SubmitArgs,
  type Task,
  type TaskConfigInput
} from '../../../src/core/tasks/index.ts';
import {
  addAcceptedWork,
  closeEpoch,
  epochCredits,
  beginAttempt,
  duePayouts,
  payoutDone,
  payoutRetry,
  payoutStuck,
  MAX_EPOCH_CREDITS,
  type Payout
} from '../../../src/core/rewards/index.ts';
import { deployment, digestOf, modelCard, runnerManifest } from '../../support/manifests.ts';
import { principalToText } from '../../../src/core/principal-text.ts';

const SHARED_OPERATOR = principalToText(Uint8Array.of(0x0f, 0xff));

const SECOND = 1_000_000_000n;
const NOW = 1_000_000n * SECOND;
const ADMIN = 'admin';
const REQUESTER = 'requester';
const LEDGER = 'ryjl3-tyaaa-aaaaa-aaaba-cai';
const TREASURY = { owner: principalToText(Uint8Array.of(0x0e, 0x01)) };
const REWARD = 1_000_000n;
const LEASE = 120n * SECOND;
const REVIEW = 600n * SECOND;
const HEARTBEAT_TTL = 180n * SECOND;

interface World {
  store: Stores;
  card: Record<string, unknown>;
  model: string;
}

const show = (value: unknown): string => JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));

function okOf<T>(result: Result<T>): T {
  if ('Err' in result) throw new Error(`expected Ok, got ${show(result.Err)}`);
  return result.Ok;
}

/** A registry with one published card and tasks configured (ledger + treasury), unless `configured` is false. */
function world(config: TaskConfigInput = {}, configured = true): World {
  const registryConfig = okOf(makeConfig({ admins: [ADMIN], heartbeatIntervalNs: 60n * SECOND }));
  const store: Stores = { ...memoryStore(registryConfig), ...memoryTaskStore() };
  if (configured) okOf(setTaskConfig(store, ADMIN, { ledger: LEDGER, treasury: TREASURY, ...config }));
  const card = modelCard();
  okOf(publishCard(store, 'publisher', NOW, card));
  return { store, card, model: String(card.id) };
}

/** Each runner is paid through its own operator, a real principal text (checksum included) derived from its name. */
const operatorOf = (runner: string): string => principalToText(Uint8Array.of(0x0f, runner.charCodeAt(runner.length - 1)));

function beat(w: World, runner: string, at: bigint, state = 'ready'): void {
  okOf(heartbeat(w.store, runner, at, { state, busySlots: 0, queueDepth: 0, tokensPerSecond: 1, kvCacheUsage: 0 }));
}

function addRunner(
  w: World,
  runner: string,
  options: {
    slots?: number;
    card?: Record<string, unknown>;
    at?: bigint;
    manifest?: Record<string, unknown>;
    price?: { inputPerMillion: number; outputPerMillion: number };
  } = {}
): void {
  const at = options.at ?? NOW;
  const manifest = runnerManifest(
    operatorOf(runner),
    [deployment(options.card ?? w.card, { slots: options.slots ?? 2, ...(options.price === undefined ? {} : { price: options.price }) })],
    options.manifest ?? {}
  );
  okOf(registerRunner(w.store, runner, at, manifest));
  // The operator accepts being named, so that it is paid (src/core/registry/operators.ts).
  okOf(acceptOperator(w.store, operatorOf(runner), at, runner));
  beat(w, runner, at);
}

const DETERMINISTIC = { maxOutputTokens: 64, temperature: 0, seed: 42n };

function submitArgs(w: World, key: string, overrides: Partial<SubmitArgs> = {}): SubmitArgs {
  return {
    idempotencyKey: key,
    request: { model: w.model },
    input: { inline: 'Say hello.' },
    limits: { maxOutputTokens: 64 },
    rewardE8s: REWARD,
    deadlineNs: NOW + 3600n * SECOND,
    redundancy: 1,
    ...overrides
  };
}

/** Submits and confirms the escrow: the task is queued. */
function queued(w: World, key: string, overrides: Partial<SubmitArgs> = {}, at = NOW): string {
  const { task } = okOf(submitTask(w.store, REQUESTER, at, submitArgs(w, key, overrides)));
  escrowConfirmed(w.store, task.id, 7n);
  return task.id;
}

function resultArgs(output: string, overrides: Partial<ResultArgs> = {}): ResultArgs {
  // 20 output tokens: within what even a one-byte output may meter (1 + 32 special tokens, usage.ts).
  return { outputDigest: digestOf(output), output, inputTokens: 12n, outputTokens: 20n, firstTokenMs: 50, totalMs: 400, ...overrides };
}

/** The stored task; every read also checks that its listing summary is in step with it (saveTask writes both). */
function taskOf(w: World, id: string): Task {
  const task = w.store.tasks.get(id);
  if (task === undefined) throw new Error(`no task ${id}`);
  expect(w.store.summaries.get(id)).toEqual(summarizeTask(task));
  return task;
}

/** Each runner claims the task and reports `output`; the task ends in review once all required results are in. */
function answered(w: World, id: string, answers: Array<[string, string]>, at = NOW): void {
  for (const [runner, output] of answers) {
    okOf(claimTask(w.store, runner, at, id));
    okOf(completeTask(w.store, runner, at, id, resultArgs(output)));
  }
}

function payouts(w: World): Payout[] {
  return [...w.store.payouts.entries()].map(([, p]) => p);
}

const sum = (values: bigint[]): bigint => values.reduce((a, b) => a + b, 0n);

const reputationOf = (w: World, runner: string) =>
  w.store.reputation.get(runner) ?? { completed: 0, failed: 0, rejected: 0, expiredLeases: 0, latencyMsEma: 0 };

describe('task config', () => {
  it('is set by admins only; absent fields keep their value; seconds become ns', () => {
    const w = world({}, false);
    expect(setTaskConfig(w.store, ANONYMOUS_PRINCIPAL, { ledger: LEDGER })).toEqual({ Err: { AnonymousCaller: null } });
    expect(setTaskConfig(w.store, 'someone', { ledger: LEDGER })).toEqual({ Err: { Unauthorized: { reason: expect.any(String) } } });
    expect(w.store.taskConfig().ledger).toBeUndefined();
    const first = okOf(setTaskConfig(w.store, ADMIN, { ledger: LEDGER, leaseSeconds: 30n, reviewWindowSeconds: 0n, epochSeconds: 60n }));
    expect(first).toMatchObject({
      ledger: LEDGER,
      leaseNs: 30n * SECOND,
      reviewWindowNs: 0n,
      epochNs: 60n * SECOND,
      protocolFeeBps: 500,
      ledgerFeeE8s: 10_000n,
      emissionRequesterCapBps: 2_000
    });
    expect(first.treasury).toBeUndefined();
    const second = okOf(setTaskConfig(w.store, ADMIN, { treasury: TREASURY, protocolFeeBps: 0 }));
    expect(second).toMatchObject({ ledger: LEDGER, treasury: TREASURY, leaseNs: 30n * SECOND, protocolFeeBps: 0 });
    expect(w.store.taskConfig()).toEqual(second);
  });

  it.each<[string, string, TaskConfigInput]>([
    ['fee above 50 %', 'protocol_fee_bps', { protocolFeeBps: 5_001 }],
    ['negative fee', 'protocol_fee_bps', { protocolFeeBps: -1 }],
    ['fractional fee', 'protocol_fee_bps', { protocolFeeBps: 1.5 }],
    ['negative ledger fee', 'ledger_fee_e8s', { ledgerFeeE8s: -1n }],
    ['lease under 5 s', 'lease_seconds', { leaseSeconds: 4n }],
    ['lease over 24 h', 'lease_seconds', { leaseSeconds: 24n * 3600n + 1n }],
    ['negative review window', 'review_window_seconds', { reviewWindowSeconds: -1n }],
    ['review window over 7 days', 'review_window_seconds', { reviewWindowSeconds: 7n * 24n * 3600n + 1n }],
    ['minimum reward equal to the ledger fee', 'min_reward_e8s', { minRewardE8s: 10_000n }],
    ['ledger fee raised above the minimum reward', 'min_reward_e8s', { ledgerFeeE8s: 100_000n }],
    ['negative emission', 'emission_per_epoch_e8s', { emissionPerEpochE8s: -1n }],
    ['epoch under 60 s', 'epoch_seconds', { epochSeconds: 59n }],
    ['no per-requester emission share', 'emission_requester_cap_bps', { emissionRequesterCapBps: 0 }],
    ['a per-requester share above 100 %', 'emission_requester_cap_bps', { emissionRequesterCapBps: 10_001 }],
    ['a fractional per-requester share', 'emission_requester_cap_bps', { emissionRequesterCapBps: 2.5 }]
  ])('rejects %s (InvalidArgument %s) and keeps the old config', (_name, field, input) => {
    const w = world();
    const before = w.store.taskConfig();
    expect(setTaskConfig(w.store, ADMIN, input)).toEqual({ Err: { InvalidArgument: { field, reason: expect.any(String) } } });
    expect(w.store.taskConfig()).toBe(before);
  });
});

describe('submitting a task', () => {
  it('refuses the anonymous caller and an unconfigured ledger', () => {
    const w = world({}, false);
    expect(submitTask(w.store, ANONYMOUS_PRINCIPAL, NOW, submitArgs(w, 'k'))).toEqual({ Err: { AnonymousCaller: null } });
    expect(submitTask(w.store, REQUESTER, NOW, submitArgs(w, 'k'))).toEqual({ Err: { NotConfigured: { what: expect.any(String) } } });
    expect(w.store.tasks.size()).toBe(0);
  });

  it('creates an escrowing task and says what to escrow; confirmation queues it once', () => {
    const w = world();
    const { task, escrow } = okOf(submitTask(w.store, REQUESTER, NOW, submitArgs(w, 'k')));
    expect(task).toMatchObject({
      id: 'task-000000000001',
      requester: REQUESTER,
      state: 'escrowing',
      rewardE8s: REWARD,
      createdAtNs: NOW,
      refundTo: { owner: REQUESTER }
    });
    expect(escrow).toEqual({ from: { owner: REQUESTER }, amountE8s: REWARD });
    expect(w.store.open.get(task.id)?.state).toBe('escrowing');
    expect(escrowConfirmed(w.store, task.id, 9n)).toMatchObject({ state: 'queued', escrowBlock: 9n });
    expect(escrowConfirmed(w.store, task.id, 10n)).toMatchObject({ state: 'queued', escrowBlock: 9n });
    expect(w.store.open.get(task.id)?.state).toBe('queued');
    expect(escrowConfirmed(w.store, 'task-999999999999', 1n)).toBeUndefined();
  });

  it('escrows from and refunds to the given subaccount', () => {
    const w = world();
    const subaccount = 'ab'.repeat(32);
    const { task, escrow } = okOf(submitTask(w.store, REQUESTER, NOW, submitArgs(w, 'k', { refundSubaccount: subaccount })));
    expect(task.refundTo).toEqual({ owner: REQUESTER, subaccount });
    expect(escrow?.from).toEqual({ owner: REQUESTER, subaccount });
  });

  it('is idempotent per caller and key: a repeat returns the first task and nothing to escrow', () => {
    const w = world();
    const first = okOf(submitTask(w.store, REQUESTER, NOW, submitArgs(w, 'k')));
    const again = okOf(submitTask(w.store, REQUESTER, NOW + SECOND, submitArgs(w, 'k', { rewardE8s: 2n * REWARD })));
    expect(again.task.id).toBe(first.task.id);
    expect(again.task.rewardE8s).toBe(REWARD);
    expect(again.escrow).toBeUndefined();
    expect(okOf(submitTask(w.store, REQUESTER, NOW, submitArgs(w, 'other'))).task.id).not.toBe(first.task.id);
    expect(okOf(submitTask(w.store, 'someone-else', NOW, submitArgs(w, 'k'))).task.id).not.toBe(first.task.id);
    expect(w.store.tasks.size()).toBe(3);
  });

  it('compensates a failed escrow: the task never existed and the key may be used again', () => {
    const w = world();
    const first = okOf(submitTask(w.store, REQUESTER, NOW, submitArgs(w, 'k')));
    escrowFailed(w.store, first.task.id);
    expect(w.store.tasks.get(first.task.id)).toBeUndefined();
    expect(w.store.summaries.get(first.task.id)).toBeUndefined();
    expect(w.store.open.get(first.task.id)).toBeUndefined();
    expect(listTasks(w.store, {}, {})).toEqual({ Ok: { items: [] } });
    expect(payouts(w)).toEqual([]);
    const retry = okOf(submitTask(w.store, REQUESTER, NOW, submitArgs(w, 'k')));
    expect(retry.task.id).not.toBe(first.task.id);
    expect(retry.escrow).toEqual({ from: { owner: REQUESTER }, amountE8s: REWARD });
    // Once escrowed, a late escrowFailed must not delete it.
    escrowConfirmed(w.store, retry.task.id, 3n);
    escrowFailed(w.store, retry.task.id);
    expect(taskOf(w, retry.task.id).state).toBe('queued');
    escrowFailed(w.store, 'task-999999999999');
  });

  const TOO_BIG_INLINE = 'é'.repeat(MAX_INLINE_INPUT_BYTES / 2 + 1);
  it.each<[string, string, (w: World) => Partial<SubmitArgs>]>([
    ['an empty idempotency key', 'idempotency_key', () => ({ idempotencyKey: '' })],
    ['a too long idempotency key', 'idempotency_key', () => ({ idempotencyKey: 'k'.repeat(MAX_IDEMPOTENCY_KEY_LENGTH + 1) })],
    ['no model', 'request.model', () => ({ request: {} })],
    ['an empty model', 'request.model', () => ({ request: { model: '' } })],
    ['no input', 'input', () => ({ input: {} })],
    ['a digest without a reference', 'input', () => ({ input: { digest: digestOf('prompt') } })],
    ['an inline input over the byte limit (2-byte characters)', 'input.inline', () => ({ input: { inline: TOO_BIG_INLINE } })],
    ['a malformed input digest', 'input.digest', () => ({ input: { digest: 'sha256:ABC', reference: 'https://x.example/p' } })],
    ['an empty input reference', 'input.reference', () => ({ input: { digest: digestOf('prompt'), reference: '' } })],
    [
      'a too long input reference',
      'input.reference',
      () => ({ input: { digest: digestOf('prompt'), reference: 'r'.repeat(MAX_REFERENCE_LENGTH + 1) } })
    ],
    ['zero output tokens', 'limits.max_output_tokens', () => ({ limits: { maxOutputTokens: 0 } })],
    ['fractional output tokens', 'limits.max_output_tokens', () => ({ limits: { maxOutputTokens: 1.5 } })],
    ['too many output tokens', 'limits.max_output_tokens', () => ({ limits: { maxOutputTokens: MAX_OUTPUT_TOKENS + 1 } })],
    ['a negative temperature', 'limits.temperature', () => ({ limits: { maxOutputTokens: 64, temperature: -0.1 } })],
    ['a temperature above 2', 'limits.temperature', () => ({ limits: { maxOutputTokens: 64, temperature: 2.1 } })],
    ['a NaN temperature', 'limits.temperature', () => ({ limits: { maxOutputTokens: 64, temperature: Number.NaN } })],
    ['redundancy 0', 'redundancy', () => ({ redundancy: 0 })],
    ['redundancy 8', 'redundancy', () => ({ redundancy: 8, limits: DETERMINISTIC })],
    ['fractional redundancy', 'redundancy', () => ({ redundancy: 1.5 })],
    ['redundancy without temperature 0', 'limits', () => ({ redundancy: 2, limits: { maxOutputTokens: 64, seed: 1n } })],
    ['redundancy without a seed', 'limits', () => ({ redundancy: 2, limits: { maxOutputTokens: 64, temperature: 0 } })],
    ['a deadline now', 'deadline_ns', () => ({ deadlineNs: NOW })],
    ['a deadline in the past', 'deadline_ns', () => ({ deadlineNs: NOW - SECOND })],
    ['a deadline beyond 7 days', 'deadline_ns', () => ({ deadlineNs: NOW + MAX_DEADLINE_NS + 1n })],
    ['a malformed refund subaccount', 'refund_subaccount', () => ({ refundSubaccount: 'AB'.repeat(32) })],
    ['a short refund subaccount', 'refund_subaccount', () => ({ refundSubaccount: 'ab' })],
    ['a reward below the minimum', 'reward_e8s', () => ({ rewardE8s: 99_999n })],
    ['a negative reward', 'reward_e8s', () => ({ rewardE8s: -1n })]
  ])('rejects %s (InvalidArgument %s) and creates nothing', (_name, field, overrides) => {
    const w = world();
    expect(submitTask(w.store, REQUESTER, NOW, submitArgs(w, 'k', overrides(w)))).toEqual({
      Err: { InvalidArgument: { field, reason: expect.any(String) } }
    });
    expect(w.store.tasks.size()).toBe(0);
    expect(w.store.idempotency.size()).toBe(0);
  });

  it('accepts the boundary values', () => {
    const w = world();
    const boundary: Array<Partial<SubmitArgs>> = [
      { idempotencyKey: 'k'.repeat(MAX_IDEMPOTENCY_KEY_LENGTH) },
      { input: { inline: 'a'.repeat(MAX_INLINE_INPUT_BYTES) } },
      { input: { digest: digestOf('prompt'), reference: 'r'.repeat(MAX_REFERENCE_LENGTH) } },
      { limits: { maxOutputTokens: MAX_OUTPUT_TOKENS, temperature: 2 } },
      { redundancy: 7, limits: DETERMINISTIC },
      { deadlineNs: NOW + MAX_DEADLINE_NS },
      { rewardE8s: 100_000n }
    ];
    boundary.forEach((overrides, i) => expect(submitTask(w.store, REQUESTER, NOW, submitArgs(w, `k${i}`, overrides))).toHaveProperty('Ok'));
  });

  it('rejects a reward whose per-runner payout would not exceed the ledger fee', () => {
    const w = world({ ledgerFeeE8s: 50_000n, minRewardE8s: 60_000n });
    // 200,000 split 7 ways is 28,571 per runner: not above a 50,000 ledger fee.
    expect(submitTask(w.store, REQUESTER, NOW, submitArgs(w, 'k', { rewardE8s: 200_000n, redundancy: 7, limits: DETERMINISTIC }))).toEqual({
      Err: { InvalidArgument: { field: 'reward_e8s', reason: expect.any(String) } }
    });
    expect(submitTask(w.store, REQUESTER, NOW, submitArgs(w, 'k', { rewardE8s: 200_000n }))).toHaveProperty('Ok');
  });

  it(`refuses more than ${MAX_OPEN_TASKS} open tasks (LimitExceeded) until one closes`, () => {
    const w = world();
    // The global cap, not the per-requester quota (tests/unit/core/bounds.test.ts).
    w.store.setQuotas({ ...w.store.quotas(), openTasksPerRequester: MAX_OPEN_TASKS + 1 });
    for (let i = 0; i < MAX_OPEN_TASKS; i++) okOf(submitTask(w.store, REQUESTER, NOW, submitArgs(w, `k${i}`)));
    expect(submitTask(w.store, REQUESTER, NOW, submitArgs(w, 'one-more'))).toEqual({
      Err: { LimitExceeded: { what: 'open tasks', limit: BigInt(MAX_OPEN_TASKS) } }
    });
    escrowFailed(w.store, 'task-000000000001');
    expect(submitTask(w.store, REQUESTER, NOW, submitArgs(w, 'one-more'))).toHaveProperty('Ok');
  });
});

describe('claiming a task', () => {
  it('refuses the anonymous caller, unregistered runners and unknown tasks', () => {
    const w = world();
    addRunner(w, 'runner-a');
    const id = queued(w, 'k');
    expect(claimTask(w.store, ANONYMOUS_PRINCIPAL, NOW)).toEqual({ Err: { AnonymousCaller: null } });
    expect(claimTask(w.store, 'stranger', NOW, id)).toEqual({ Err: { NotFound: { kind: { Runner: null }, id: 'stranger' } } });
    expect(claimTask(w.store, 'runner-a', NOW, 'task-999999999999')).toEqual({
      Err: { NotFound: { kind: { Task: null }, id: 'task-999999999999' } }
    });
  });

  it('leases the oldest queued task a live matching runner serves, never an escrowing one', () => {
    const w = world();
    addRunner(w, 'runner-a');
    expect(claimTask(w.store, 'runner-a', NOW)).toEqual({ Err: { NotFound: { kind: { ClaimableTask: null }, id: '' } } });
    const escrowing = okOf(submitTask(w.store, REQUESTER, NOW, submitArgs(w, 'escrowing'))).task.id;
    expect(claimTask(w.store, 'runner-a', NOW)).toEqual({ Err: { NotFound: { kind: { ClaimableTask: null }, id: '' } } });
    expect(claimTask(w.store, 'runner-a', NOW, escrowing)).toEqual({
      Err: { TaskNotClaimable: { task: expect.any(String), state: 'escrowing' } }
    });
    const older = queued(w, 'older');
    const newer = queued(w, 'newer');
    const claimed = okOf(claimTask(w.store, 'runner-a', NOW + SECOND));
    expect(claimed.id).toBe(older);
    // The lease fixes the deployment's prices (the runner is paid by them) and its served context (bounds its usage).
    expect(claimed.leases).toEqual([
      {
        runner: 'runner-a',
        claimedAtNs: NOW + SECOND,
        expiresAtNs: NOW + SECOND + LEASE,
        prices: { inputPerMillion: 1_000n, outputPerMillion: 3_000n },
        servedContext: 8192,
        // The effective operator when it leased (the test runners' operators accepted).
        operator: operatorOf('runner-a')
      }
    ]);
    expect(w.store.open.get(older)?.leases).toHaveLength(1);
    expect(okOf(claimTask(w.store, 'runner-a', NOW + SECOND)).id).toBe(newer);
  });

  it('ends the lease at the deadline when that comes first', () => {
    const w = world();
    addRunner(w, 'runner-a');
    const id = queued(w, 'k', { deadlineNs: NOW + 30n * SECOND });
    expect(okOf(claimTask(w.store, 'runner-a', NOW, id)).leases[0]?.expiresAtNs).toBe(NOW + 30n * SECOND);
  });

  it('is not offered to a runner whose heartbeat is stale', () => {
    const w = world();
    addRunner(w, 'runner-a', { at: NOW - HEARTBEAT_TTL - SECOND });
    const id = queued(w, 'k');
    expect(claimTask(w.store, 'runner-a', NOW)).toEqual({ Err: { NotFound: { kind: { ClaimableTask: null }, id: '' } } });
    expect(claimTask(w.store, 'runner-a', NOW, id)).toEqual({
      Err: { NotServing: { model: expect.any(String) } }
    });
    beat(w, 'runner-a', NOW);
    expect(claimTask(w.store, 'runner-a', NOW, id)).toHaveProperty('Ok');
  });

  it.each(['loading', 'draining', 'maintenance'])('is not offered to a runner that reports %s', (state) => {
    const w = world();
    addRunner(w, 'runner-a');
    beat(w, 'runner-a', NOW, state);
    queued(w, 'k');
    expect(claimTask(w.store, 'runner-a', NOW)).toEqual({ Err: { NotFound: { kind: { ClaimableTask: null }, id: '' } } });
  });

  it('is not offered to a suspended runner', () => {
    const w = world();
    addRunner(w, 'runner-a');
    const id = queued(w, 'k');
    okOf(setSuspended(w.store, ADMIN, NOW, 'runner-a', 'misbehaved'));
    expect(claimTask(w.store, 'runner-a', NOW)).toEqual({ Err: { NotFound: { kind: { ClaimableTask: null }, id: '' } } });
    expect(claimTask(w.store, 'runner-a', NOW, id)).toEqual({ Err: { NotServing: { model: w.model } } });
    okOf(setSuspended(w.store, ADMIN, NOW, 'runner-a', undefined));
    expect(claimTask(w.store, 'runner-a', NOW, id)).toHaveProperty('Ok');
  });

  it('is not offered to a runner serving another model', () => {
    const w = world();
    const other = modelCard({
      id: 'mistralai/Mistral-7B-Instruct',
      family: 'mistral',
      architecture: 'mistral',
      base: { id: 'mistralai/Mistral-7B', relation: 'quantized' },
      digest: digestOf('mistral')
    });
    okOf(publishCard(w.store, 'publisher', NOW, other));
    addRunner(w, 'runner-a', { card: other });
    const id = queued(w, 'k');
    expect(claimTask(w.store, 'runner-a', NOW)).toEqual({ Err: { NotFound: { kind: { ClaimableTask: null }, id: '' } } });
    expect(claimTask(w.store, 'runner-a', NOW, id)).toEqual({ Err: { NotServing: { model: w.model } } });
  });

  it('is not offered for a deprecated card', () => {
    const w = world();
    addRunner(w, 'runner-a');
    const id = queued(w, 'k');
    okOf(deprecateCard(w.store, ADMIN, NOW, { id: w.model, digest: String(w.card.digest) }, 'withdrawn'));
    expect(claimTask(w.store, 'runner-a', NOW)).toEqual({ Err: { NotFound: { kind: { ClaimableTask: null }, id: '' } } });
    expect(claimTask(w.store, 'runner-a', NOW, id)).toEqual({ Err: { NotServing: { model: w.model } } });
  });

  it("is not offered to a runner outside the request's filters", () => {
    const w = world();
    addRunner(w, 'runner-a');
    queued(w, 'k', { request: { model: w.model, region: 'us-east' } });
    expect(claimTask(w.store, 'runner-a', NOW)).toEqual({ Err: { NotFound: { kind: { ClaimableTask: null }, id: '' } } });
  });

  it("respects the matching deployment's slots (NoCapacity) and frees a slot on completion", () => {
    const w = world();
    addRunner(w, 'runner-a', { slots: 2 });
    const [first] = [queued(w, 'k1'), queued(w, 'k2'), queued(w, 'k3')];
    okOf(claimTask(w.store, 'runner-a', NOW));
    okOf(claimTask(w.store, 'runner-a', NOW));
    expect(claimTask(w.store, 'runner-a', NOW)).toEqual({ Err: { NoCapacity: { slots: 2 } } });
    okOf(completeTask(w.store, 'runner-a', NOW, first as string, resultArgs('hello')));
    expect(okOf(claimTask(w.store, 'runner-a', NOW)).id).toBe('task-000000000003');
  });

  it('gives one runner at most one place per task, and a task at most `redundancy` places', () => {
    const w = world();
    addRunner(w, 'runner-a');
    addRunner(w, 'runner-b');
    const id = queued(w, 'k');
    okOf(claimTask(w.store, 'runner-a', NOW, id));
    expect(claimTask(w.store, 'runner-a', NOW, id)).toEqual({ Err: { TaskNotClaimable: { task: id, state: 'queued' } } });
    expect(claimTask(w.store, 'runner-a', NOW)).toEqual({ Err: { NotFound: { kind: { ClaimableTask: null }, id: '' } } });
    expect(claimTask(w.store, 'runner-b', NOW)).toEqual({ Err: { NotFound: { kind: { ClaimableTask: null }, id: '' } } });
    // Named explicitly, a fully leased task is refused too (the variant is NotFound today; TaskNotClaimable would match the other refusals).
    expect(claimTask(w.store, 'runner-b', NOW, id)).toHaveProperty('Err');
  });

  it('is refused for a task in review (TaskNotClaimable)', () => {
    const w = world();
    addRunner(w, 'runner-a');
    addRunner(w, 'runner-b');
    const id = queued(w, 'k');
    answered(w, id, [['runner-a', 'hello']]);
    expect(claimTask(w.store, 'runner-b', NOW, id)).toEqual({ Err: { TaskNotClaimable: { task: id, state: 'review' } } });
  });

  it('is refused after the deadline even before a tick', () => {
    const w = world();
    addRunner(w, 'runner-a');
    const id = queued(w, 'k', { deadlineNs: NOW + 10n * SECOND });
    expect(claimTask(w.store, 'runner-a', NOW + 10n * SECOND)).toEqual({ Err: { NotFound: { kind: { ClaimableTask: null }, id: '' } } });
    expect(claimTask(w.store, 'runner-a', NOW + 10n * SECOND, id)).toHaveProperty('Err.TaskNotClaimable');
  });
});

describe('completing and failing', () => {
  it('refuses a result from a runner that deregistered or was suspended after it leased (issue 16)', () => {
    const w = world();
    addRunner(w, 'runner-a');
    addRunner(w, 'runner-b');
    const [gone, suspended] = [queued(w, 'gone'), queued(w, 'suspended')];
    okOf(claimTask(w.store, 'runner-a', NOW, gone));
    okOf(claimTask(w.store, 'runner-b', NOW, suspended));
    okOf(deregisterRunner(w.store, 'runner-a', 'runner-a'));
    expect(completeTask(w.store, 'runner-a', NOW, gone, resultArgs('x'))).toEqual({
      Err: { NotFound: { kind: { Runner: null }, id: 'runner-a' } }
    });
    okOf(setSuspended(w.store, ADMIN, NOW, 'runner-b', 'caught cheating'));
    expect(completeTask(w.store, 'runner-b', NOW, suspended, resultArgs('x'))).toEqual({
      Err: { Suspended: { reason: 'caught cheating' } }
    });
    expect(taskOf(w, gone).results).toEqual([]);
    expect(taskOf(w, suspended).results).toEqual([]);
    // Giving the lease back stays open to both: the place goes to another runner.
    okOf(failTask(w.store, 'runner-b', NOW, suspended, 'suspended'));
    expect(taskOf(w, suspended).leases).toEqual([]);
  });

  it('refuses the anonymous caller, unknown tasks and runners without a lease', () => {
    const w = world();
    addRunner(w, 'runner-a');
    addRunner(w, 'runner-b');
    const id = queued(w, 'k');
    okOf(claimTask(w.store, 'runner-a', NOW, id));
    expect(completeTask(w.store, ANONYMOUS_PRINCIPAL, NOW, id, resultArgs('x'))).toEqual({ Err: { AnonymousCaller: null } });
    expect(completeTask(w.store, 'runner-a', NOW, 'task-999999999999', resultArgs('x'))).toEqual({
      Err: { NotFound: { kind: { Task: null }, id: 'task-999999999999' } }
    });
    expect(completeTask(w.store, 'runner-b', NOW, id, resultArgs('x'))).toEqual({ Err: { Unauthorized: { reason: expect.any(String) } } });
    expect(failTask(w.store, ANONYMOUS_PRINCIPAL, NOW, id, 'oom')).toEqual({ Err: { AnonymousCaller: null } });
    expect(failTask(w.store, 'runner-a', NOW, 'task-999999999999', 'oom')).toEqual({
      Err: { NotFound: { kind: { Task: null }, id: 'task-999999999999' } }
    });
    expect(failTask(w.store, 'runner-b', NOW, id, 'oom')).toEqual({ Err: { Unauthorized: { reason: expect.any(String) } } });
    expect(taskOf(w, id)).toMatchObject({ state: 'queued', results: [], failures: [] });
  });

  it.each<[string, string, Partial<ResultArgs>]>([
    ['a malformed output digest', 'output_digest', { outputDigest: 'sha256:xyz' }],
    ['an upper-case output digest', 'output_digest', { outputDigest: digestOf('x').toUpperCase() }],
    ['neither output nor reference', 'output', { output: undefined }],
    ['an output over the byte limit', 'output', { output: 'a'.repeat(MAX_OUTPUT_BYTES + 1) }],
    ['an empty reference', 'reference', { output: undefined, reference: '' }],
    ['a too long reference', 'reference', { reference: 'r'.repeat(MAX_REFERENCE_LENGTH + 1) }],
    ['a negative first-token time', 'timings', { firstTokenMs: -1 }],
    ['a total before the first token', 'timings', { firstTokenMs: 500, totalMs: 400 }],
    ['a NaN total', 'timings', { totalMs: Number.NaN }]
  ])('rejects a result with %s (InvalidArgument %s) and keeps the lease', (_name, field, overrides) => {
    const w = world();
    addRunner(w, 'runner-a');
    const id = queued(w, 'k');
    okOf(claimTask(w.store, 'runner-a', NOW, id));
    expect(completeTask(w.store, 'runner-a', NOW, id, { ...resultArgs('hello'), ...overrides })).toEqual({
      Err: { InvalidArgument: { field, reason: expect.any(String) } }
    });
    expect(taskOf(w, id)).toMatchObject({ state: 'queued', results: [], leases: [{ runner: 'runner-a' }] });
  });

  // 'Say hello.' is 10 bytes: at most 10 + 512 (chat template) input tokens; the task allows 64 output tokens, and an
  // output of n bytes at most n + 32 ('hello': 37).
  const LONG = { output: 'a'.repeat(100), outputDigest: digestOf('a'.repeat(100)) };
  it.each<[string, string, bigint, Partial<ResultArgs>]>([
    ['negative input tokens', 'input_tokens', 522n, { inputTokens: -1n }],
    ['more input tokens than the input has bytes (plus the template)', 'input_tokens', 522n, { inputTokens: 523n }],
    ['2^64 − 1 input tokens', 'input_tokens', 522n, { inputTokens: 2n ** 64n - 1n }],
    ['negative output tokens', 'output_tokens', 64n, { outputTokens: -1n, ...LONG }],
    ['more output tokens than the limit', 'output_tokens', 64n, { outputTokens: 65n, ...LONG }],
    ['more output tokens than the output has bytes (plus 32 special tokens)', 'output_tokens', 37n, { outputTokens: 38n }],
    [
      'more output tokens than a multi-byte output has bytes',
      'output_tokens',
      38n,
      { outputTokens: 39n, output: '€€', outputDigest: digestOf('€€') }
    ]
  ])('rejects a result with %s (ImplausibleUsage %s ≤ %s) and keeps the lease', (_name, field, limit, overrides) => {
    const w = world();
    addRunner(w, 'runner-a');
    const id = queued(w, 'k');
    okOf(claimTask(w.store, 'runner-a', NOW, id));
    expect(completeTask(w.store, 'runner-a', NOW, id, { ...resultArgs('hello'), ...overrides })).toEqual({
      Err: { ImplausibleUsage: { field, limit } }
    });
    expect(taskOf(w, id)).toMatchObject({ state: 'queued', results: [], leases: [{ runner: 'runner-a' }] });
  });

  it('bounds the input tokens of an input by reference by the served context', () => {
    const w = world();
    addRunner(w, 'runner-a');
    const id = queued(w, 'k', { input: { digest: digestOf('big'), reference: 'https://example.com/big' } });
    okOf(claimTask(w.store, 'runner-a', NOW, id));
    expect(completeTask(w.store, 'runner-a', NOW, id, resultArgs('hello', { inputTokens: 8193n }))).toEqual({
      Err: { ImplausibleUsage: { field: 'input_tokens', limit: 8192n } }
    });
    expect(okOf(completeTask(w.store, 'runner-a', NOW, id, resultArgs('hello', { inputTokens: 8192n }))).inputTokens).toBe(8192n);
  });

  it('accepts a result given by reference only, and one at the exact limits', () => {
    const w = world();
    addRunner(w, 'runner-a');
    // An output too large to be inline has at least MIN_REFERENCE_OUTPUT_TOKENS tokens: such a result is payable.
    const a = queued(w, 'a', { limits: { maxOutputTokens: 8_192 } });
    const b = queued(w, 'b');
    okOf(claimTask(w.store, 'runner-a', NOW, a));
    okOf(claimTask(w.store, 'runner-a', NOW, b));
    const byReference = {
      outputDigest: digestOf('x'),
      reference: 'https://out.example/x',
      inputTokens: 0n,
      outputTokens: BigInt(MIN_REFERENCE_OUTPUT_TOKENS),
      firstTokenMs: 0,
      totalMs: 0
    };
    expect(okOf(completeTask(w.store, 'runner-a', NOW, a, byReference))).toMatchObject({
      reference: 'https://out.example/x',
      outputTokens: BigInt(MIN_REFERENCE_OUTPUT_TOKENS)
    });
    expect(
      completeTask(
        w.store,
        'runner-a',
        NOW,
        b,
        resultArgs('a'.repeat(MAX_OUTPUT_BYTES), { outputTokens: 64n, firstTokenMs: 5, totalMs: 5 })
      )
    ).toHaveProperty('Ok');
  });

  // Review finding F4: a redundancy-1 runner answered a 1-byte output by reference and billed max_output_tokens.
  it.each<[string, number, bigint]>([
    ['the task limit, 64 tokens', 64, 64n],
    ['one token short of an output too large to be inline', 8_192, BigInt(MIN_REFERENCE_OUTPUT_TOKENS) - 1n],
    ['no tokens', 64, 0n]
  ])('refuses a result by reference billing %s: fewer tokens fit inline (InvalidArgument reference)', (_name, limit, outputTokens) => {
    const w = world();
    addRunner(w, 'runner-a');
    const id = queued(w, 'k', { limits: { maxOutputTokens: limit } });
    okOf(claimTask(w.store, 'runner-a', NOW, id));
    const byReference = {
      outputDigest: digestOf('x'),
      reference: 'https://out.example/x',
      inputTokens: 0n,
      outputTokens,
      firstTokenMs: 0,
      totalMs: 0
    };
    expect(completeTask(w.store, 'runner-a', NOW, id, byReference)).toEqual({
      Err: { InvalidArgument: { field: 'reference', reason: expect.any(String) } }
    });
    expect(taskOf(w, id)).toMatchObject({ state: 'queued', results: [], leases: [{ runner: 'runner-a' }] });
  });

  it('moves a completed task to review, counts the runner, and returns the first result on a repeat', () => {
    const w = world();
    addRunner(w, 'runner-a');
    const id = queued(w, 'k');
    okOf(claimTask(w.store, 'runner-a', NOW, id));
    const first = okOf(completeTask(w.store, 'runner-a', NOW + 5n * SECOND, id, resultArgs('hello')));
    expect(first).toEqual({
      runner: 'runner-a',
      outputDigest: digestOf('hello'),
      output: 'hello',
      inputTokens: 12n,
      outputTokens: 20n,
      firstTokenMs: 50,
      totalMs: 400,
      atNs: NOW + 5n * SECOND,
      measuredMs: 5000,
      costE8s: 1n, // 12 × 1,000 + 20 × 3,000 per million = 0.072 e8s, rounded up
      prices: { inputPerMillion: 1_000n, outputPerMillion: 3_000n },
      operator: operatorOf('runner-a')
    });
    expect(taskOf(w, id)).toMatchObject({ state: 'review', reviewEndsAtNs: NOW + 5n * SECOND + REVIEW, leases: [] });
    expect(w.store.open.get(id)).toMatchObject({ state: 'review', done: ['runner-a'], reviewEndsAtNs: NOW + 5n * SECOND + REVIEW });
    // The registry's lease-to-completion time, not the self-reported 400 ms.
    expect(reputationOf(w, 'runner-a')).toEqual({ completed: 1, failed: 0, rejected: 0, expiredLeases: 0, latencyMsEma: 5000 });
    const again = completeTask(w.store, 'runner-a', NOW + 9n * SECOND, id, resultArgs('something else', { totalMs: 900 }));
    expect(again).toEqual({ Ok: first });
    expect(taskOf(w, id).results).toHaveLength(1);
    expect(reputationOf(w, 'runner-a').completed).toBe(1);
  });

  it('keeps a latency EMA of the measured lease-to-completion times, whatever the runner reports', () => {
    const w = world();
    addRunner(w, 'runner-a');
    const a = queued(w, 'a');
    okOf(claimTask(w.store, 'runner-a', NOW, a));
    okOf(completeTask(w.store, 'runner-a', NOW + 2n * SECOND, a, resultArgs('x', { firstTokenMs: 1e-300, totalMs: 1e-300 })));
    expect(reputationOf(w, 'runner-a').latencyMsEma).toBe(2000);
    const b = queued(w, 'b');
    okOf(claimTask(w.store, 'runner-a', NOW, b));
    okOf(completeTask(w.store, 'runner-a', NOW + 7n * SECOND, b, resultArgs('x', { firstTokenMs: 0, totalMs: 1e-300 })));
    expect(reputationOf(w, 'runner-a').latencyMsEma).toBe(0.8 * 2000 + 0.2 * 7000);
    expect(taskOf(w, b).results[0]).toMatchObject({ totalMs: 1e-300, measuredMs: 7000 });
  });

  it('frees the place on failure; the runner may not take it again; a repeat returns the task unchanged', () => {
    const w = world();
    addRunner(w, 'runner-a');
    addRunner(w, 'runner-b');
    const id = queued(w, 'k');
    okOf(claimTask(w.store, 'runner-a', NOW, id));
    expect(failTask(w.store, 'runner-a', NOW, id, 'r'.repeat(MAX_REASON_LENGTH + 1))).toEqual({
      Err: { InvalidArgument: { field: 'reason', reason: expect.any(String) } }
    });
    const failed = okOf(failTask(w.store, 'runner-a', NOW + SECOND, id, 'out of memory'));
    expect(failed).toMatchObject({
      state: 'queued',
      leases: [],
      failures: [{ runner: 'runner-a', reason: 'out of memory', atNs: NOW + SECOND }]
    });
    expect(reputationOf(w, 'runner-a').failed).toBe(1);
    expect(okOf(failTask(w.store, 'runner-a', NOW + 2n * SECOND, id, 'again')).failures).toHaveLength(1);
    expect(reputationOf(w, 'runner-a').failed).toBe(1);
    expect(claimTask(w.store, 'runner-a', NOW, id)).toHaveProperty('Err.TaskNotClaimable');
    expect(completeTask(w.store, 'runner-a', NOW, id, resultArgs('late'))).toHaveProperty('Err.Unauthorized');
    answered(w, id, [['runner-b', 'hello']]);
    expect(taskOf(w, id).state).toBe('review');
  });

  it(`fails and refunds the task after ${MAX_FAILURES} failures`, () => {
    const w = world();
    const runners = ['runner-a', 'runner-b', 'runner-c', 'runner-d'];
    runners.forEach((r) => addRunner(w, r));
    const id = queued(w, 'k');
    for (const runner of runners.slice(0, MAX_FAILURES)) {
      expect(taskOf(w, id).state).toBe('queued');
      okOf(claimTask(w.store, runner, NOW, id));
      okOf(failTask(w.store, runner, NOW, id, 'crashed'));
    }
    expect(taskOf(w, id)).toMatchObject({ state: 'failed', settledAtNs: NOW, outcome: `failed ${MAX_FAILURES} times` });
    expect(w.store.open.get(id)).toBeUndefined();
    expect(payouts(w)).toEqual([
      {
        id: `${id}/refund`,
        kind: 'refund',
        taskId: id,
        to: { owner: REQUESTER },
        amountE8s: REWARD,
        memo: id,
        createdAtNs: NOW,
        attempts: 0
      }
    ]);
    expect(claimTask(w.store, 'runner-d', NOW, id)).toHaveProperty('Err.NotFound');
  });

  it('does not let a runner report after the deadline, even before the tick that refunds the task', () => {
    const w = world();
    addRunner(w, 'runner-a');
    const id = queued(w, 'k', { deadlineNs: NOW + 60n * SECOND });
    okOf(claimTask(w.store, 'runner-a', NOW, id));
    // The lease ended with the deadline: the requester is owed a refund, not a bill for a late answer.
    expect(completeTask(w.store, 'runner-a', NOW + 61n * SECOND, id, resultArgs('late'))).toHaveProperty('Err');
    tick(w.store, NOW + 61n * SECOND);
    expect(taskOf(w, id).state).toBe('expired');
    expect(payouts(w).map((p) => p.kind)).toEqual(['refund']);
  });
});

describe('review', () => {
  function inReview(w: World): string {
    addRunner(w, 'runner-a');
    const id = queued(w, 'k');
    answered(w, id, [['runner-a', 'hello']]);
    return id;
  }

  it('refuses the anonymous caller, unknown tasks, other callers and tasks not in review', () => {
    const w = world();
    const id = inReview(w);
    const queuedId = queued(w, 'q');
    for (const decide of [
      (caller: string, task: string) => acceptTask(w.store, caller, NOW, task),
      (caller: string, task: string) => rejectTask(w.store, caller, NOW, task, 'bad')
    ]) {
      expect(decide(ANONYMOUS_PRINCIPAL, id)).toEqual({ Err: { AnonymousCaller: null } });
      expect(decide(REQUESTER, 'task-999999999999')).toEqual({ Err: { NotFound: { kind: { Task: null }, id: 'task-999999999999' } } });
      expect(decide('runner-a', id)).toEqual({ Err: { Unauthorized: { reason: expect.any(String) } } });
      expect(decide(REQUESTER, queuedId)).toEqual({ Err: { NotInReview: { task: queuedId, state: 'queued' } } });
    }
    expect(taskOf(w, id).state).toBe('review');
  });

  it('accepting pays the runner (via its operator) its metered cost, the treasury the fee floor and refunds the rest; a repeat is a no-op', () => {
    const w = world();
    const id = inReview(w);
    const accepted = okOf(acceptTask(w.store, REQUESTER, NOW + SECOND, id));
    expect(accepted).toMatchObject({
      state: 'accepted',
      paidRunners: ['runner-a'],
      outcome: 'accepted by the requester',
      settledAtNs: NOW + SECOND,
      leases: []
    });
    expect(w.store.open.get(id)).toBeUndefined();
    // (payouts are listed by id)
    expect(payouts(w)).toEqual([
      {
        id: `${id}/refund`,
        kind: 'refund',
        taskId: id,
        to: { owner: REQUESTER },
        amountE8s: REWARD - 10_001n - 20_000n,
        memo: id,
        createdAtNs: NOW + SECOND + 2n,
        attempts: 0
      },
      {
        id: `${id}/runner/runner-a`,
        kind: 'runner',
        taskId: id,
        to: { owner: operatorOf('runner-a') },
        amountE8s: 1n + 10_000n, // its cost (1 e8s) and the ledger fee of the transfer
        memo: id,
        createdAtNs: NOW + SECOND,
        attempts: 0
      },
      {
        id: `${id}/treasury`,
        kind: 'treasury',
        taskId: id,
        to: TREASURY,
        amountE8s: 20_000n,
        memo: id,
        createdAtNs: NOW + SECOND + 1n,
        attempts: 0
      }
    ]);
    expect(okOf(acceptTask(w.store, REQUESTER, NOW + 2n * SECOND, id)).settledAtNs).toBe(NOW + SECOND);
    expect(payouts(w)).toHaveLength(3);
    expect(rejectTask(w.store, REQUESTER, NOW, id, 'changed my mind')).toEqual({
      Err: { NotInReview: { task: id, state: 'accepted' } }
    });
  });

  it('without a treasury no protocol fee is charged', () => {
    const w = world();
    w.store.setTaskConfig({ ...w.store.taskConfig(), treasury: undefined });
    const id = inReview(w);
    okOf(acceptTask(w.store, REQUESTER, NOW, id));
    expect(payouts(w).map((p) => [p.kind, p.amountE8s])).toEqual([
      ['refund', REWARD - 10_001n],
      ['runner', 10_001n]
    ]);
  });

  it('rejecting pays the work read (metered cost, fee), refunds the rest and weighs a rejection; a repeat is a no-op', () => {
    const w = world();
    const id = inReview(w);
    expect(rejectTask(w.store, REQUESTER, NOW, id, 'r'.repeat(MAX_REASON_LENGTH + 1))).toEqual({
      Err: { InvalidArgument: { field: 'reason', reason: expect.any(String) } }
    });
    expect(taskOf(w, id).state).toBe('review');
    const rejected = okOf(rejectTask(w.store, REQUESTER, NOW + SECOND, id, 'wrong language'));
    expect(rejected).toMatchObject({ state: 'rejected', outcome: 'rejected by the requester: wrong language' });
    // The requester read the output: the runner is paid its metered cost (1 e8s + the ledger fee), the treasury its floor.
    expect(rejected.paidRunners).toEqual(['runner-a']);
    expect(payouts(w).map((p) => [p.kind, p.amountE8s])).toEqual([
      ['refund', REWARD - 10_001n - 20_000n],
      ['runner', 10_001n],
      ['treasury', 20_000n]
    ]);
    // The rejected result no longer counts as completed; a fresh requester's rejection weighs a tenth of one.
    expect(reputationOf(w, 'runner-a')).toMatchObject({ completed: 0, rejected: 0, rejectionMilli: 100 });
    expect(rejectTask(w.store, REQUESTER, NOW + 2n * SECOND, id, 'again')).toHaveProperty('Ok');
    expect(reputationOf(w, 'runner-a')).toMatchObject({ rejected: 0, rejectionMilli: 100 });
    expect(acceptTask(w.store, REQUESTER, NOW, id)).toEqual({ Err: { NotInReview: { task: id, state: 'rejected' } } });
  });

  it('refunds to the subaccount the requester gave', () => {
    const w = world();
    addRunner(w, 'runner-a');
    const subaccount = '01'.repeat(32);
    const id = queued(w, 'k', { refundSubaccount: subaccount });
    answered(w, id, [['runner-a', 'hello']]);
    okOf(rejectTask(w.store, REQUESTER, NOW, id, 'not what I asked'));
    expect(payouts(w)[0]?.to).toEqual({ owner: REQUESTER, subaccount });
  });

  it('silence accepts when the review window ends (tick)', () => {
    const w = world();
    const id = inReview(w);
    const endsAt = taskOf(w, id).reviewEndsAtNs as bigint;
    expect(tick(w.store, endsAt - 1n)).toMatchObject({ changed: 0 });
    expect(taskOf(w, id).state).toBe('review');
    expect(tick(w.store, endsAt)).toMatchObject({ changed: 1 });
    expect(taskOf(w, id)).toMatchObject({
      state: 'accepted',
      paidRunners: ['runner-a'],
      outcome: 'accepted: the review window ended without a decision',
      settledAtNs: endsAt
    });
    expect(sum(payouts(w).map((p) => p.amountE8s))).toBe(REWARD);
  });

  it('does not let the requester reject once the review window has ended, even before the tick', () => {
    const w = world();
    const id = inReview(w);
    const endsAt = taskOf(w, id).reviewEndsAtNs as bigint;
    // The window is the requester's time to object; a late timer must not extend it.
    expect(rejectTask(w.store, REQUESTER, endsAt + SECOND, id, 'too late')).toEqual({
      Err: { ReviewEnded: { task: id, ended_at_ns: endsAt } }
    });
    tick(w.store, endsAt + SECOND);
    expect(taskOf(w, id).state).toBe('accepted');
    expect(payouts(w).map((p) => p.kind)).toEqual(['refund', 'runner', 'treasury']);
  });

  it('a review window of 0 accepts at the next tick', () => {
    const w = world({ reviewWindowSeconds: 0n });
    const id = inReview(w);
    expect(taskOf(w, id).reviewEndsAtNs).toBe(NOW);
    tick(w.store, NOW);
    expect(taskOf(w, id).state).toBe('accepted');
  });
});

describe('timers', () => {
  it('returns an expired lease to the queue, counts it against the runner, and another runner completes', () => {
    const w = world();
    addRunner(w, 'runner-a');
    addRunner(w, 'runner-b');
    const id = queued(w, 'k');
    okOf(claimTask(w.store, 'runner-a', NOW, id));
    expect(tick(w.store, NOW + LEASE - 1n)).toMatchObject({ changed: 0 });
    expect(taskOf(w, id).leases).toHaveLength(1);
    expect(tick(w.store, NOW + LEASE)).toMatchObject({ changed: 1 });
    expect(taskOf(w, id)).toMatchObject({
      state: 'queued',
      leases: [],
      failures: [{ runner: 'runner-a', reason: 'lease expired', atNs: NOW + LEASE }]
    });
    expect(w.store.open.get(id)).toMatchObject({ leases: [], done: ['runner-a'] });
    expect(reputationOf(w, 'runner-a')).toMatchObject({ expiredLeases: 1, failed: 0, completed: 0 });
    expect(completeTask(w.store, 'runner-a', NOW + LEASE, id, resultArgs('late'))).toHaveProperty('Err.Unauthorized');
    expect(claimTask(w.store, 'runner-a', NOW + LEASE)).toEqual({ Err: { NotFound: { kind: { ClaimableTask: null }, id: '' } } });
    answered(w, id, [['runner-b', 'hello']], NOW + LEASE);
    okOf(acceptTask(w.store, REQUESTER, NOW + LEASE, id));
    expect(taskOf(w, id).paidRunners).toEqual(['runner-b']);
    expect(
      payouts(w)
        .filter((p) => p.kind === 'runner')
        .map((p) => p.to.owner)
    ).toEqual([operatorOf('runner-b')]);
  });

  it(`fails and refunds a task whose leases expired ${MAX_FAILURES} times`, () => {
    const w = world();
    const runners = ['runner-a', 'runner-b', 'runner-c'];
    runners.forEach((r) => addRunner(w, r));
    const id = queued(w, 'k');
    let at = NOW;
    for (const runner of runners) {
      beat(w, runner, at);
      okOf(claimTask(w.store, runner, at, id));
      at += LEASE;
      tick(w.store, at);
    }
    expect(taskOf(w, id)).toMatchObject({ state: 'failed', outcome: `failed ${MAX_FAILURES} times` });
    expect(payouts(w).map((p) => [p.kind, p.amountE8s])).toEqual([['refund', REWARD]]);
    runners.forEach((r) => expect(reputationOf(w, r).expiredLeases).toBe(1));
  });

  it('refunds a queued task when its deadline passes', () => {
    const w = world();
    const id = queued(w, 'k', { deadlineNs: NOW + 60n * SECOND });
    tick(w.store, NOW + 60n * SECOND - 1n);
    expect(taskOf(w, id).state).toBe('queued');
    expect(tick(w.store, NOW + 60n * SECOND)).toMatchObject({ changed: 1 });
    expect(taskOf(w, id)).toMatchObject({
      state: 'expired',
      outcome: 'the deadline passed before enough results came in',
      settledAtNs: NOW + 60n * SECOND
    });
    expect(w.store.open.get(id)).toBeUndefined();
    expect(payouts(w)).toEqual([
      expect.objectContaining({ id: `${id}/refund`, kind: 'refund', to: { owner: REQUESTER }, amountE8s: REWARD })
    ]);
  });

  it('refunds a leased task at its deadline and counts the unfinished lease', () => {
    const w = world();
    addRunner(w, 'runner-a');
    const id = queued(w, 'k', { deadlineNs: NOW + 60n * SECOND });
    okOf(claimTask(w.store, 'runner-a', NOW, id));
    tick(w.store, NOW + 60n * SECOND);
    expect(taskOf(w, id)).toMatchObject({ state: 'expired', leases: [] });
    expect(reputationOf(w, 'runner-a').expiredLeases).toBe(1);
    expect(payouts(w).map((p) => [p.kind, p.amountE8s])).toEqual([['refund', REWARD]]);
  });

  it('refunds a redundant task that has some but not all results at the deadline', () => {
    const w = world();
    addRunner(w, 'runner-a');
    const id = queued(w, 'k', { redundancy: 2, limits: DETERMINISTIC, deadlineNs: NOW + 60n * SECOND });
    answered(w, id, [['runner-a', 'hello']]);
    expect(taskOf(w, id).state).toBe('queued');
    tick(w.store, NOW + 60n * SECOND);
    expect(taskOf(w, id).state).toBe('expired');
    expect(payouts(w).map((p) => [p.kind, p.amountE8s])).toEqual([['refund', REWARD]]);
  });

  it('leaves escrowing tasks to the escrow outcome', () => {
    const w = world();
    const { task } = okOf(submitTask(w.store, REQUESTER, NOW, submitArgs(w, 'k', { deadlineNs: NOW + SECOND })));
    tick(w.store, NOW + 2n * SECOND);
    expect(taskOf(w, task.id).state).toBe('escrowing');
    expect(payouts(w)).toEqual([]);
  });

  it(`reaches due tasks behind the first ${MAX_TASKS_PER_TICK} open ones within a few ticks`, () => {
    const w = world();
    w.store.setQuotas({ ...w.store.quotas(), openTasksPerRequester: MAX_TASKS_PER_TICK + 1 });
    for (let i = 0; i < MAX_TASKS_PER_TICK; i++) queued(w, `long-${i}`);
    const late = queued(w, 'short', { deadlineNs: NOW + 60n * SECOND });
    for (let i = 0; i < 3; i++) tick(w.store, NOW + 61n * SECOND + BigInt(i));
    expect(taskOf(w, late).state).toBe('expired');
  });
});

describe('redundancy', () => {
  const THREE = { redundancy: 3, limits: DETERMINISTIC };

  it('leases up to k places at once, to different runners', () => {
    const w = world();
    ['runner-a', 'runner-b', 'runner-c', 'runner-d'].forEach((r) => addRunner(w, r));
    const id = queued(w, 'k', THREE);
    for (const r of ['runner-a', 'runner-b', 'runner-c']) okOf(claimTask(w.store, r, NOW, id));
    expect(taskOf(w, id).leases.map((l) => l.runner)).toEqual(['runner-a', 'runner-b', 'runner-c']);
    expect(claimTask(w.store, 'runner-d', NOW)).toEqual({ Err: { NotFound: { kind: { ClaimableTask: null }, id: '' } } });
    okOf(completeTask(w.store, 'runner-a', NOW, id, resultArgs('hello')));
    expect(taskOf(w, id).state).toBe('queued');
    expect(claimTask(w.store, 'runner-d', NOW)).toEqual({ Err: { NotFound: { kind: { ClaimableTask: null }, id: '' } } });
  });

  it('pays the two agreeing runners and counts the disagreeing one as rejected', () => {
    const w = world();
    ['runner-a', 'runner-b', 'runner-c'].forEach((r) => addRunner(w, r));
    const id = queued(w, 'k', THREE);
    answered(w, id, [
      ['runner-a', 'hello'],
      ['runner-b', 'goodbye'],
      ['runner-c', 'hello']
    ]);
    expect(taskOf(w, id).state).toBe('review');
    okOf(acceptTask(w.store, REQUESTER, NOW, id));
    expect(taskOf(w, id)).toMatchObject({ state: 'accepted', paidRunners: ['runner-a', 'runner-c'] });
    const runnerPayouts = payouts(w).filter((p) => p.kind === 'runner');
    expect(runnerPayouts.map((p) => [p.id, p.to.owner, p.amountE8s])).toEqual([
      [`${id}/runner/runner-a`, operatorOf('runner-a'), 10_001n],
      [`${id}/runner/runner-c`, operatorOf('runner-c'), 10_001n]
    ]);
    expect(sum(payouts(w).map((p) => p.amountE8s))).toBe(REWARD);
    expect(reputationOf(w, 'runner-b')).toMatchObject({ completed: 0, rejected: 1 });
    expect(reputationOf(w, 'runner-a')).toMatchObject({ completed: 1, rejected: 0 });
    expect(reputationOf(w, 'runner-c').rejected).toBe(0);
  });

  it('settles the same way when the review window ends in silence', () => {
    const w = world();
    ['runner-a', 'runner-b', 'runner-c'].forEach((r) => addRunner(w, r));
    const id = queued(w, 'k', THREE);
    answered(w, id, [
      ['runner-a', 'goodbye'],
      ['runner-b', 'hello'],
      ['runner-c', 'hello']
    ]);
    tick(w.store, NOW + REVIEW);
    expect(taskOf(w, id).paidRunners).toEqual(['runner-b', 'runner-c']);
    expect(reputationOf(w, 'runner-a').rejected).toBe(1);
  });

  it('escalates instead of refunding when no output has a majority', () => {
    const w = world();
    ['runner-a', 'runner-b', 'runner-c'].forEach((r) => addRunner(w, r));
    const id = queued(w, 'k', THREE);
    answered(w, id, [
      ['runner-a', 'one'],
      ['runner-b', 'two'],
      ['runner-c', 'three']
    ]);
    // The requester's accept changes nothing; the timer escalates when the review ends.
    expect(okOf(acceptTask(w.store, REQUESTER, NOW, id)).state).toBe('review');
    tick(w.store, NOW + REVIEW);
    const escalated = taskOf(w, id);
    expect(escalated).toMatchObject({
      state: 'queued',
      extraResults: 2,
      outcome: expect.stringMatching(/^escalated: no majority of both bond and vote weight/)
    });
    expect(escalated.outcome).toContain(`${digestOf('one').slice(7, 19)}: 1 operator(s), bond 1, weight 1`);
    // Nothing is paid or refunded yet, and the completions stand until the vote ends.
    expect(payouts(w)).toEqual([]);
    for (const r of ['runner-a', 'runner-b', 'runner-c']) expect(reputationOf(w, r)).toMatchObject({ completed: 1, rejected: 0 });
  });

  it('pays each redundant winner its own counts at its own lease’s prices', () => {
    const w = world();
    addRunner(w, 'runner-a', { price: { inputPerMillion: 1_000_000, outputPerMillion: 100_000_000 } });
    addRunner(w, 'runner-b', { price: { inputPerMillion: 2_000_000, outputPerMillion: 100_000_000 } });
    addRunner(w, 'runner-c', { price: { inputPerMillion: 1_000_000, outputPerMillion: 100_000_000 } });
    const id = queued(w, 'k', THREE);
    for (const r of ['runner-a', 'runner-b', 'runner-c']) okOf(claimTask(w.store, r, NOW, id));
    okOf(completeTask(w.store, 'runner-a', NOW, id, resultArgs('Paris', { inputTokens: 500n, outputTokens: 37n })));
    okOf(completeTask(w.store, 'runner-b', NOW, id, resultArgs('Paris', { inputTokens: 10n, outputTokens: 3n })));
    okOf(completeTask(w.store, 'runner-c', NOW, id, resultArgs('Lyon', { inputTokens: 10n, outputTokens: 1n })));
    okOf(acceptTask(w.store, REQUESTER, NOW, id));
    const runners = payouts(w).filter((p) => p.kind === 'runner');
    // The majority (a, b) agreed; each is paid its own (bounded) counts, so a low report never cuts another's pay.
    expect(runners.map((p) => [p.id.split('/').at(-1), p.amountE8s])).toEqual([
      ['runner-a', 500n + 3_700n + 10_000n],
      ['runner-b', 20n + 300n + 10_000n]
    ]);
  });

  it('needs both results to agree with redundancy 2', () => {
    const w = world();
    ['runner-a', 'runner-b'].forEach((r) => addRunner(w, r));
    const id = queued(w, 'k', { redundancy: 2, limits: DETERMINISTIC });
    answered(w, id, [
      ['runner-a', 'one'],
      ['runner-b', 'two']
    ]);
    tick(w.store, NOW + REVIEW);
    // A 1–1 tie is no refund: the task waits for more results (tests/unit/core/tasks-escalation.test.ts).
    expect(taskOf(w, id)).toMatchObject({ state: 'queued', extraResults: 1 });
    expect(payouts(w)).toEqual([]);
  });

  it('pays runners whose operator has not accepted to themselves, each as a distinct ledger transfer', () => {
    const w = world();
    for (const r of ['runner-a', 'runner-b']) okOf(registerRunner(w.store, r, NOW, runnerManifest(SHARED_OPERATOR, [deployment(w.card)])));
    for (const r of ['runner-a', 'runner-b']) beat(w, r, NOW);
    const id = queued(w, 'k', { redundancy: 2, limits: DETERMINISTIC });
    answered(w, id, [
      ['runner-a', 'same'],
      ['runner-b', 'same']
    ]);
    okOf(acceptTask(w.store, REQUESTER, NOW, id));
    const runnerPayouts = payouts(w).filter((p) => p.kind === 'runner');
    expect(runnerPayouts.map((p) => p.to.owner)).toEqual(['runner-a', 'runner-b']);
    expect(new Set(payouts(w).map((p) => p.createdAtNs)).size).toBe(payouts(w).length);
  });

  it('leases a redundant task once per accepted operator: its second runner is refused', () => {
    const w = world();
    for (const r of ['runner-a', 'runner-b']) {
      okOf(registerRunner(w.store, r, NOW, runnerManifest(SHARED_OPERATOR, [deployment(w.card)])));
      okOf(acceptOperator(w.store, SHARED_OPERATOR, NOW, r));
      beat(w, r, NOW);
    }
    const id = queued(w, 'k', { redundancy: 2, limits: DETERMINISTIC });
    okOf(claimTask(w.store, 'runner-a', NOW, id));
    expect(claimTask(w.store, 'runner-b', NOW, id)).toEqual({ Err: { TaskNotClaimable: { task: id, state: 'queued' } } });
    expect(claimTask(w.store, 'runner-b', NOW)).toHaveProperty('Err.NotFound');
    // A task of redundancy 1 is not affected.
    const single = queued(w, 'single');
    okOf(claimTask(w.store, 'runner-b', NOW, single));
  });

  /** runner-a and runner-b, both of SHARED_OPERATOR (accepted), and runner-c of its own; a task of redundancy 2. */
  function sharedOperatorWorld(): { w: World; id: string } {
    const w = world();
    for (const r of ['runner-a', 'runner-b']) {
      okOf(registerRunner(w.store, r, NOW, runnerManifest(SHARED_OPERATOR, [deployment(w.card)])));
      okOf(acceptOperator(w.store, SHARED_OPERATOR, NOW, r));
      beat(w, r, NOW);
    }
    addRunner(w, 'runner-c');
    return { w, id: queued(w, 'k', { redundancy: 2, limits: DETERMINISTIC }) };
  }

  it('a runner that left still counts for the operator it leased under: its sibling may not lease the task (issue 16)', () => {
    const { w, id } = sharedOperatorWorld();
    okOf(claimTask(w.store, 'runner-a', NOW, id));
    okOf(completeTask(w.store, 'runner-a', NOW, id, resultArgs('garbage')));
    // Deregistered, runner-a would count as its own operator: runner-b could lease and agree with it.
    okOf(deregisterRunner(w.store, 'runner-a', 'runner-a'));
    expect(claimTask(w.store, 'runner-b', NOW, id)).toEqual({ Err: { TaskNotClaimable: { task: id, state: 'queued' } } });
    expect(claimableFor(w.store, 'runner-b', NOW, 10)).toEqual([]);
    okOf(claimTask(w.store, 'runner-c', NOW, id));
  });

  it('an operator change during a lease does not free the old operator: its other runner may not lease (issue 16)', () => {
    const { w, id } = sharedOperatorWorld();
    okOf(claimTask(w.store, 'runner-a', NOW, id));
    // runner-a names another operator mid-task (not accepted: it counts as its own); its lease stands for SHARED_OPERATOR.
    okOf(updateRunner(w.store, 'runner-a', NOW, 'runner-a', runnerManifest(operatorOf('runner-a'), [deployment(w.card)])));
    expect(claimTask(w.store, 'runner-b', NOW, id)).toEqual({ Err: { TaskNotClaimable: { task: id, state: 'queued' } } });
    // Nor once it reported (the result keeps the lease's operator), nor after it failed.
    okOf(completeTask(w.store, 'runner-a', NOW, id, resultArgs('garbage')));
    expect(taskOf(w, id).results[0]?.operator).toBe(SHARED_OPERATOR);
    expect(claimTask(w.store, 'runner-b', NOW, id)).toEqual({ Err: { TaskNotClaimable: { task: id, state: 'queued' } } });
  });
});

describe('payouts', () => {
  it.each<[bigint, number, boolean]>([
    [1_000_003n, 3, true],
    [1_000_003n, 3, false],
    [100_000n, 1, true],
    [199_999n, 2, true],
    [123_456_789n, 5, true],
    [7_777_777n, 7, true]
  ])('budget %s with k = %s (treasury %s): runner, treasury and refund amounts sum to the budget exactly', (reward, k, withTreasury) => {
    const w = world();
    if (!withTreasury) w.store.setTaskConfig({ ...w.store.taskConfig(), treasury: undefined });
    const runners = ['runner-a', 'runner-b', 'runner-c', 'runner-d', 'runner-e', 'runner-f', 'runner-g'].slice(0, k);
    runners.forEach((r) => addRunner(w, r));
    const id = queued(w, 'k', k > 1 ? { rewardE8s: reward, redundancy: k, limits: DETERMINISTIC } : { rewardE8s: reward });
    answered(
      w,
      id,
      runners.map((r) => [r, 'same'])
    );
    okOf(acceptTask(w.store, REQUESTER, NOW, id));
    const all = payouts(w);
    expect(all.filter((p) => p.kind === 'runner')).toHaveLength(k);
    expect(all.some((p) => p.kind === 'treasury')).toBe(withTreasury);
    expect(sum(all.map((p) => p.amountE8s))).toBe(reward);
    all.forEach((p) => expect(p.amountE8s).toBeGreaterThan(10_000n));
  });

  it('offers and leases a task only to runners whose prices the budget covers for its most tokens', () => {
    const w = world();
    // 10^14 per million (the most a manifest may post): the 1,000,000 e8s budget covers not even one token.
    addRunner(w, 'runner-a', { price: { inputPerMillion: 1e14, outputPerMillion: 1e14 } });
    addRunner(w, 'runner-b');
    const id = queued(w, 'k');
    expect(claimableFor(w.store, 'runner-a', NOW, 10)).toEqual([]);
    expect(claimTask(w.store, 'runner-a', NOW)).toEqual({ Err: { NotFound: { kind: { ClaimableTask: null }, id: '' } } });
    // Not offered the routing window (the claim's predicate: src/core/tasks/affordable.ts), and refused after it.
    expect(w.store.tasks.get(id)?.preferred).toEqual(['runner-b']);
    expect(claimTask(w.store, 'runner-a', NOW, id)).toMatchObject({ Err: { TaskNotClaimable: { task: id } } });
    expect(claimTask(w.store, 'runner-a', NOW + 3n * SECOND, id)).toMatchObject({ Err: { PriceAboveBudget: { task: id } } });
    expect(claimableFor(w.store, 'runner-b', NOW, 10).map(([t]) => t)).toEqual([id]);
    expect(okOf(claimTask(w.store, 'runner-b', NOW)).id).toBe(id);
  });

  it('pays each runner by the prices its lease fixed, capped by its share of the budget', () => {
    const w = world();
    addRunner(w, 'runner-a', { price: { inputPerMillion: 1_000_000, outputPerMillion: 2_000_000 } });
    const id = queued(w, 'k');
    okOf(claimTask(w.store, 'runner-a', NOW, id));
    // The runner re-registers at higher prices: the leased task is still paid at the old ones.
    const dearer = runnerManifest(operatorOf('runner-a'), [
      deployment(w.card, { slots: 2, price: { inputPerMillion: 9_000_000, outputPerMillion: 9_000_000 } })
    ]);
    okOf(updateRunner(w.store, operatorOf('runner-a'), NOW, 'runner-a', dearer));
    okOf(completeTask(w.store, 'runner-a', NOW, id, resultArgs('x'.repeat(20), { inputTokens: 100n, outputTokens: 50n })));
    okOf(acceptTask(w.store, REQUESTER, NOW, id));
    // 100 × 1 + 50 × 2 = 200 e8s; fee floor 20,000.
    expect(payouts(w).map((p) => [p.kind, p.amountE8s])).toEqual([
      ['refund', REWARD - 10_200n - 20_000n],
      ['runner', 200n + 10_000n],
      ['treasury', 20_000n]
    ]);
  });

  it('are listed while due, skip stuck ones, and leave once done', () => {
    const w = world();
    addRunner(w, 'runner-a');
    const ids = ['a', 'b', 'c'].map((key) => queued(w, key));
    for (const id of ids) answered(w, id, [['runner-a', 'x']]);
    for (const id of ids) okOf(acceptTask(w.store, REQUESTER, NOW, id));
    const [a, b, c] = ids as [string, string, string];
    // Oldest first: created_at_time is the settlement time plus the payout's place in it (runner 0, treasury 1, refund 2).
    const refunds = [`${a}/refund`, `${b}/refund`, `${c}/refund`];
    expect(duePayouts(w.store, NOW + 1n, 100).map((p) => p.id)).toEqual([
      `${a}/runner/runner-a`,
      `${b}/runner/runner-a`,
      `${c}/runner/runner-a`,
      `${a}/treasury`,
      `${b}/treasury`,
      `${c}/treasury`,
      ...refunds
    ]);
    expect(duePayouts(w.store, NOW + 1n, 2).map((p) => p.id)).toEqual([`${a}/runner/runner-a`, `${b}/runner/runner-a`]);

    // Two failed attempts: counted when they start, backed off 5 s then 10 s.
    for (const error of ['ledger stopped', 'e'.repeat(MAX_REASON_LENGTH + 50)]) {
      expect(beginAttempt(w.store, `${a}/runner/runner-a`, NOW)).toBe(true);
      payoutRetry(w.store, `${a}/runner/runner-a`, error);
    }
    const retried = w.store.payouts.get(`${a}/runner/runner-a`);
    expect(retried).toMatchObject({ attempts: 2, amountE8s: 10_001n, createdAtNs: NOW, memo: a, nextAttemptNs: NOW + 10n * SECOND });
    expect(retried?.lastError).toHaveLength(MAX_REASON_LENGTH);
    expect(retried?.stuck).toBeUndefined();

    payoutStuck(w.store, `${a}/treasury`, 'TooOld');
    expect(w.store.payouts.get(`${a}/treasury`)).toMatchObject({ stuck: true, attempts: 0, lastError: 'TooOld' });
    payoutDone(w.store, `${b}/runner/runner-a`);
    expect(w.store.payouts.has(`${b}/runner/runner-a`)).toBe(false);
    // The backed-off payout is not due yet; stuck and paid ones are never due.
    expect(duePayouts(w.store, NOW + 1n, 100).map((p) => p.id)).toEqual([
      `${c}/runner/runner-a`,
      `${b}/treasury`,
      `${c}/treasury`,
      ...refunds
    ]);
    // Once due, the retry comes after the payouts never attempted.
    expect(duePayouts(w.store, NOW + 10n * SECOND, 100).map((p) => p.id)).toEqual([
      `${c}/runner/runner-a`,
      `${b}/treasury`,
      `${c}/treasury`,
      ...refunds,
      `${a}/runner/runner-a`
    ]);
    expect(duePayouts(w.store, NOW + 10n * SECOND, 1).map((p) => p.id)).toEqual([`${c}/runner/runner-a`]);

    // Unknown ids are ignored.
    payoutRetry(w.store, 'nope', 'x');
    payoutStuck(w.store, 'nope', 'x');
    payoutDone(w.store, 'nope');
    expect(w.store.payouts.size()).toBe(8);
  });
});

describe('emission', () => {
  const EPOCH = 3600n * SECOND;
  const BUDGET = 1_000_000n;
  /** The protocol fee of a REWARD task: 5 %. */
  // The protocol fee's floor (min_protocol_fee_e8s): 5 % of these tasks' metered cost is less.
  const FEE_PAID = 20_000n;

  function acceptedFor(w: World, requester: string, key: string, runner: string, at: bigint, overrides: Partial<ResultArgs> = {}): string {
    const { task } = okOf(submitTask(w.store, requester, at, submitArgs(w, key, { deadlineNs: at + 3600n * SECOND })));
    escrowConfirmed(w.store, task.id, 7n);
    okOf(claimTask(w.store, runner, at, task.id));
    okOf(completeTask(w.store, runner, at, task.id, resultArgs(key, overrides)));
    okOf(acceptTask(w.store, requester, at, task.id));
    return task.id;
  }

  const emissionOf = (w: World): Array<[string, bigint]> =>
    payouts(w)
      .filter((p) => p.kind === 'emission')
      .map((p): [string, bigint] => [p.id, p.amountE8s]);

  it('mints each finished epoch once, by the protocol fees its accepted work paid, to the operators', () => {
    const w = world({ emissionPerEpochE8s: BUDGET, epochSeconds: 3600n });
    addRunner(w, 'runner-a');
    addRunner(w, 'runner-b');
    addRunner(w, 'runner-c');
    const epoch = NOW / EPOCH;
    const terms = { startNs: epoch * EPOCH, endNs: (epoch + 1n) * EPOCH, emissionE8s: BUDGET, requesterCapBps: 2_000 };
    tick(w.store, NOW);
    expect(w.store.epochWork()).toEqual({ epoch, terms });
    expect(payouts(w)).toEqual([]);

    // Tokens are not what counts (runner-b reports 40 times the input): the fee paid is.
    acceptedFor(w, REQUESTER, 'a1', 'runner-a', NOW);
    acceptedFor(w, REQUESTER, 'a2', 'runner-a', NOW);
    acceptedFor(w, 'requester-2', 'b1', 'runner-b', NOW, { inputTokens: 500n, outputTokens: 34n });
    // Rejected work earns nothing.
    const rejected = queued(w, 'c1');
    answered(w, rejected, [['runner-c', 'x']]);
    okOf(rejectTask(w.store, REQUESTER, NOW, rejected, 'no'));
    expect(w.store.epochWork()).toMatchObject({ epoch, terms, creditedE8s: 3n * FEE_PAID });
    expect(epochCredits(w.store)).toEqual([
      ['requester-2', 'runner-b', FEE_PAID],
      [REQUESTER, 'runner-a', 2n * FEE_PAID]
    ]);

    const before = payouts(w).length;
    closeEpoch(w.store, (epoch + 1n) * EPOCH - 1n);
    expect(payouts(w)).toHaveLength(before);

    closeEpoch(w.store, (epoch + 1n) * EPOCH);
    // The fees (60,000) are below the budget: each runner gets back the fees its work brought, no more.
    const minted = payouts(w).filter((p) => p.kind === 'emission');
    expect(minted).toEqual([
      {
        id: `epoch-${epoch}/runner-a`,
        kind: 'emission',
        to: { owner: operatorOf('runner-a') },
        amountE8s: 2n * FEE_PAID,
        memo: `epoch-${epoch}`,
        createdAtNs: (epoch + 1n) * EPOCH,
        attempts: 0
      },
      {
        id: `epoch-${epoch}/runner-b`,
        kind: 'emission',
        to: { owner: operatorOf('runner-b') },
        amountE8s: FEE_PAID,
        memo: `epoch-${epoch}`,
        createdAtNs: (epoch + 1n) * EPOCH + 1n,
        attempts: 0
      }
    ]);
    // The next epoch credits the other bank of maps (the closed one's was settled and cleared).
    expect(w.store.epochWork()).toEqual({
      epoch: epoch + 1n,
      terms: { ...terms, startNs: terms.endNs, endNs: terms.endNs + EPOCH },
      bank: 1
    });
    expect(epochCredits(w.store)).toEqual([]);

    closeEpoch(w.store, (epoch + 1n) * EPOCH + 5n * SECOND);
    tick(w.store, (epoch + 2n) * EPOCH);
    expect(emissionOf(w)).toHaveLength(2);
    expect(w.store.epochWork().epoch).toBe(epoch + 2n);
  });

  it('splits the budget pro rata by fees when the fees exceed it', () => {
    const w = world({ emissionPerEpochE8s: 60_000n, emissionRequesterCapBps: 10_000 });
    addRunner(w, 'runner-a');
    addRunner(w, 'runner-b');
    tick(w.store, NOW);
    acceptedFor(w, 'requester-1', 'a1', 'runner-a', NOW);
    acceptedFor(w, 'requester-2', 'a2', 'runner-a', NOW);
    acceptedFor(w, 'requester-3', 'b1', 'runner-b', NOW);
    tick(w.store, NOW + EPOCH);
    const epoch = NOW / EPOCH;
    expect(emissionOf(w)).toEqual([
      [`epoch-${epoch}/runner-a`, 40_000n],
      [`epoch-${epoch}/runner-b`, 20_000n]
    ]);
  });

  it('earns nothing for work a requester deals itself: as the runner, its operator, or a runner of the same operator', () => {
    const w = world({ emissionPerEpochE8s: BUDGET });
    addRunner(w, 'runner-a');
    addRunner(w, 'runner-b');
    // runner-x has runner-a's operator: they belong to one party.
    okOf(registerRunner(w.store, 'runner-x', NOW, runnerManifest(operatorOf('runner-a'), [deployment(w.card, { slots: 2 })])));
    beat(w, 'runner-x', NOW);
    tick(w.store, NOW);
    acceptedFor(w, operatorOf('runner-a'), 'by-operator', 'runner-a', NOW, { inputTokens: 522n });
    acceptedFor(w, 'runner-a', 'by-itself', 'runner-a', NOW);
    acceptedFor(w, 'runner-x', 'by-a-sibling', 'runner-a', NOW);
    // The same work for an independent requester counts.
    acceptedFor(w, REQUESTER, 'independent', 'runner-b', NOW);
    expect(epochCredits(w.store)).toEqual([[REQUESTER, 'runner-b', FEE_PAID]]);
    tick(w.store, NOW + EPOCH);
    expect(emissionOf(w)).toEqual([[`epoch-${NOW / EPOCH}/runner-b`, FEE_PAID]]);
  });

  it('earns nothing for work that paid no protocol fee (no treasury)', () => {
    const w = world({ emissionPerEpochE8s: BUDGET }, false);
    okOf(setTaskConfig(w.store, ADMIN, { ledger: LEDGER, emissionPerEpochE8s: BUDGET }));
    addRunner(w, 'runner-a');
    tick(w.store, NOW);
    acceptedFor(w, REQUESTER, 'k', 'runner-a', NOW);
    expect(epochCredits(w.store)).toEqual([]);
    tick(w.store, NOW + EPOCH);
    expect(emissionOf(w)).toEqual([]);
  });

  it("caps one requester's work at its share of the epoch (admin-configurable); the rest goes to the others", () => {
    const w = world({ emissionPerEpochE8s: 400_000n, emissionRequesterCapBps: 1_000 });
    addRunner(w, 'runner-a');
    addRunner(w, 'runner-b');
    tick(w.store, NOW);
    // The big requester paid 80,000 in fees; the cap is 10 % of 400,000.
    for (const k of ['1', '2', '3', '4']) acceptedFor(w, 'big', `big-${k}`, 'runner-a', NOW);
    acceptedFor(w, 'small', 'small', 'runner-b', NOW);
    tick(w.store, NOW + EPOCH);
    expect(emissionOf(w)).toEqual([
      [`epoch-${NOW / EPOCH}/runner-a`, 40_000n],
      [`epoch-${NOW / EPOCH}/runner-b`, FEE_PAID]
    ]);
  });

  it('settles each epoch with the terms it opened with: switching emission on does not pay work done while it was off', () => {
    const w = world();
    addRunner(w, 'runner-a');
    tick(w.store, NOW);
    acceptedFor(w, REQUESTER, 'while-off', 'runner-a', NOW);
    okOf(setTaskConfig(w.store, ADMIN, { emissionPerEpochE8s: BUDGET, epochSeconds: 60n }));
    const epoch = NOW / EPOCH;
    tick(w.store, NOW + EPOCH);
    expect(emissionOf(w)).toEqual([]);
    // The next epoch opened with emission on (and 60 s epochs): its work is paid.
    const next = w.store.epochWork();
    expect(next.terms).toMatchObject({ emissionE8s: BUDGET, endNs: (next.terms?.startNs ?? 0n) + 60n * SECOND });
    expect(next.epoch).toBeGreaterThan(epoch);
    beat(w, 'runner-a', NOW + EPOCH);
    acceptedFor(w, REQUESTER, 'while-on', 'runner-a', NOW + EPOCH);
    // Switching emission off mid-epoch does not take away what the epoch opened with.
    okOf(setTaskConfig(w.store, ADMIN, { emissionPerEpochE8s: 0n }));
    tick(w.store, NOW + EPOCH + 60n * SECOND);
    expect(emissionOf(w)).toEqual([[`epoch-${next.epoch}/runner-a`, FEE_PAID]]);
  });

  it('mints nothing for an epoch stored before terms existed (its units were self-reported), and numbers go on', () => {
    const w = world({ emissionPerEpochE8s: BUDGET });
    addRunner(w, 'runner-a');
    w.store.setEpochWork({ epoch: NOW / EPOCH, units: [['runner-a', 10n ** 30n]] });
    tick(w.store, NOW);
    expect(emissionOf(w)).toEqual([]);
    expect(w.store.epochWork()).toMatchObject({ epoch: NOW / EPOCH + 1n });
  });

  it(`credits at most ${MAX_EPOCH_CREDITS} requester–runner pairs per epoch; a known pair still accumulates`, () => {
    const w = world({ emissionPerEpochE8s: BUDGET });
    addRunner(w, 'runner-a');
    tick(w.store, NOW);
    acceptedFor(w, REQUESTER, 'first', 'runner-a', NOW);
    // Pairs credited more than the minimum fill the table (ten runners: one holds at most a tenth of it): a new
    // minimum pair cannot replace them.
    for (let i = 0; i < MAX_EPOCH_CREDITS - 1; i++) addAcceptedWork(w.store, NOW, `someone-${i}`, 2n * FEE_PAID, [`runner-z${i % 10}`]);
    acceptedFor(w, REQUESTER, 'known-pair', 'runner-a', NOW);
    acceptedFor(w, 'newcomer', 'new-pair', 'runner-a', NOW);
    const credits = epochCredits(w.store);
    expect(credits).toHaveLength(MAX_EPOCH_CREDITS);
    expect(credits).toContainEqual([REQUESTER, 'runner-a', 2n * FEE_PAID]);
    expect(credits.some(([requester]) => requester === 'newcomer')).toBe(false);
  });

  it('closes an epoch stored with its credits in the record (before they were keyed) by those credits too', () => {
    const w = world({ emissionPerEpochE8s: BUDGET });
    addRunner(w, 'runner-a');
    tick(w.store, NOW);
    w.store.setEpochWork({ ...w.store.epochWork(), credits: [[REQUESTER, 'runner-a', FEE_PAID]] });
    acceptedFor(w, REQUESTER, 'keyed', 'runner-a', NOW);
    tick(w.store, NOW + EPOCH);
    expect(emissionOf(w)).toEqual([[`epoch-${NOW / EPOCH}/runner-a`, 2n * FEE_PAID]]);
  });

  it('mints nothing when emission is disabled or no work was accepted', () => {
    const w = world();
    addRunner(w, 'runner-a');
    tick(w.store, NOW);
    acceptedFor(w, REQUESTER, 'a', 'runner-a', NOW);
    tick(w.store, NOW + EPOCH);
    expect(emissionOf(w)).toEqual([]);

    const v = world({ emissionPerEpochE8s: BUDGET });
    tick(v.store, NOW);
    tick(v.store, NOW + EPOCH);
    expect(payouts(v)).toEqual([]);
  });
});
