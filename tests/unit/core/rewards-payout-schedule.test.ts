import { Principal } from '@dfinity/principal';
import { describe, expect, it } from 'vitest';

import { principalTextProblem, principalToText } from '../../../src/core/principal-text.ts';
import { makeConfig, memoryStore, registerRunner, publishCard } from '../../../src/core/registry/index.ts';
import {
  addPayout,
  beginAttempt,
  duePayouts,
  getPayout,
  listPayouts,
  payoutBackoffNs,
  planTransfer,
  recordVerdict,
  restorePayoutQueue,
  retryPayout,
  MAX_PAYOUT_ATTEMPTS,
  PAYOUT_BACKOFF_MAX_NS,
  type Payout
} from '../../../src/core/rewards/index.ts';
import { memoryTaskStore, setTaskConfig, type Stores } from '../../../src/core/tasks/index.ts';
import { deployment, modelCard, runnerManifest } from '../../support/manifests.ts';

const SECOND = 1_000_000_000n;
const NOW = 1_000_000n * SECOND;
const ADMIN = principalToText(Uint8Array.of(0x0a, 0x01));
const REGISTRY = principalToText(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 1, 1, 1));
const GOOD = principalToText(Uint8Array.of(0x0f, 0x01));
const FEE = 10_000n;

function stores(): Stores {
  const config = makeConfig({ admins: [ADMIN] });
  if ('Err' in config) throw new Error('config');
  return { ...memoryStore(config.Ok), ...memoryTaskStore() };
}

const add = (s: Stores, id: string, owner = GOOD, at = NOW): void =>
  addPayout(s, at, 0, 'runner', id, { owner }, 1_000_000n, id.slice(0, 32), id);

/** One pass as the canister makes it: plan, begin (counted, backed off), then the ledger's verdict. */
function pass(s: Stores, now: bigint, max: number, pays: (p: Payout) => boolean): string[] {
  const batch = duePayouts(s, now, max);
  for (const p of batch) {
    const plan = planTransfer(p, FEE, REGISTRY);
    if (plan.kind === 'stuck') {
      recordVerdict(s, p.id, plan);
      continue;
    }
    if (!beginAttempt(s, p.id, now)) continue;
    recordVerdict(s, p.id, pays(p) ? { kind: 'paid', block: 1n } : { kind: 'retry', error: 'GenericError: refused' }, now);
  }
  return batch.map((p) => p.id);
}

describe('principal texts', () => {
  it('accept what Principal.toText writes and refuse a wrong checksum, as Principal.fromText does', () => {
    for (const bytes of [[], [4], [0, 0, 0, 0, 0, 0, 0, 1, 1, 1], Array.from({ length: 29 }, (_, i) => i * 7)]) {
      const text = Principal.fromUint8Array(Uint8Array.from(bytes)).toText();
      expect(principalToText(Uint8Array.from(bytes))).toBe(text);
      expect(principalTextProblem(text)).toBeUndefined();
    }
    for (const bad of ['aaaaa-ab', 'aaaaa-aa-', 'AAAAA-AA', '', 'abc', 'opaaa-aa', '2vxsx-fa'])
      expect(principalTextProblem(bad), bad).toMatch(/principal/);
  });
});

describe('boundary validation', () => {
  const withCard = (): Stores => {
    const s = stores();
    const card = modelCard();
    publishCard(s, 'publisher', NOW, card);
    return s;
  };
  const manifest = (operator: string): Record<string, unknown> => runnerManifest(operator, [deployment(modelCard())]);

  it('refuses an operator with a wrong checksum (a typo) at registration, with a typed error', () => {
    const s = withCard();
    expect(registerRunner(s, 'runner-1', NOW, manifest('aaaaa-ab'), REGISTRY)).toEqual({
      Err: { InvalidArgument: { field: 'operator', reason: expect.stringMatching(/checksum/) as unknown } }
    });
    expect(s.runners.has('runner-1')).toBe(false);
    expect(registerRunner(s, 'runner-1', NOW, manifest(GOOD), REGISTRY)).toHaveProperty('Ok');
  });

  it('refuses the registry itself as operator (its account is the minting account: payouts would burn)', () => {
    const s = withCard();
    expect(registerRunner(s, 'runner-1', NOW, manifest(REGISTRY), REGISTRY)).toHaveProperty('Err.InvalidArgument.field', 'operator');
  });

  it('refuses the registry itself, or a bad principal, as treasury', () => {
    const s = stores();
    expect(setTaskConfig(s, ADMIN, { treasury: { owner: REGISTRY } }, REGISTRY)).toHaveProperty('Err.InvalidArgument.field', 'treasury');
    expect(setTaskConfig(s, ADMIN, { treasury: { owner: 'aaaaa-ab' } }, REGISTRY)).toHaveProperty('Err.InvalidArgument.field', 'treasury');
    expect(setTaskConfig(s, ADMIN, { treasury: { owner: GOOD } }, REGISTRY)).toHaveProperty('Ok');
  });
});

