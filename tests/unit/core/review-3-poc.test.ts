import { describe, expect, it } from 'vitest';

import { deregisterRunner, heartbeat } from '../../../src/core/registry/index.ts';
import { dueBonds, fullRejectionVolumeE8s, notePaidWork, rejectionWeightOf, unbond } from '../../../src/core/rewards/index.ts';
import { UNSETTLED_RECHECK_NS } from '../../../src/core/rewards/bonds.ts';
import { ESCALATION_WINDOW_NS } from '../../../src/core/tasks/escalation.ts';
import { acceptTask, claimTask, completeTask, rejectTask, setTaskConfig, taskFor, tick } from '../../../src/core/tasks/index.ts';
import {
  addRunner,
  ADMIN,
  answer,
  BOND,
  NOW,
  okOf,
  outputsSeenBy,
  paidTo,
  recordOne,
  result,
  REWARD,
  SECOND,
  submitted,
  world
} from '../../support/task-world.ts';

/**
 * Adversarial review 3, proofs of concept against vote escalation (src/core/tasks/escalation.ts, settlement.ts: "F2")
 * and rejection weight (src/core/rewards/requester-weight.ts: "F7"). Each test asserts what should hold and FAILS on
 * main (checked at e9443e5). Helpers: tests/support/task-world.ts.
 */
describe('review 3: vote escalation (F2)', () => {
  it('R3-E1 a requester that read the majority output in review cannot turn it into a dispute (a full refund) by moving its Sybil’s vote weight', () => {
    const store = world();
    addRunner(store, 'honest-1', 0xc1);
    addRunner(store, 'honest-2', 0xc2);
    addRunner(store, 'sybil', 0xb1);
    const id = submitted(store, 3);
    answer(store, id, [
      ['honest-1', 'Paris'],
      ['honest-2', 'Paris'],
      ['sybil', 'garbage']
    ]);
    expect(store.tasks.get(id)!.state).toBe('review');
    // Two fresh honest operators against one fresh Sybil: a majority of bond and weight, so the requester READS it.
    expect(outputsSeenBy(store, 'requester', id)).toEqual(['Paris', 'Paris', undefined]);
    // Weights are read at decision time, not at reading time: the requester accepts ONE small task its own Sybil did
    // (a different operator, so "independent"), which doubles the Sybil's record (weight 2000 = both honest runners').
    recordOne(store, 'sybil');
    // The vote was counted when the review began (the output the requester read): rejecting now settles by it, so
    // the requester cannot turn the majority it read into no majority, an escalation and a full refund.
    expect(okOf(rejectTask(store, 'requester', NOW, id, 'no thanks')).state).toBe('rejected');
    tick(store, NOW + 3601n * SECOND);
    expect(store.tasks.get(id)).toMatchObject({ state: 'rejected', paidRunners: ['honest-1', 'honest-2'] });
    // What should hold: work whose output the requester read is paid (it is, on every other path: README "Review").
    expect(paidTo(store, id, 'honest-1') + paidTo(store, id, 'honest-2')).toBeGreaterThan(0n);
    expect(store.payouts.get(`${id}/refund`)?.amountE8s ?? 0n).toBeLessThan(REWARD);
  });

  it('R3-E1 the same holds when the review ends without a decision, and for acceptance', () => {
    for (const decide of ['accept', 'timer'] as const) {
      const store = world();
      addRunner(store, 'honest-1', 0xc1);
      addRunner(store, 'honest-2', 0xc2);
      addRunner(store, 'sybil', 0xb1);
      const id = submitted(store, 3);
      answer(store, id, [
        ['honest-1', 'Paris'],
        ['honest-2', 'Paris'],
        ['sybil', 'garbage']
      ]);
      expect(outputsSeenBy(store, 'requester', id)).toEqual(['Paris', 'Paris', undefined]);
      recordOne(store, 'sybil');
      // The requester still reads the output it was shown, and the recorded vote is not shown to anyone but admins.
      expect(outputsSeenBy(store, 'requester', id)).toEqual(['Paris', 'Paris', undefined]);
      expect(taskFor(store, 'requester', store.tasks.get(id)!).reviewVote).toBeUndefined();
      if (decide === 'accept') okOf(acceptTask(store, 'requester', NOW, id));
      else tick(store, NOW + 3601n * SECOND);
      expect(store.tasks.get(id)).toMatchObject({ state: 'accepted', paidRunners: ['honest-1', 'honest-2'] });
    }
  });

  it('R3-E2 the requester cannot choose when a tie escalates, so its own operators cannot take the new places and out-vote an honest runner with a record', () => {
    const store = world(true);
    addRunner(store, 'honest', 0xc0, true);
    // An unrelated runner with a record of its own, which the escalation's places are offered to first.
    addRunner(store, 'referee', 0xa1, true);
    const sybils = ['sybil-1', 'sybil-2', 'sybil-3', 'sybil-4'];
    sybils.forEach((name, i) => addRunner(store, name, 0xb1 + i, true));
    // The honest runner has a record (one independent acceptance: weight 2 against a fresh identity's 1).
    recordOne(store, 'honest');
    recordOne(store, 'referee');
    const id = submitted(store, 2);
    answer(store, id, [
      ['honest', 'Paris'],
      ['sybil-1', 'garbage']
    ]);
    // The attack: each time the requester can, it decides (accept) and its operators claim every place open, in the
    // same round, before any other runner; the timer runs as it does.
    const attack = (at: bigint): void => {
      for (const name of sybils)
        okOf(heartbeat(store, name, at, { state: 'ready', busySlots: 0, queueDepth: 0, tokensPerSecond: 1, kvCacheUsage: 0 }));
      for (let round = 0; round < 3; round++) {
        acceptTask(store, 'requester', at, id);
        for (const name of sybils) if ('Ok' in claimTask(store, name, at, id)) okOf(completeTask(store, name, at, id, result('garbage')));
      }
    };
    attack(NOW);
    let at = NOW;
    for (let step = 0; step < 6 && store.tasks.get(id)!.settledAtNs === undefined; step++) {
      at += 600n * SECOND;
      okOf(heartbeat(store, 'referee', at, { state: 'ready', busySlots: 0, queueDepth: 0, tokensPerSecond: 1, kvCacheUsage: 0 }));
      tick(store, at);
      attack(at);
      // The referee claims whatever place is still open to it.
      if ('Ok' in claimTask(store, 'referee', at, id)) okOf(completeTask(store, 'referee', at, id, result('Paris')));
    }
    // What should hold: the honest result is not out-voted, slashed and unpaid by identities the requester put in the
    // places its own escalation opened (README: "new identities agreeing on garbage do not outweigh a runner with a record").
    expect(store.tasks.get(id)!.paidRunners ?? []).toContain('honest');
    expect(store.bonds.get('honest')?.amountE8s).toBe(BOND);
    // The place went to the proven runner the escalation was offered to, and the Sybil of the tie lost its vote.
    expect(store.tasks.get(id)).toMatchObject({ state: 'accepted', paidRunners: ['honest', 'referee'] });
    for (const name of sybils.slice(1)) expect(store.tasks.get(id)!.results.some((r) => r.runner === name)).toBe(false);
    expect(store.bonds.get('sybil-1')?.amountE8s).toBeLessThan(BOND);
  });
});

