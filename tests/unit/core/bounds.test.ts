import { principalToText } from '../../../src/core/principal-text.ts';
import { describe, expect, it } from 'vitest';

import {
  acceptOperator,
  ANONYMOUS_PRINCIPAL,
  checkFindRequest,
  countOf,
  deregisterRunner,
  DEFAULT_QUOTAS,
  inspectIngress,
  makeConfig,
  maxArgBytes,
  memoryStore,
  publishCard,
  registerRunner,
  setQuotas,
  updateRunner,
  type Ingress,
  type Result
} from '../../../src/core/registry/index.ts';
import {
  escrowConfirmed,
  escrowFailed,
  MAX_INLINE_INPUT_BYTES,
  memoryTaskStore,
  setTaskConfig,
  submitTask,
  taskFor,
  HIDDEN_DIGEST,
  type Stores,
  type SubmitArgs
} from '../../../src/core/tasks/index.ts';
import { utf8LongerThan } from '../../../src/core/tasks/validate.ts';
import { deployment, digestOf, modelCard, runnerManifest } from '../../support/manifests.ts';

const SECOND = 1_000_000_000n;
const NOW = 1_000_000n * SECOND;
const ADMIN = 'admin';

function okOf<T>(result: Result<T>): T {
  if ('Err' in result) throw new Error(`expected Ok, got ${JSON.stringify(result.Err, (_k, v: unknown) => String(v))}`);
  return result.Ok;
}

function world(): { store: Stores; card: Record<string, unknown>; model: string } {
  const store: Stores = { ...memoryStore(okOf(makeConfig({ admins: [ADMIN] }))), ...memoryTaskStore() };
  okOf(
    setTaskConfig(store, ADMIN, { ledger: 'ryjl3-tyaaa-aaaaa-aaaba-cai', treasury: { owner: principalToText(Uint8Array.of(0x0e, 0x01)) } })
  );
  const card = modelCard();
  okOf(publishCard(store, 'publisher', NOW, card));
  return { store, card, model: String(card.id) };
}

const submitArgs = (model: string, key: string, overrides: Partial<SubmitArgs> = {}): SubmitArgs => ({
  idempotencyKey: key,
  request: { model },
  input: { inline: 'Say hello.' },
  limits: { maxOutputTokens: 64 },
  rewardE8s: 1_000_000n,
  deadlineNs: NOW + 3600n * SECOND,
  redundancy: 1,
  ...overrides
});

const OP_A = principalToText(Uint8Array.of(0x0f, 0x0a));
const OP_B = principalToText(Uint8Array.of(0x0f, 0x0b));

describe('boundary validation', () => {
  it('bounds every FindRequest field: model id length and characters, list lengths, affinity key', () => {
    expect(checkFindRequest({ model: 'org/name' })).toEqual({ Ok: 10 });
    expect(checkFindRequest({ model: 'x'.repeat(1_000_000) })).toHaveProperty('Err.InvalidArgument.field', 'model');
    expect(checkFindRequest({ model: 'no slash' })).toHaveProperty('Err.InvalidArgument.field', 'model');
    expect(checkFindRequest({ model: 'org/na\nme' })).toHaveProperty('Err.InvalidArgument.field', 'model');
    expect(checkFindRequest({ capabilities: Array.from({ length: 33 }, () => 'chat') })).toHaveProperty('Err.InvalidArgument');
    expect(checkFindRequest({ affinityKey: 'a\u0000b' })).toHaveProperty('Err.InvalidArgument.field', 'affinity_key');
    expect(checkFindRequest({ affinityKey: 'k'.repeat(129) })).toHaveProperty('Err.InvalidArgument.field', 'affinity_key');
  });

  it('submit_task checks the whole request, the input and the key before anything else (even before the ledger config)', () => {
    const w = world();
    const refused = (overrides: Partial<SubmitArgs>) => submitTask(w.store, 'requester', NOW, submitArgs(w.model, 'k', overrides));
    expect(refused({ request: { model: 'm'.repeat(1_000_000) } })).toHaveProperty('Err.InvalidArgument.field', 'request.model');
    expect(refused({ request: { model: w.model, region: 'r'.repeat(1_800_000) } })).toHaveProperty(
      'Err.InvalidArgument.field',
      'request.region'
    );
    expect(refused({ request: { model: w.model, affinityKey: '' } })).toHaveProperty('Err.InvalidArgument.field', 'request.affinity_key');
    expect(refused({ input: { inline: 'x'.repeat(MAX_INLINE_INPUT_BYTES + 1) } })).toHaveProperty(
      'Err.InvalidArgument.field',
      'input.inline'
    );
    expect(refused({ idempotencyKey: 'a\nb' })).toHaveProperty('Err.InvalidArgument.field', 'idempotency_key');
    expect(refused({ input: { digest: 'sha256:' + 'g'.repeat(1000), reference: 'r' } })).toHaveProperty(
      'Err.InvalidArgument.field',
      'input.digest'
    );
    // Bounds come before configuration: an unconfigured registry still names the bad field.
    const unconfigured: Stores = { ...memoryStore(okOf(makeConfig({ admins: [ADMIN] }))), ...memoryTaskStore() };
    expect(submitTask(unconfigured, 'requester', NOW, submitArgs('m'.repeat(500), 'k'))).toHaveProperty('Err.InvalidArgument');
    expect(w.store.tasks.size()).toBe(0);
  });
});

