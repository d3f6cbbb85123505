import { describe, expect, it } from 'vitest';

import { heartbeat, registerRunner, acceptOperator } from '../../../src/core/registry/index.ts';
import { perRunnerCostCapE8s } from '../../../src/core/rewards/pricing.ts';
import { ESCALATION_OFFER_NS } from '../../../src/core/tasks/escalation.ts';
import { acceptTask, claimTask, escrowConfirmed, rejectTask, submitTask, tick, type Stores } from '../../../src/core/tasks/index.ts';
import { deployment, runnerManifest } from '../../support/manifests.ts';
import {
  addRunner,
  answer,
  BOND,
  CARD,
  NOW,
  okOf,
  operatorOf,
  outputsSeenBy,
  paidTo,
  payoutsOf,
  recordOne,
  REWARD,
  SECOND,
  submitted,
  world
} from '../../support/task-world.ts';

/**
 * No majority escalates, never refunds (adversarial review 2, F2 and F2b, ported from the review branch's PoCs): a
 * requester's Sybil that disagrees with an honest runner on a redundancy-2 task no longer buys a full refund of work the
 * requester could read; the task waits for a result from a further operator, the eventual majority is paid and the
 * minority is slashed as a lost vote, and only a vote still undecided at the bound (or at the deadline) is a dispute.
 * Each test fails on the registry as it was before (checked: a 1–1 tie refunded at once).
 */
const REVIEW = 600n * SECOND;
/** At least this long is left for an escalation's results (src/core/tasks/escalation.ts ESCALATION_WINDOW_NS). */
const ESCALATION_WINDOW = 1800n * SECOND;

/** The review window ends and the timer runs: a tie escalates then (the requester's accept or reject does not). */
function reviewEnds(store: Stores, id: string): bigint {
  const at = store.tasks.get(id)!.reviewEndsAtNs!;
  tick(store, at);
  return at;
}

/** honest 'Paris' against the requester's Sybil 'garbage' on a redundancy-2 task: a 1–1 tie in review. */
function tied(store: Stores, bonded = false): string {
  addRunner(store, 'honest', 0xc0, bonded);
  addRunner(store, 'sybil', 0xb1, bonded);
  addRunner(store, 'third', 0xa3, bonded);
  const id = submitted(store);
  answer(store, id, [
    ['honest', 'Paris'],
    ['sybil', 'garbage']
  ]);
  expect(store.tasks.get(id)!.state).toBe('review');
  return id;
}

