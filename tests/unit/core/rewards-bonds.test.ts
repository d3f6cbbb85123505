import { describe, expect, it } from 'vitest';

import { principalToText } from '../../../src/core/principal-text.ts';
import { makeConfig, memoryStore, type Result } from '../../../src/core/registry/index.ts';
import {
  beginBond,
  bondFailed,
  bondLeaseExpired,
  bondLocked,
  bondSubaccount,
  dueBonds,
  lockStillOurs,
  requiredBond,
  resolveStaleLock,
  returnBond,
  setBondConfig,
  slashBond,
  STALE_LOCK_NS,
  unbond,
  voteWeight,
  DEFAULT_BOND_CONFIG
} from '../../../src/core/rewards/index.ts';
import { majorityDigest, memoryTaskStore, setTaskConfig, type Stores, type Task } from '../../../src/core/tasks/index.ts';

const SECOND = 1_000_000_000n;
const NOW = 1_000_000n * SECOND;
const ADMIN = 'admin';
const BOND = 10_000_000n;
const RUNNER = principalToText(Uint8Array.of(0x0f, 0x01));
const TREASURY = { owner: principalToText(Uint8Array.of(0x0e, 0x01)) };

function okOf<T>(result: Result<T>): T {
  if ('Err' in result) throw new Error(`expected Ok, got ${JSON.stringify(result.Err, (_k, v: unknown) => String(v))}`);
  return result.Ok;
}

function store(): Stores {
  const s: Stores = { ...memoryStore(okOf(makeConfig({ admins: [ADMIN] }))), ...memoryTaskStore() };
  // A 60 s cooldown needs a lease plus review window of at most 60 s.
  okOf(setTaskConfig(s, ADMIN, { leaseSeconds: 5n, reviewWindowSeconds: 55n }));
  okOf(setBondConfig(s, ADMIN, { amountE8s: BOND, cooldownSeconds: 60n }));
  return s;
}

const payouts = (s: Stores) => [...s.payouts.entries()].map(([, p]) => p);

/** A bond locked for RUNNER. */
function locked(s: Stores): void {
  okOf(beginBond(s, RUNNER, BOND, NOW));
  bondLocked(s, RUNNER, 7n);
}