describe('inspect_message rules', () => {
  const ingress = (overrides: Partial<Ingress>): Ingress => ({
    method: 'submit_task',
    argBytes: 1_000,
    caller: 'someone',
    known: true,
    readOnly: false,
    ...overrides
  });

  it('refuses unknown methods, oversized arguments, anonymous writers; admin methods are left to the typed Unauthorized of the method', () => {
    expect(inspectIngress(ingress({}))).toBeUndefined();
    expect(inspectIngress(ingress({ method: '_azle_chunk', known: false }))).toBe('UnknownMethod');
    expect(inspectIngress(ingress({ argBytes: maxArgBytes('submit_task') + 1 }))).toBe('ArgumentTooLarge');
    expect(inspectIngress(ingress({ method: 'claim_task', argBytes: 5_000 }))).toBe('ArgumentTooLarge');
    expect(inspectIngress(ingress({ caller: ANONYMOUS_PRINCIPAL }))).toBe('AnonymousCaller');
    expect(inspectIngress(ingress({ method: 'get_task', caller: ANONYMOUS_PRINCIPAL, readOnly: true }))).toBeUndefined();
    expect(inspectIngress(ingress({ method: 'set_task_config' }))).toBeUndefined();
  });

  it('sizes each method from the field limits', () => {
    expect(maxArgBytes('submit_task')).toBeGreaterThan(MAX_INLINE_INPUT_BYTES);
    expect(maxArgBytes('submit_task')).toBeLessThan(MAX_INLINE_INPUT_BYTES * 2);
    expect(maxArgBytes('publish_model_card')).toBeLessThan(70 * 1024);
    expect(maxArgBytes('heartbeat')).toBe(4 * 1024);
  });
});

describe('per-caller quotas', () => {
  it(`allows ${DEFAULT_QUOTAS.runnersPerOperator} accepted runners per operator; naming an operator spends none of its share`, () => {
    const w = world();
    const manifest = (operator: string) => runnerManifest(operator, [deployment(w.card)]);
    for (let i = 0; i < DEFAULT_QUOTAS.runnersPerOperator; i++) {
      okOf(registerRunner(w.store, `runner-${i}`, NOW, manifest(OP_A)));
      okOf(acceptOperator(w.store, OP_A, NOW, `runner-${i}`));
    }
    const full = { Err: { LimitExceeded: { what: 'runners per operator (quota)', limit: BigInt(DEFAULT_QUOTAS.runnersPerOperator) } } };
    okOf(registerRunner(w.store, 'runner-x', NOW, manifest(OP_A)));
    expect(acceptOperator(w.store, OP_A, NOW, 'runner-x')).toEqual(full);
    expect(countOf(w.store, 'runners', OP_A)).toBe(DEFAULT_QUOTAS.runnersPerOperator);
    okOf(registerRunner(w.store, 'runner-y', NOW, manifest(OP_B)));
    okOf(acceptOperator(w.store, OP_B, NOW, 'runner-y'));
    // A runner moved to a full operator needs its acceptance again, refused; deregistering frees a place.
    const moved = okOf(updateRunner(w.store, 'runner-y', NOW, 'runner-y', manifest(OP_A)));
    expect(moved.operatorAcceptedAtNs).toBeUndefined();
    expect(countOf(w.store, 'runners', OP_B)).toBe(0);
    expect(acceptOperator(w.store, OP_A, NOW, 'runner-y')).toEqual(full);
    okOf(deregisterRunner(w.store, 'runner-0', 'runner-0'));
    okOf(acceptOperator(w.store, OP_A, NOW, 'runner-x'));
    // Only the named operator accepts, never the anonymous principal; an unknown runner is NotFound.
    expect(acceptOperator(w.store, OP_B, NOW, 'runner-y')).toHaveProperty('Err.Unauthorized');
    expect(acceptOperator(w.store, ANONYMOUS_PRINCIPAL, NOW, 'runner-y')).toEqual({ Err: { AnonymousCaller: null } });
    expect(acceptOperator(w.store, OP_A, NOW, 'nobody')).toHaveProperty('Err.NotFound');
  });

  it('counts open tasks per requester and frees a place when a task settles or its escrow fails', () => {
    const w = world();
    okOf(setQuotas(w.store, ADMIN, { openTasksPerRequester: 2 }));
    const first = okOf(submitTask(w.store, 'alice', NOW, submitArgs(w.model, 'a1'))).task.id;
    okOf(submitTask(w.store, 'alice', NOW, submitArgs(w.model, 'a2')));
    expect(submitTask(w.store, 'alice', NOW, submitArgs(w.model, 'a3'))).toEqual({
      Err: { LimitExceeded: { what: 'open tasks per requester (quota)', limit: 2n } }
    });
    okOf(submitTask(w.store, 'bob', NOW, submitArgs(w.model, 'b1')));
    escrowFailed(w.store, first);
    const third = okOf(submitTask(w.store, 'alice', NOW, submitArgs(w.model, 'a3'))).task.id;
    escrowConfirmed(w.store, third, 1n);
    expect(submitTask(w.store, 'alice', NOW, submitArgs(w.model, 'a4'))).toHaveProperty('Err.LimitExceeded');
  });

  it('limits cards per publisher, and only admins change quotas (within bounds)', () => {
    const w = world();
    okOf(setQuotas(w.store, ADMIN, { cardsPerPublisher: 1 }));
    expect(publishCard(w.store, 'publisher', NOW, modelCard({ version: '2.0.0', digest: digestOf('v2') }))).toHaveProperty(
      'Err.LimitExceeded.what',
      'model cards per publisher (quota)'
    );
    expect(setQuotas(w.store, 'someone', { cardsPerPublisher: 5 })).toHaveProperty('Err.Unauthorized');
    expect(setQuotas(w.store, ADMIN, { cardsPerPublisher: 0 })).toHaveProperty('Err.InvalidArgument');
    expect(w.store.quotas()).toEqual({ ...DEFAULT_QUOTAS, cardsPerPublisher: 1 });
  });
});