describe('review 2 F2: a tie escalates instead of refunding', () => {
  it('F2 accepting a 1–1 tie reopens the task for one more operator; its agreement pays the honest runner', () => {
    const store = world();
    const id = tied(store);
    // The requester reads no output of a task without a majority ...
    expect(outputsSeenBy(store, 'requester', id)).toEqual([undefined, undefined]);
    // ... accepting changes nothing (the timer, not the requester, decides when a tie escalates) ...
    expect(okOf(acceptTask(store, 'requester', NOW, id)).state).toBe('review');
    expect(store.tasks.get(id)!.extraResults).toBeUndefined();
    // ... and at the review's end the task neither refunds nor undoes the honest completion: it waits for one more result.
    const at = reviewEnds(store, id);
    const escalated = store.tasks.get(id)!;
    expect(escalated).toMatchObject({ state: 'queued', extraResults: 1, outcome: expect.stringMatching(/^escalated: no majority/) });
    expect(escalated.deadlineNs).toBe(at + ESCALATION_WINDOW);
    expect(payoutsOf(store, id)).toEqual([]);
    expect(store.reputation.get('honest')?.completed).toBe(1);
    expect(outputsSeenBy(store, 'requester', id)).toEqual([undefined, undefined]);
    // Neither runner of the tie, nor another identity of the Sybil's operator, may add a vote.
    addRunner(store, 'sybil-2', 0xb1);
    for (const r of ['honest', 'sybil', 'sybil-2']) expect('Err' in claimTask(store, r, at, id)).toBe(true);
    answer(store, id, [['third', 'Paris']], at);
    expect(store.tasks.get(id)!.state).toBe('review');
    const settled = okOf(acceptTask(store, 'requester', at, id));
    expect(settled).toMatchObject({ state: 'accepted', paidRunners: ['honest', 'third'] });
    // What should hold: the honest work the requester read is paid (12 × 1 + 20 × 3 = 72 e8s plus the ledger fee).
    expect(paidTo(store, id, 'honest')).toBe(72n + 10_000n);
    expect(paidTo(store, id, 'sybil')).toBe(0n);
    expect(store.payouts.get(`${id}/refund`)?.amountE8s).toBeLessThan(REWARD);
    // The Sybil lost the vote: a whole rejection.
    expect(store.reputation.get('sybil')).toMatchObject({ completed: 0, rejected: 1 });
  });

  it('F2b rejecting a 1–1 tie escalates too (at the review end): the paid rejection is not bypassed', () => {
    const store = world();
    const id = tied(store);
    expect(okOf(rejectTask(store, 'requester', NOW, id, 'no')).state).toBe('review');
    expect(payoutsOf(store, id)).toEqual([]);
    const at = reviewEnds(store, id);
    expect(store.tasks.get(id)!.state).toBe('queued');
    answer(store, id, [['third', 'Paris']], at);
    // Back in review with a majority: a rejection pays the work the requester now reads.
    expect(outputsSeenBy(store, 'requester', id)).toEqual(['Paris', undefined, 'Paris']);
    expect(okOf(rejectTask(store, 'requester', at, id, 'no')).state).toBe('rejected');
    expect(paidTo(store, id, 'honest')).toBeGreaterThan(0n);
    expect(paidTo(store, id, 'third')).toBeGreaterThan(0n);
  });

  it('the minority of the eventual majority is slashed as a lost vote; the winners keep their bonds', () => {
    const store = world(true);
    const id = tied(store, true);
    tick(store, NOW + REVIEW);
    expect(store.tasks.get(id)!.state).toBe('queued');
    // Nobody is slashed while the vote is open.
    expect(store.bonds.get('sybil')?.amountE8s).toBe(BOND);
    answer(store, id, [['third', 'Paris']], NOW + REVIEW);
    tick(store, NOW + 2n * REVIEW);
    expect(store.tasks.get(id)).toMatchObject({ state: 'accepted', paidRunners: ['honest', 'third'] });
    expect(store.bonds.get('sybil')?.amountE8s).toBeLessThan(BOND);
    expect(payoutsOf(store, id).some((p) => p.kind === 'runner' && p.to.owner === operatorOf(0xb1))).toBe(false);
    expect([...store.payouts.entries()].some(([pid, p]) => pid.startsWith('bond/sybil/') && p.kind === 'bond-slash')).toBe(true);
    for (const r of ['honest', 'third']) expect(store.bonds.get(r)?.amountE8s).toBe(BOND);
  });

  it('an escalation leaves time for its results: a deadline sooner than the window is pushed back to it', () => {
    const store = world();
    addRunner(store, 'honest', 0xc0);
    addRunner(store, 'sybil', 0xb1);
    const id = submitted(store, 2, NOW + 60n * SECOND);
    answer(store, id, [
      ['honest', 'Paris'],
      ['sybil', 'garbage']
    ]);
    // The review ends after the task's deadline: the task escalates and does not expire.
    const at = reviewEnds(store, id);
    expect(at).toBeGreaterThan(NOW + 60n * SECOND);
    expect(store.tasks.get(id)!.deadlineNs).toBe(at + ESCALATION_WINDOW);
    tick(store, at + SECOND);
    expect(store.tasks.get(id)!.state).toBe('queued');
    expect(payoutsOf(store, id)).toEqual([]);
  });
});