describe('runner bonds (core)', () => {
  it('is required only while a ledger is configured, and its subaccount is the runner’s own', () => {
    const s = store();
    expect(requiredBond(s, undefined)).toBe(0n);
    expect(requiredBond(s, 'ledger')).toBe(BOND);
    expect(DEFAULT_BOND_CONFIG.amountE8s).toBe(100_000_000n);
    const sub = bondSubaccount(RUNNER);
    expect(sub).toMatch(/^02[0-9a-f]{62}$/);
    expect(bondSubaccount(principalToText(Uint8Array.of(0x0f, 0x02)))).not.toBe(sub);
  });

  it('reserves the bond before the ledger call: a second registration meanwhile is refused; a refusal leaves nothing', () => {
    const s = store();
    const begun = okOf(beginBond(s, RUNNER, BOND, NOW));
    expect(begun).toMatchObject({ reused: false, bond: { state: 'locking', amountE8s: BOND } });
    expect(beginBond(s, RUNNER, BOND, NOW)).toHaveProperty('Err.AlreadyExists');
    bondFailed(s, RUNNER);
    expect(s.bonds.get(RUNNER)).toBeUndefined();
    expect(s.bondQueue.size()).toBe(0);
    locked(s);
    expect(s.bonds.get(RUNNER)).toMatchObject({ state: 'locked', block: 7n });
    expect(s.bondQueue.size()).toBe(0);
    expect(beginBond(s, RUNNER, BOND, NOW)).toHaveProperty('Err.AlreadyExists');
  });

  it('returns a failed registration’s bond from the bond subaccount to its owner, once', () => {
    const s = store();
    okOf(beginBond(s, RUNNER, BOND, NOW));
    returnBond(s, NOW, RUNNER);
    returnBond(s, NOW, RUNNER);
    expect(payouts(s)).toEqual([
      expect.objectContaining({ kind: 'bond-return', to: { owner: RUNNER }, amountE8s: BOND, fromSubaccount: bondSubaccount(RUNNER) })
    ]);
    expect(s.bonds.get(RUNNER)).toBeUndefined();
  });

  it('returns the bond after deregistration and the cooldown, not before; re-registering meanwhile takes it back', () => {
    const s = store();
    locked(s);
    unbond(s, NOW, RUNNER);
    expect(s.bonds.get(RUNNER)).toMatchObject({ state: 'unbonding', releaseAtNs: NOW + 60n * SECOND });
    expect(okOf(beginBond(s, RUNNER, BOND, NOW))).toMatchObject({ reused: true });
    expect(beginBond(s, RUNNER, BOND + 1n, NOW)).toHaveProperty('Err.BondRequired');
    expect(dueBonds(s, NOW + 59n * SECOND, 10)).toEqual([]);
    expect(payouts(s)).toEqual([]);
    expect(dueBonds(s, NOW + 60n * SECOND, 10)).toEqual([]);
    expect(payouts(s)).toEqual([expect.objectContaining({ kind: 'bond-return', amountE8s: BOND })]);
    expect(s.bonds.get(RUNNER)).toBeUndefined();
  });

  it('hands a stale lock back for the ledger to settle: moved and registered locks, moved and unregistered returns', () => {
    const s = store();
    okOf(beginBond(s, RUNNER, BOND, NOW));
    expect(dueBonds(s, NOW + STALE_LOCK_NS - 1n, 10)).toEqual([]);
    expect(dueBonds(s, NOW + STALE_LOCK_NS, 10).map((b) => b.runner)).toEqual([RUNNER]);
    resolveStaleLock(s, NOW, RUNNER, false);
    expect(s.bonds.get(RUNNER)).toBeUndefined();
    okOf(beginBond(s, RUNNER, BOND, NOW));
    resolveStaleLock(s, NOW, RUNNER, true, 9n);
    expect(payouts(s)).toEqual([expect.objectContaining({ kind: 'bond-return', amountE8s: BOND })]);
  });

  it('a registration whose ledger reply outlasts the stale-lock horizon finds its lock settled: refused, the bond returned once (issue 16)', () => {
    const s = store();
    const { bond } = okOf(beginBond(s, RUNNER, BOND, NOW));
    expect(lockStillOurs(s, RUNNER, bond.createdAtNs)).toBe(true);
    // 120 s later maintenance asks the ledger the same transfer: a Duplicate (the registration's moved it), and the
    // runner is not registered, so the bond goes back.
    const late = NOW + STALE_LOCK_NS;
    expect(dueBonds(s, late, 16).map((b) => b.runner)).toEqual([RUNNER]);
    resolveStaleLock(s, late, RUNNER, true, 9n);
    // The registration's reply arrives now: the lock is no longer its own, so it must not register without a bond.
    expect(lockStillOurs(s, RUNNER, bond.createdAtNs)).toBe(false);
    // A new registration's lock is not the old one's either.
    const again = okOf(beginBond(s, RUNNER, BOND, late + 1n));
    expect(lockStillOurs(s, RUNNER, bond.createdAtNs)).toBe(false);
    expect(lockStillOurs(s, RUNNER, again.bond.createdAtNs)).toBe(true);
    expect(payouts(s).map((p) => [p.kind, p.to.owner, p.amountE8s, p.fromSubaccount])).toEqual([
      ['bond-return', RUNNER, BOND, bondSubaccount(RUNNER)]
    ]);
  });

  it('slashes slash_bps of the bond as locked to the treasury, never more than it holds, and nothing without a treasury', () => {
    const s = store();
    locked(s);
    expect(slashBond(s, NOW, RUNNER, undefined, 'lost vote')).toBe(0n);
    okOf(setBondConfig(s, ADMIN, { slashBps: 6_000 }));
    expect(slashBond(s, NOW, RUNNER, TREASURY, 'lost vote')).toBe(6_000_000n);
    expect(slashBond(s, NOW, RUNNER, TREASURY, 'lost vote')).toBe(4_000_000n);
    expect(slashBond(s, NOW, RUNNER, TREASURY, 'lost vote')).toBe(0n);
    expect(s.bonds.get(RUNNER)).toMatchObject({ amountE8s: 0n, slashes: 2 });
    expect(payouts(s).map((p) => [p.kind, p.to.owner, p.amountE8s])).toEqual([
      ['bond-slash', TREASURY.owner, 6_000_000n],
      ['bond-slash', TREASURY.owner, 4_000_000n]
    ]);
  });

  it('counts expired leases and slashes every expired_lease_threshold of them', () => {
    const s = store();
    locked(s);
    for (let i = 0; i < 2; i++) bondLeaseExpired(s, NOW, RUNNER, TREASURY);
    expect(s.bonds.get(RUNNER)).toMatchObject({ expiredLeases: 2, slashes: 0 });
    bondLeaseExpired(s, NOW, RUNNER, TREASURY);
    expect(s.bonds.get(RUNNER)).toMatchObject({ expiredLeases: 0, slashes: 1, amountE8s: BOND - BOND / 10n });
  });

  it.each<[string, Parameters<typeof setBondConfig>[2]]>([
    ['amount_e8s', { amountE8s: -1n }],
    ['amount_e8s', { amountE8s: 10n ** 13n }],
    ['cooldown_seconds', { cooldownSeconds: 366n * 86_400n }],
    ['slash_bps', { slashBps: 10_001 }],
    ['slash_bps', { slashBps: 1.5 }],
    ['expired_lease_threshold', { expiredLeaseThreshold: 0 }]
  ])('refuses a bad %s and keeps the settings', (field, input) => {
    const s = store();
    expect(setBondConfig(s, ADMIN, input)).toEqual({ Err: { InvalidArgument: { field, reason: expect.any(String) as unknown } } });
    expect(s.bondConfig().amountE8s).toBe(BOND);
  });

  it('lets admins only change the settings', () => {
    expect(setBondConfig(store(), 'someone', { amountE8s: 0n })).toHaveProperty('Err.Unauthorized');
  });

  it.each([0n, 1n, 59n])(
    'refuses a cooldown of %s s, shorter than the lease plus the review window (60 s): leaving would escape a slash',
    (seconds) => {
      const s = store();
      expect(setBondConfig(s, ADMIN, { cooldownSeconds: seconds })).toEqual({
        Err: { InvalidArgument: { field: 'cooldown_seconds', reason: 'must be at least the lease plus the review window (60 s)' } }
      });
      expect(s.bondConfig().cooldownNs).toBe(60n * SECOND);
      okOf(setBondConfig(s, ADMIN, { cooldownSeconds: 60n }));
    }
  );

  it('refuses a task config whose lease plus review window would outlast the bond cooldown', () => {
    const s = store();
    expect(setTaskConfig(s, ADMIN, { reviewWindowSeconds: 56n })).toMatchObject({
      Err: { InvalidArgument: { field: 'review_window_seconds' } }
    });
    expect(setTaskConfig(s, ADMIN, { leaseSeconds: 6n })).toMatchObject({ Err: { InvalidArgument: { field: 'review_window_seconds' } } });
    expect(s.taskConfig().reviewWindowNs).toBe(55n * SECOND);
    okOf(setTaskConfig(s, ADMIN, { leaseSeconds: 10n, reviewWindowSeconds: 50n }));
  });
});