describe('payout schedule', () => {
  it('backs off 5 s doubling to 1 h', () => {
    expect([1, 2, 3, 4].map(payoutBackoffNs)).toEqual([5n * SECOND, 10n * SECOND, 20n * SECOND, 40n * SECOND]);
    expect(payoutBackoffNs(11)).toBe(PAYOUT_BACKOFF_MAX_NS);
    expect(payoutBackoffNs(1000)).toBe(PAYOUT_BACKOFF_MAX_NS);
  });

  it('a payout to an account that cannot be encoded (stored before the checks) is stuck at once, without a call', () => {
    const s = stores();
    add(s, 't1/runner/bad', 'aaaaa-ab');
    add(s, 't1/runner/self', REGISTRY);
    add(s, 't1/runner/good');
    const paid: string[] = [];
    pass(s, NOW, 64, (p) => (paid.push(p.id), true));
    expect(paid).toEqual(['t1/runner/good']);
    expect(getPayout(s, 't1/runner/bad')).toMatchObject({
      stuck: true,
      attempts: 0,
      lastError: expect.stringMatching(/aaaaa-ab/) as unknown
    });
    expect(getPayout(s, 't1/runner/self')).toMatchObject({ stuck: true, lastError: expect.stringMatching(/registry itself/) as unknown });
    expect(duePayouts(s, NOW + 100n * 3600n * SECOND, 64)).toEqual([]);
  });

  it('retries a failing payout with backoff, then marks it stuck after MAX_PAYOUT_ATTEMPTS with its last error', () => {
    const s = stores();
    add(s, 't1/runner/x');
    let now = NOW;
    const attemptsAt: bigint[] = [];
    for (let i = 0; i < 200 && getPayout(s, 't1/runner/x')?.stuck !== true; i++) {
      if (pass(s, now, 64, () => false).length > 0) attemptsAt.push(now);
      now += SECOND;
    }
    expect(attemptsAt.length).toBeLessThan(10);
    // Not retried every pass: 5 s, then 10 s … apart.
    expect(attemptsAt[1]! - attemptsAt[0]!).toBe(5n * SECOND);
    expect(attemptsAt[2]! - attemptsAt[1]!).toBe(10n * SECOND);
    for (let t = 0; t < 20 * 3600 && getPayout(s, 't1/runner/x')?.stuck !== true; t += 60)
      pass(s, now + BigInt(t) * SECOND, 64, () => false);
    expect(getPayout(s, 't1/runner/x')).toMatchObject({
      stuck: true,
      attempts: MAX_PAYOUT_ATTEMPTS,
      lastError: expect.stringMatching(/gave up after 20 attempts; last error: GenericError: refused/) as unknown
    });
  });

  it('a good payout queued behind 1,000 failing ones is paid in the next pass, whether they are due or backed off', () => {
    const s = stores();
    for (let i = 0; i < 1000; i++) add(s, `t${String(i).padStart(4, '0')}/runner/bad`, GOOD, NOW - 10n * SECOND);
    const fails = (p: Payout): boolean => !p.id.endsWith('/bad');
    // They fail once each (64 per pass, oldest first) and are backed off.
    for (let i = 0; i < 16; i++) expect(pass(s, NOW, 64, fails).length).toBeGreaterThan(0);
    expect(pass(s, NOW, 64, fails)).toEqual([]);
    add(s, 'zgood/runner/good', GOOD, NOW + SECOND);
    expect(pass(s, NOW + SECOND, 64, fails)).toContain('zgood/runner/good');
    expect(getPayout(s, 'zgood/runner/good')).toBeUndefined();

    // Even when every failing payout is due again (all retries), new payouts take the first half of a pass.
    const later = NOW + 3600n * SECOND;
    add(s, 'zgood/refund', GOOD, later);
    const batch = pass(s, later, 64, fails);
    expect(batch[0]).toBe('zgood/refund');
    expect(batch).toHaveLength(64);
    expect(getPayout(s, 'zgood/refund')).toBeUndefined();
  });

  it('loads payouts stored before the due index and the new fields (no nextAttemptNs, no attempts)', () => {
    const s = stores();
    const legacy = { id: 'old/runner/a', kind: 'runner', to: { owner: GOOD }, amountE8s: 500_000n, memo: 'old', createdAtNs: NOW - SECOND };
    s.payouts.set(legacy.id, legacy as unknown as Payout);
    s.payouts.set('old/runner/stuck', { ...legacy, id: 'old/runner/stuck', attempts: 3, stuck: true } as Payout);
    expect(duePayouts(s, NOW, 64)).toEqual([]);
    expect(restorePayoutQueue(s)).toBe(1);
    expect(restorePayoutQueue(s)).toBe(0);
    expect(duePayouts(s, NOW, 64).map((p) => [p.id, p.attempts])).toEqual([['old/runner/a', 0]]);
    const page = listPayouts(s, {}, {});
    expect(page).toHaveProperty('Ok.items.length', 2);
    expect(beginAttempt(s, 'old/runner/a', NOW)).toBe(true);
    expect(getPayout(s, 'old/runner/a')).toMatchObject({ attempts: 1, nextAttemptNs: NOW + 5n * SECOND });
  });
});