describe('escalation is bounded', () => {
  it('2 → 3 → 5 results; still no majority at the bound is the visible dispute: refunded, completions undone', () => {
    const store = world();
    const runners: [string, number][] = [
      ['a', 0xa1],
      ['b', 0xa2],
      ['c', 0xa3],
      ['d', 0xa4],
      ['e', 0xa5],
      ['f', 0xa6]
    ];
    for (const [r, n] of runners) addRunner(store, r, n);
    const id = submitted(store);
    answer(store, id, [
      ['a', 'one'],
      ['b', 'two']
    ]);
    let at = reviewEnds(store, id);
    expect(store.tasks.get(id)).toMatchObject({ state: 'queued', extraResults: 1 });
    answer(store, id, [['c', 'three']], at);
    at = reviewEnds(store, id);
    expect(store.tasks.get(id)).toMatchObject({ state: 'queued', extraResults: 3 });
    answer(
      store,
      id,
      [
        ['d', 'four'],
        ['e', 'five']
      ],
      at
    );
    // Five results and still no majority: the bound (redundancy + 2 extra results) is reached.
    expect('Err' in claimTask(store, 'f', at, id)).toBe(true);
    expect(okOf(acceptTask(store, 'requester', at, id)).state).toBe('review');
    reviewEnds(store, id);
    const disputed = store.tasks.get(id)!;
    expect(disputed).toMatchObject({
      state: 'failed',
      outcome: expect.stringMatching(/^disputed: no majority of both bond and vote weight/)
    });
    expect(payoutsOf(store, id).map((p) => [p.kind, p.amountE8s])).toEqual([['refund', REWARD]]);
    for (const [r] of runners.slice(0, 5)) expect(store.reputation.get(r)).toMatchObject({ completed: 0, rejected: 0 });
  });

  it('an escalation whose deadline passes settles by the results in: a majority goes to review, none is the dispute', () => {
    for (const third of ['Paris', 'Lyon']) {
      const store = world();
      addRunner(store, 'honest', 0xc0);
      addRunner(store, 'sybil', 0xb1);
      addRunner(store, 'third', 0xa3);
      addRunner(store, 'fourth', 0xa4);
      const id = submitted(store);
      answer(store, id, [
        ['honest', 'Paris'],
        ['sybil', 'garbage']
      ]);
      let at = reviewEnds(store, id);
      answer(store, id, [['third', third]], at);
      // 1–1–1: escalated again for two more results; only one comes before the deadline.
      if (third === 'Lyon') {
        at = reviewEnds(store, id);
        expect(store.tasks.get(id)).toMatchObject({ state: 'queued', extraResults: 3 });
        answer(store, id, [['fourth', 'Paris']], at);
        const deadline = store.tasks.get(id)!.deadlineNs;
        tick(store, deadline);
        // 2 of 4 is no majority: the dispute, with no further escalation.
        expect(store.tasks.get(id)).toMatchObject({ state: 'failed', outcome: expect.stringMatching(/^disputed: .*the deadline passed/) });
        expect(payoutsOf(store, id).map((p) => p.kind)).toEqual(['refund']);
      } else {
        expect(store.tasks.get(id)!.state).toBe('review');
        okOf(acceptTask(store, 'requester', at, id));
        expect(paidTo(store, id, 'honest')).toBeGreaterThan(0n);
      }
    }
  });

  it('an escalated majority larger than the redundancy shares the escrow: the payouts sum to the budget exactly', () => {
    const store = world();
    const runners: [string, number][] = [
      ['honest', 0xc0],
      ['sybil', 0xb1],
      ['lyon', 0xa2],
      ['x', 0xa3],
      ['y', 0xa4]
    ];
    for (const [r, n] of runners) addRunner(store, r, n);
    const id = submitted(store);
    answer(store, id, [
      ['honest', 'Paris'],
      ['sybil', 'garbage']
    ]);
    let at = reviewEnds(store, id);
    answer(store, id, [['lyon', 'Lyon']], at);
    at = reviewEnds(store, id);
    answer(
      store,
      id,
      [
        ['x', 'Paris'],
        ['y', 'Paris']
      ],
      at
    );
    expect(okOf(acceptTask(store, 'requester', at, id))).toMatchObject({ state: 'accepted', paidRunners: ['honest', 'x', 'y'] });
    const payouts = payoutsOf(store, id);
    expect(payouts.filter((p) => p.kind === 'runner')).toHaveLength(3);
    expect(payouts.reduce((sum, p) => sum + p.amountE8s, 0n)).toBe(REWARD);
    expect(new Set(payouts.map((p) => p.id)).size).toBe(payouts.length);
    for (const r of ['sybil', 'lyon']) expect(store.reputation.get(r)).toMatchObject({ rejected: 1 });
  });
});

