import { describe, expect, it } from 'vitest';

import { principalToText } from '../../../src/core/principal-text.ts';
import { makeConfig, memoryStore } from '../../../src/core/registry/index.ts';
import {
  addPayout,
  getPayout,
  recordVerdict,
  startPayoutRun,
  PAYOUT_CALLS_PER_RUN,
  type PayoutRun
} from '../../../src/core/rewards/index.ts';
import { memoryTaskStore, type Stores } from '../../../src/core/tasks/index.ts';

const SECOND = 1_000_000_000n;
const NOW = 1_000_000n * SECOND;
const REGISTRY = principalToText(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 1, 1, 1));
const GOOD = principalToText(Uint8Array.of(0x0f, 0x01));

function stores(): Stores {
  const config = makeConfig({ admins: [] });
  if ('Err' in config) throw new Error('config');
  return { ...memoryStore(config.Ok), ...memoryTaskStore() };
}

const add = (s: Stores, id: string, owner = GOOD, at = NOW - SECOND): void =>
  addPayout(s, at, 0, 'runner', id, { owner }, 1_000_000n, id.slice(0, 32), id);
const ids = (run: PayoutRun): string[] => run.calls.map((c) => c.payout.id);
/** The ledger's reply to each call of a run: `pays` decides which succeed. */
function reply(s: Stores, run: PayoutRun, pays: (id: string) => boolean): void {
  for (const { payout } of run.calls)
    recordVerdict(s, payout.id, pays(payout.id) ? { kind: 'paid', block: 1n } : { kind: 'retry', error: 'GenericError: refused' }, NOW);
}

describe('a payout run (issue 15: payouts in their own message, none holding back another)', () => {
  it('pays a good payout queued behind 1,000 unpayable ones in the next run: they are stuck without a call slot', () => {
    const s = stores();
    // A wrong checksum (an operator stored before registration checked it): the transfer can never be encoded.
    for (let i = 0; i < 1000; i++) add(s, `bad-${String(i).padStart(4, '0')}`, 'aaaaa-ab');
    add(s, 'good', GOOD, NOW);
    const run = startPayoutRun(s, NOW, { registryId: REGISTRY });
    expect(ids(run)).toEqual(['good']);
    expect(run.stuck).toBe(1000);
    expect(run.more).toBe(false);
    expect(getPayout(s, 'good')).toMatchObject({ attempts: 1 });
    expect(getPayout(s, 'bad-0999')).toMatchObject({ stuck: true, lastError: expect.stringMatching(/checksum/) as unknown });
  });

  it('makes at most maxCalls calls and leaves the rest due for the next run, each begun once', () => {
    const s = stores();
    for (let i = 0; i < 100; i++) add(s, `p-${String(i).padStart(3, '0')}`);
    const first = startPayoutRun(s, NOW);
    expect(first.calls).toHaveLength(PAYOUT_CALLS_PER_RUN);
    expect(first.more).toBe(true);
    // The first run's calls are still out (backed off, so not due anyway): the next run takes the other 36.
    const second = startPayoutRun(s, NOW, { skip: (id) => ids(first).includes(id) });
    expect(second.calls).toHaveLength(36);
    expect(new Set([...ids(first), ...ids(second)]).size).toBe(100);
    expect(second.more).toBe(false);
    for (const { payout } of [...first.calls, ...second.calls]) expect(getPayout(s, payout.id)?.attempts).toBe(1);
  });

  it('puts a good new payout ahead of 1,000 that already failed (backed off, in the retry lane)', () => {
    const s = stores();
    for (let i = 0; i < 1000; i++) add(s, `bad-${String(i).padStart(4, '0')}`);
    let now = NOW;
    for (let run = startPayoutRun(s, now, { maxCalls: 1000 }); run.calls.length > 0; run = startPayoutRun(s, now, { maxCalls: 1000 }))
      reply(s, run, () => false);
    // Their backoff has passed: all 1,000 are due again when the good one arrives.
    now += 10n * SECOND;
    add(s, 'good', GOOD, now);
    const run = startPayoutRun(s, now);
    expect(ids(run)[0]).toBe('good');
    expect(run.calls).toHaveLength(PAYOUT_CALLS_PER_RUN);
  });

  it('passes over payouts whose call is still out and stops when the budget is spent', () => {
    const s = stores();
    for (let i = 0; i < 10; i++) add(s, `p-${i}`);
    const inFlight = startPayoutRun(s, NOW, { maxCalls: 3 });
    // Past their backoff, yet still awaiting a reply: skipped, not begun again.
    const later = NOW + 60n * SECOND;
    const run = startPayoutRun(s, later, { skip: (id) => ids(inFlight).includes(id) });
    expect(ids(run).some((id) => ids(inFlight).includes(id))).toBe(false);
    expect(run.calls).toHaveLength(7);
    for (const id of ids(inFlight)) expect(getPayout(s, id)?.attempts).toBe(1);

    const t = stores();
    for (let i = 0; i < 10; i++) add(t, `q-${i}`);
    let checks = 0;
    const budgeted = startPayoutRun(t, NOW, { outOfBudget: () => ++checks > 4 });
    expect(budgeted.calls).toHaveLength(4);
    expect(budgeted.more).toBe(true);
    expect(startPayoutRun(t, NOW).calls).toHaveLength(6);
  });

  it('visits at most maxVisits payouts (unpayable ones included) and resumes at the index head', () => {
    const s = stores();
    for (let i = 0; i < 50; i++) add(s, `bad-${String(i).padStart(2, '0')}`, 'aaaaa-ab');
    add(s, 'good', GOOD, NOW);
    const first = startPayoutRun(s, NOW, { maxVisits: 30 });
    expect(first).toMatchObject({ calls: [], stuck: 30, more: true });
    const second = startPayoutRun(s, NOW, { maxVisits: 30 });
    expect(ids(second)).toEqual(['good']);
    expect(second.stuck).toBe(20);
  });
});