describe('list and retry', () => {
  it('lists one bounded page, filtered by state, and never more than the limit', () => {
    const s = stores();
    for (let i = 0; i < 250; i++) add(s, `t${String(i).padStart(4, '0')}/runner/a`, i % 50 === 0 ? 'aaaaa-ab' : GOOD);
    for (let i = 0; i < 4; i++) pass(s, NOW, 64, () => false);
    const first = listPayouts(s, { state: 'stuck' }, { limit: 2 });
    if ('Err' in first) throw new Error('list');
    expect(first.Ok.items.map((p) => p.id)).toEqual(['t0000/runner/a', 't0050/runner/a']);
    const second = listPayouts(s, { state: 'stuck' }, { limit: 100, after: first.Ok.next });
    expect(second).toHaveProperty('Ok.items.length', 3);
    expect(listPayouts(s, {}, { limit: 100 })).toHaveProperty('Ok.items.length', 100);
    expect(listPayouts(s, { state: 'paid' }, {})).toHaveProperty('Err.InvalidArgument.field', 'state');
    expect(listPayouts(s, {}, { limit: 1000 })).toHaveProperty('Err.InvalidArgument.field', 'limit');
  });

  it('retry_payout: admins only; a stuck payout is due again with a fresh attempt budget', () => {
    const s = stores();
    add(s, 't1/runner/a');
    for (let i = 0; i < MAX_PAYOUT_ATTEMPTS; i++) beginAttempt(s, 't1/runner/a', NOW);
    beginAttempt(s, 't1/runner/a', NOW);
    expect(getPayout(s, 't1/runner/a')?.stuck).toBe(true);
    expect(retryPayout(s, GOOD, 't1/runner/a', NOW)).toHaveProperty('Err.Unauthorized');
    expect(retryPayout(s, ADMIN, 'nope', NOW)).toHaveProperty('Err.NotFound');
    expect(retryPayout(s, ADMIN, 't1/runner/a', NOW)).toMatchObject({ Ok: { attempts: 0, nextAttemptNs: NOW } });
    expect(getPayout(s, 't1/runner/a')?.stuck).toBeUndefined();
    expect(duePayouts(s, NOW, 64).map((p) => p.id)).toEqual(['t1/runner/a']);
  });
});