describe('review 3 R3-E4: an escalation place is claimed under the cap it is paid under', () => {
  it('an escalated task caps claims at the pool share of every result it waits for, so its winners are paid their own cost', () => {
    const store = world();
    const id = tied(store);
    const config = store.taskConfig();
    const capOf2 = perRunnerCostCapE8s(config, REWARD, 2);
    const capOf3 = perRunnerCostCapE8s(config, REWARD, 3);
    // A runner whose most cost (64 output tokens, input free) is 90 % of a redundancy-2 share: above a third of the pool.
    const outputPerMillion = Number((capOf2 * 9n * 1_000_000n) / 10n / 64n);
    okOf(
      registerRunner(
        store,
        'pricey',
        NOW,
        runnerManifest(operatorOf(0xd1), [deployment(CARD, { slots: 4, price: { inputPerMillion: 0, outputPerMillion } })])
      )
    );
    okOf(acceptOperator(store, operatorOf(0xd1), NOW, 'pricey'));
    okOf(heartbeat(store, 'pricey', NOW, { state: 'ready', busySlots: 0, queueDepth: 0, tokensPerSecond: 1, kvCacheUsage: 0 }));
    // It may claim a redundancy-2 task's place (its price is within that share) …
    const fresh = submitted(store, 2);
    okOf(claimTask(store, 'pricey', NOW, fresh));
    // … but not an escalation place: the escalated task waits for 3 results, whose winners share the same pool.
    const at = reviewEnds(store, id);
    expect(store.tasks.get(id)!.state).toBe('queued');
    expect(store.open.get(id)?.pricing?.costCapE8s).toBe(capOf3);
    okOf(heartbeat(store, 'pricey', at, { state: 'ready', busySlots: 0, queueDepth: 0, tokensPerSecond: 1, kvCacheUsage: 0 }));
    const refused = claimTask(store, 'pricey', at, id);
    expect(refused).toMatchObject({ Err: { PriceAboveBudget: { task: id, cap_e8s: capOf3 } } });
    // A runner within the share claims it, and each winner is paid its own metered cost plus the ledger fee.
    answer(store, id, [['third', 'Paris']], at);
    okOf(acceptTask(store, 'requester', at, id));
    const cost = (store.tasks.get(id)!.results.find((r) => r.runner === 'third')?.costE8s ?? 0n) + config.ledgerFeeE8s;
    expect(paidTo(store, id, 'third')).toBe(cost);
  });
});