describe('task privacy', () => {
  it('shows everything to admins, the input to the requester and its runners, a runner its own result, the summary to everyone else', () => {
    const w = world();
    const { task } = okOf(
      submitTask(
        w.store,
        'alice',
        NOW,
        submitArgs(w.model, 'k', { input: { inline: 'secret prompt' }, request: { model: w.model, affinityKey: 'session-1' } })
      )
    );
    task.leases = [{ runner: 'runner-a', claimedAtNs: NOW, expiresAtNs: NOW + SECOND }];
    task.results = [
      {
        runner: 'runner-a',
        outputDigest: 'sha256:' + 'a'.repeat(64),
        output: 'secret answer',
        inputTokens: 1n,
        outputTokens: 1n,
        firstTokenMs: 1,
        totalMs: 1,
        atNs: NOW
      },
      {
        runner: 'runner-b',
        outputDigest: 'sha256:' + 'b'.repeat(64),
        output: 'other answer',
        inputTokens: 1n,
        outputTokens: 1n,
        firstTokenMs: 1,
        totalMs: 1,
        atNs: NOW
      }
    ];
    expect(taskFor(w.store, ADMIN, task)).toBe(task);
    // While the task is open the requester reads its input but no result (none is in review with a majority yet).
    const asRequester = taskFor(w.store, 'alice', task);
    expect(asRequester.input.inline).toBe('secret prompt');
    expect(asRequester.request.affinityKey).toBe('session-1');
    expect(asRequester.results.map((r) => [r.output, r.outputDigest])).toEqual([
      [undefined, HIDDEN_DIGEST],
      [undefined, HIDDEN_DIGEST]
    ]);
    // A runner reads the input and its own result, never another runner's output or digest while the task is open.
    const asRunner = taskFor(w.store, 'runner-a', task);
    expect(asRunner.input.inline).toBe('secret prompt');
    expect(asRunner.results.map((r) => [r.output, r.outputDigest])).toEqual([
      ['secret answer', task.results[0]?.outputDigest],
      [undefined, HIDDEN_DIGEST]
    ]);
    for (const who of [ANONYMOUS_PRINCIPAL, 'stranger']) {
      const seen = taskFor(w.store, who, task);
      expect(seen.input).toEqual({});
      expect(seen.request.affinityKey).toBeUndefined();
      expect(seen.results.map((r) => r.output)).toEqual([undefined, undefined]);
      expect(seen.results[0]?.outputDigest).toBe(HIDDEN_DIGEST);
      expect(seen.state).toBe(task.state);
      expect(seen.rewardE8s).toBe(task.rewardE8s);
    }
  });
});

describe('utf8LongerThan', () => {
  it('counts UTF-8 bytes, not UTF-16 units, whatever the length decides first', () => {
    expect(utf8LongerThan('a'.repeat(30), 30)).toBe(false);
    expect(utf8LongerThan('a'.repeat(31), 30)).toBe(true);
    expect(utf8LongerThan('€'.repeat(10), 30)).toBe(false); // 3 bytes each
    expect(utf8LongerThan('€'.repeat(10) + 'a', 30)).toBe(true);
    expect(utf8LongerThan('😀'.repeat(8), 30)).toBe(true); // 16 units, 32 bytes
    expect(utf8LongerThan('é'.repeat(15), 30)).toBe(false);
  });
});