describe('review 3: escalation outlasts the bond cooldown', () => {
  it('R3-E3 a Sybil that lost an escalated vote cannot leave with its bond before the vote settles (the lost-vote slash still lands)', () => {
    const store = world(true);
    const DAY = 24n * 3600n * SECOND;
    addRunner(store, 'honest', 0xc0, true);
    addRunner(store, 'sybil', 0xb1, true);
    addRunner(store, 'third', 0xa3, true);
    // The longest deadline a task may have (7 days).
    const id = submitted(store, 2, NOW + 7n * DAY - 60n * SECOND);
    answer(store, id, [
      ['honest', 'Paris'],
      ['sybil', 'garbage']
    ]);
    // The Sybil leaves at once: its bond is due back after the cooldown (7 days, the default; >= lease + review window).
    okOf(deregisterRunner(store, 'sybil', 'sybil'));
    unbond(store, NOW, 'sybil');
    // The timer escalates the tie when the review window ends.
    const escalatedAt = NOW + 600n * SECOND;
    tick(store, escalatedAt);
    expect(store.tasks.get(id)!.state).toBe('queued');
    // The escalation waits its own window, not the task's 7 days.
    expect(store.tasks.get(id)!.deadlineNs).toBe(escalatedAt + ESCALATION_WINDOW_NS);
    answer(store, id, [['third', 'Paris']], escalatedAt + 60n * SECOND);
    expect(store.tasks.get(id)!.state).toBe('review');
    // Maintenance runs once the cooldown has ended, before the timer settled the review: the bond is held back.
    dueBonds(store, NOW + 7n * DAY + SECOND, 100);
    expect(store.bonds.get('sybil')?.amountE8s).toBe(BOND);
    tick(store, NOW + 7n * DAY + 700n * SECOND);
    expect(store.tasks.get(id)).toMatchObject({ state: 'accepted', paidRunners: ['honest', 'third'] });
    // What should hold: the lost vote is slashed, as it is when the vote settles without an escalation …
    const slash = [...store.payouts.entries()].find(([key]) => key.startsWith('bond/sybil/') && key.includes('/slash/'));
    expect(slash?.[1].amountE8s).toBeGreaterThan(0n);
    // … and the rest of the bond is returned once nothing of the runner's is unsettled.
    dueBonds(store, NOW + 7n * DAY + SECOND + UNSETTLED_RECHECK_NS, 100);
    expect(store.bonds.get('sybil')).toBeUndefined();
    const returned = [...store.payouts.entries()].find(([key]) => key.startsWith('bond/sybil/') && key.endsWith('/return'));
    expect(returned?.[1].amountE8s).toBe(BOND - (slash?.[1].amountE8s ?? 0n));
  });
});

describe('review 3: rejection weight (F7)', () => {
  it('R3-W1 paid volume keeps fading after the admin lengthens the epoch (weight bought once is not kept for ever)', () => {
    const store = world();
    const HOUR = 3600n * SECOND;
    // Whole weight bought in one hour-long epoch (the default): nine fee floors of independent paid work.
    // Real IC time (2026): hour index ~494,000, day index ~20,600 (the test clock's NOW is too early to show it).
    const at = 1_780_000_000n * SECOND;
    notePaidWork(store, 'requester', fullRejectionVolumeE8s(store.taskConfig()), ['some-runner'], at);
    expect(rejectionWeightOf(store, 'requester', at)).toBe(1_000);
    // The admin moves to day-long epochs: the stored epoch index (hours) is now far AHEAD of the current one (days).
    okOf(setTaskConfig(store, ADMIN, { epochSeconds: 86_400n }));
    // A year later, with nothing paid since, the volume should have faded (365 day-epochs: halved 365 times).
    const later = at + 365n * 24n * HOUR;
    expect(rejectionWeightOf(store, 'requester', later)).toBeLessThan(1_000);
  });
});