describe('votes: distinct operators, weighed by record and bond', () => {
  // `accepted` counts as both completed and independently accepted; `selfDealt` completions weigh nothing.
  const rep = (accepted: number, rejected = 0, selfDealt = 0) => ({
    completed: accepted + selfDealt,
    independentAccepted: accepted,
    rejected,
    failed: 0,
    expiredLeases: 0,
    latencyMsEma: 0
  });
  const bond = (amountE8s: bigint) => ({
    runner: RUNNER,
    owner: RUNNER,
    amountE8s,
    lockedE8s: BOND,
    state: 'locked' as const,
    createdAtNs: NOW,
    slashes: 0,
    expiredLeases: 0
  });

  it('weighs a record (capped) and the share of the required bond still held', () => {
    expect(voteWeight(undefined, undefined, 0n)).toBe(1_000n);
    expect(voteWeight(rep(3), undefined, 0n)).toBe(4_000n);
    expect(voteWeight(rep(3, 9), undefined, 0n)).toBe(1_000n);
    expect(voteWeight(rep(1_000), undefined, 0n)).toBe(100_000n);
    // Self-dealt completions (or any not accepted by a fee-paying independent requester) build no weight.
    expect(voteWeight(rep(0, 0, 99), undefined, 0n)).toBe(1_000n);
    expect(voteWeight({ completed: 99, rejected: 0, failed: 0, expiredLeases: 0, latencyMsEma: 0 }, undefined, 0n)).toBe(1_000n);
    expect(voteWeight(rep(0), bond(BOND), BOND)).toBe(1_000n);
    expect(voteWeight(rep(0), bond(BOND / 2n), BOND)).toBe(500n);
    expect(voteWeight(rep(0), undefined, BOND)).toBe(1n);
  });

  const task = (redundancy: number, results: Array<[string, string]>): Task =>
    ({ redundancy, results: results.map(([runner, outputDigest]) => ({ runner, outputDigest })) }) as unknown as Task;

  it("counts a result for the operator its lease had as well as the runner's operator now (issue 16)", () => {
    // Two runners of one operator: one left since (now its own operator), the other switched operators.
    const leased = {
      redundancy: 3,
      results: [
        { runner: 'a', outputDigest: 'bad', operator: 'op' },
        { runner: 'b', outputDigest: 'bad', operator: 'op' },
        { runner: 'c', outputDigest: 'good', operator: 'op-c' }
      ]
    } as unknown as Task;
    const now = (runner: string) => ({ operator: runner, bond: 1_000n, weight: 1n });
    // 'op' votes once: 'bad' has one operator of three behind it, no majority.
    expect(majorityDigest(leased, now)).toBeUndefined();
  });

  it('counts one vote per operator and needs a majority of operators and of weight', () => {
    const same = () => ({ operator: 'op', bond: 1_000n, weight: 1n });
    // Old rule (default voters): two of three agree.
    expect(
      majorityDigest(
        task(3, [
          ['a', 'x'],
          ['b', 'x'],
          ['c', 'y']
        ])
      )
    ).toBe('x');
    // Two runners of one operator are one vote: no majority of three.
    const voters = (r: string) => ({ operator: r === 'c' ? 'other' : 'op', bond: 1_000n, weight: 1n });
    expect(
      majorityDigest(
        task(3, [
          ['a', 'x'],
          ['b', 'x'],
          ['c', 'y']
        ]),
        voters
      )
    ).toBeUndefined();
    expect(majorityDigest(task(1, [['a', 'x']]), same)).toBe('x');
    // Two new identities against a runner with a record: operators agree, weight does not.
    const weighed = (r: string) => ({ operator: r, bond: 1_000n, weight: r === 'honest' ? 4_000n : 1_000n });
    expect(
      majorityDigest(
        task(3, [
          ['honest', 'x'],
          ['s1', 'y'],
          ['s2', 'y']
        ]),
        weighed
      )
    ).toBeUndefined();
    const even = (r: string) => ({ operator: r, bond: 1_000n, weight: r === 'honest' ? 1_500n : 1_000n });
    expect(
      majorityDigest(
        task(3, [
          ['honest', 'x'],
          ['s1', 'y'],
          ['s2', 'y']
        ]),
        even
      )
    ).toBe('y');
    // A record never outweighs bond: Sybils holding a quarter of the required bond each, with records that outweigh
    // the honest runner, still hold less bond than it does, and do not win.
    const washed = (r: string) =>
      r === 'honest' ? { operator: r, bond: 1_000n, weight: 1_000n } : { operator: r, bond: 250n, weight: 250n * 100n };
    const sybilVote = task(3, [
      ['honest', 'x'],
      ['s1', 'y'],
      ['s2', 'y']
    ]);
    expect(majorityDigest(sybilVote, washed)).toBeUndefined();
    // Weight decides where it agrees with bond: a bonded runner against one that holds none wins a two-runner vote.
    const unbonded = (r: string) =>
      r === 'honest' ? { operator: r, bond: 1_000n, weight: 1_000n } : { operator: r, bond: 1n, weight: 5n };
    expect(
      majorityDigest(
        task(2, [
          ['honest', 'x'],
          ['s1', 'y']
        ]),
        unbonded
      )
    ).toBe('x');
  });
});