describe('review 3 R3-E2: the timer escalates a tie, and its places are not first come', () => {
  const beat = (store: Stores, runner: string, at: bigint): void => {
    okOf(heartbeat(store, runner, at, { state: 'ready', busySlots: 0, queueDepth: 0, tokensPerSecond: 1, kvCacheUsage: 0 }));
  };

  it('neither accept nor reject escalates a tie: the task stays in review until the timer runs at the review end', () => {
    const store = world();
    const id = tied(store);
    const endsAt = store.tasks.get(id)!.reviewEndsAtNs!;
    expect(okOf(acceptTask(store, 'requester', NOW, id)).state).toBe('review');
    expect(okOf(rejectTask(store, 'requester', NOW, id, 'no')).state).toBe('review');
    // Nobody may claim a place in the meantime (there is none), and a timer run before the end changes nothing.
    expect(claimTask(store, 'third', NOW, id)).toMatchObject({ Err: { TaskNotClaimable: { task: id, state: 'review' } } });
    tick(store, endsAt - 1n);
    expect(store.tasks.get(id)).toMatchObject({ state: 'review', reviewEndsAtNs: endsAt });
    tick(store, endsAt);
    expect(store.tasks.get(id)).toMatchObject({ state: 'queued', extraResults: 1 });
    // Once ended, a rejection is refused as for any review.
    expect(rejectTask(store, 'requester', endsAt, id, 'no')).toMatchObject({ Err: { NotInReview: { task: id, state: 'queued' } } });
  });

  it('the places are offered first to proven runners unrelated to the requester and the task, then to every unrelated runner', () => {
    const store = world();
    const id = tied(store);
    addRunner(store, 'proven', 0xd1);
    addRunner(store, 'fresh', 0xd2);
    recordOne(store, 'proven');
    // The Sybil's operator's other identity has a record too: it is in the task's vote already, so it is not offered.
    addRunner(store, 'sybil-2', 0xb1);
    recordOne(store, 'sybil-2');
    recordOne(store, 'honest');
    const at = store.tasks.get(id)!.reviewEndsAtNs!;
    for (const r of ['proven', 'fresh', 'sybil-2', 'third']) beat(store, r, at);
    tick(store, at);
    const escalated = store.tasks.get(id)!;
    expect(escalated).toMatchObject({ state: 'queued', preferred: ['proven'], openToAllAtNs: at + ESCALATION_OFFER_NS });
    // Inside the offer window a runner that is not offered the place is refused, as at submit's routing.
    expect(claimTask(store, 'fresh', at, id)).toMatchObject({ Err: { TaskNotClaimable: { task: id, state: 'queued' } } });
    expect(claimTask(store, 'fresh', at)).toMatchObject({ Err: { NotFound: { kind: { ClaimableTask: null } } } });
    // After it, any runner of an operator not in the task and not the requester may.
    const later = at + ESCALATION_OFFER_NS;
    beat(store, 'fresh', later);
    expect(okOf(claimTask(store, 'fresh', later, id)).id).toBe(id);
  });

  it('a proven runner offered the place claims it at once, and without proven runners there is no exclusive window', () => {
    const store = world();
    const id = tied(store);
    addRunner(store, 'proven', 0xd1);
    recordOne(store, 'proven');
    const at = store.tasks.get(id)!.reviewEndsAtNs!;
    beat(store, 'proven', at);
    tick(store, at);
    answer(store, id, [['proven', 'Paris']], at);
    expect(store.tasks.get(id)!.state).toBe('review');
    okOf(acceptTask(store, 'requester', at, id));
    expect(store.tasks.get(id)).toMatchObject({ state: 'accepted', paidRunners: ['honest', 'proven'] });

    // A proven runner that is not live now is not offered the place: with none, nobody waits.
    const other = world();
    const tie = tied(other);
    addRunner(other, 'proven', 0xd1);
    recordOne(other, 'proven');
    const end = other.tasks.get(tie)!.reviewEndsAtNs!;
    tick(other, end);
    expect(other.tasks.get(tie)).toMatchObject({ state: 'queued' });
    expect(other.tasks.get(tie)!.preferred).toBeUndefined();
    expect(other.tasks.get(tie)!.openToAllAtNs).toBeUndefined();
    beat(other, 'third', end);
    expect(okOf(claimTask(other, 'third', end, tie)).id).toBe(tie);
  });

  it('the requester’s own runners are refused an escalation place (Unauthorized), by name or by operator, and skipped by claims without an id', () => {
    const store = world();
    const requester = operatorOf(0xe0);
    addRunner(store, 'honest', 0xc0);
    addRunner(store, 'sybil', 0xb1);
    // A runner the requester operates, and a runner that is the requester's own principal (its own operator).
    addRunner(store, 'requester-runner', 0xe0);
    okOf(
      registerRunner(
        store,
        requester,
        NOW,
        runnerManifest(requester, [deployment(CARD, { slots: 4, price: { inputPerMillion: 1_000_000, outputPerMillion: 3_000_000 } })])
      )
    );
    const { task } = okOf(
      submitTask(store, requester, NOW, {
        idempotencyKey: 'own',
        request: { model: String(CARD.id) },
        input: { inline: 'Say hello.' },
        limits: { maxOutputTokens: 64, temperature: 0, seed: 1n },
        rewardE8s: REWARD,
        deadlineNs: NOW + 3600n * SECOND,
        redundancy: 2
      })
    );
    escrowConfirmed(store, task.id, 1n);
    answer(store, task.id, [
      ['honest', 'Paris'],
      ['sybil', 'garbage']
    ]);
    // Before an escalation the requester's runners may claim like any other (the task is simply full here).
    const at = store.tasks.get(task.id)!.reviewEndsAtNs!;
    tick(store, at);
    expect(store.tasks.get(task.id)!.state).toBe('queued');
    for (const runner of ['requester-runner', requester]) {
      beat(store, runner, at);
      expect(claimTask(store, runner, at, task.id)).toEqual({
        Err: { Unauthorized: { reason: "an escalation's places are not open to the requester's own runners or operators" } }
      });
      expect(claimTask(store, runner, at)).toMatchObject({ Err: { NotFound: { kind: { ClaimableTask: null } } } });
    }
    // An unrelated runner may.
    addRunner(store, 'third', 0xa3);
    beat(store, 'third', at);
    expect(okOf(claimTask(store, 'third', at, task.id)).id).toBe(task.id);
  });

  it('less proven escalation results cannot carry the bond majority for the side the contested results out-weighed: no out-vote, a dispute', () => {
    // The PoC's attack without any proven runner to offer the places to: the requester's operators take them all.
    const store = world(true);
    addRunner(store, 'honest', 0xc0, true);
    const sybils = ['sybil-1', 'sybil-2', 'sybil-3', 'sybil-4'];
    sybils.forEach((name, i) => addRunner(store, name, 0xb1 + i, true));
    recordOne(store, 'honest');
    const id = submitted(store, 2);
    answer(store, id, [
      ['honest', 'Paris'],
      ['sybil-1', 'garbage']
    ]);
    let at = reviewEnds(store, id);
    answer(store, id, [['sybil-2', 'garbage']], at);
    // 2 garbage against 1: a majority of the operators, but sybil-2 (record 1) is less proven than the honest result
    // (record 2) it opposes, on the side that weighed less: its weight counts, its bond does not.
    expect(store.tasks.get(id)!.reviewVote).toMatchObject({ winners: [] });
    at = reviewEnds(store, id);
    answer(
      store,
      id,
      [
        ['sybil-3', 'garbage'],
        ['sybil-4', 'garbage']
      ],
      at
    );
    expect(store.tasks.get(id)!.reviewVote?.votes).toContain('3 escalation result(s) less proven than a result they oppose count no bond');
    reviewEnds(store, id);
    // At the bound: the dispute. The honest runner is neither out-voted nor slashed; no Sybil is paid.
    expect(store.tasks.get(id)).toMatchObject({ state: 'failed', outcome: expect.stringMatching(/^disputed: /) });
    expect(store.bonds.get('honest')?.amountE8s).toBe(BOND);
    expect(payoutsOf(store, id).map((p) => p.kind)).toEqual(['refund']);
  });

  it('escalation results count their bond when as proven as the results they oppose, or on the side that weighed as much', () => {
    // A proven escalation runner on the side that weighed less: its bond counts, and the tie settles.
    const store = world(true);
    addRunner(store, 'fresh-honest', 0xc0, true);
    addRunner(store, 'bought', 0xb1, true);
    addRunner(store, 'proven', 0xd1, true);
    recordOne(store, 'bought');
    recordOne(store, 'proven');
    const id = submitted(store, 2);
    answer(store, id, [
      ['fresh-honest', 'Paris'],
      ['bought', 'garbage']
    ]);
    const at = reviewEnds(store, id);
    answer(store, id, [['proven', 'Paris']], at);
    reviewEnds(store, id);
    expect(store.tasks.get(id)).toMatchObject({ state: 'accepted', paidRunners: ['fresh-honest', 'proven'] });

    // Fresh runners on the side that weighed as much (two fresh honest runners against a Sybil of record 2) settle it.
    const other = world(true);
    for (const [name, n] of [
      ['honest-1', 0xc1],
      ['honest-2', 0xc2],
      ['bought', 0xb1],
      ['fresh-1', 0xd2],
      ['fresh-2', 0xd3]
    ] as const)
      addRunner(other, name, n, true);
    recordOne(other, 'bought');
    const tie = submitted(other, 3);
    answer(other, tie, [
      ['honest-1', 'Paris'],
      ['honest-2', 'Paris'],
      ['bought', 'garbage']
    ]);
    const end = reviewEnds(other, tie);
    expect(other.tasks.get(tie)!.state).toBe('queued');
    answer(
      other,
      tie,
      [
        ['fresh-1', 'Paris'],
        ['fresh-2', 'Paris']
      ],
      end
    );
    reviewEnds(other, tie);
    expect(other.tasks.get(tie)).toMatchObject({ state: 'accepted', paidRunners: ['honest-1', 'honest-2', 'fresh-1', 'fresh-2'] });
    expect(other.bonds.get('bought')?.amountE8s).toBeLessThan(BOND);
  });
});
