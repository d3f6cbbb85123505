import { describe, expect, it } from 'vitest';

import { principalToText } from '../../../src/core/principal-text.ts';
import {
  backfillQuotaCounters,
  checkQuota,
  deregisterRunner,
  effectiveOperator,
  makeConfig,
  memoryStore,
  publishCard,
  registerRunner,
  startQuotaBackfill,
  updateRunner,
  type Result
} from '../../../src/core/registry/index.ts';
import { escrowConfirmed, escrowFailed, memoryTaskStore, setTaskConfig, submitTask, type Stores } from '../../../src/core/tasks/index.ts';
import { deployment, digestOf, modelCard, runnerManifest } from '../../support/manifests.ts';

const SECOND = 1_000_000_000n;
const NOW = 1_000_000n * SECOND;
const ADMIN = 'admin';
const operator = (n: number): string => principalToText(Uint8Array.of(0x0f, n));

function okOf<T>(result: Result<T>): T {
  if ('Err' in result)
    throw new Error(`expected Ok, got ${JSON.stringify(result.Err, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);
  return result.Ok;
}

/** The counters recomputed from what exists (what the quotas must see). */
function expectedCounts(s: Stores): Array<[string, number]> {
  const counts = new Map<string, number>();
  const add = (key: string): void => {
    counts.set(key, (counts.get(key) ?? 0) + 1);
  };
  // A runner counts against its operator once the operator accepted it, against itself until then.
  for (const [, runner] of s.runners.entries()) add(`runners|${effectiveOperator(runner)}`);
  for (const [, card] of s.cards.entries()) add(`cards|${card.publishedBy}`);
  for (const [id] of s.open.entries()) add(`open-tasks|${s.tasks.get(id)?.requester ?? '?'}`);
  return [...counts.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
}
const actualCounts = (s: Stores): Array<[string, number]> => [...s.counts.entries()];

describe('quota counters rebuilt after an upgrade from state that predates them (issue 15)', () => {
  it('rebuilds them in budgeted steps from a persisted cursor, exactly, while runners, cards and tasks change between steps', () => {
    const s: Stores = { ...memoryStore(okOf(makeConfig({ admins: [ADMIN] }))), ...memoryTaskStore() };
    okOf(setTaskConfig(s, ADMIN, { ledger: 'ryjl3-tyaaa-aaaaa-aaaba-cai' }));
    const card = modelCard();
    okOf(publishCard(s, 'publisher-0', NOW, card));
    const manifest = (op: number) => runnerManifest(operator(op), [deployment(card)]);
    for (let i = 0; i < 30; i++) okOf(registerRunner(s, `runner-${String(i).padStart(2, '0')}`, NOW, manifest(i % 4)));
    for (let i = 1; i < 12; i++)
      okOf(
        // One org per publisher: an org belongs to its first publisher (model identity).
        publishCard(
          s,
          `publisher-${i % 3}`,
          NOW,
          modelCard({ id: `org-${i % 3}/model`, version: `1.0.${i}`, digest: digestOf(`1.0.${i}`) })
        )
      );
    const submit = (requester: string, key: string): string =>
      okOf(
        submitTask(s, requester, NOW, {
          idempotencyKey: key,
          request: { model: String(card.id) },
          input: { inline: 'Hi.' },
          limits: { maxOutputTokens: 8 },
          rewardE8s: 1_000_000n,
          deadlineNs: NOW + 3600n * SECOND,
          redundancy: 1
        })
      ).task.id;
    for (let i = 0; i < 40; i++) escrowConfirmed(s, submit(`requester-${i % 5}`, `k-${i}`), 1n);

    // State from before the counters: none stored, or wrong ones.
    for (const [key] of [...s.counts.entries()]) s.counts.delete(key);
    s.counts.set('runners|stale', 9);
    s.counts.set(`runners|${operator(0)}`, 1);
    startQuotaBackfill(s);
    expect(actualCounts(s)).not.toEqual(expectedCounts(s));

    let steps = 0;
    let n = 0;
    for (let done = false; !done; steps++) {
      let budget = 7;
      done = backfillQuotaCounters(
        s,
        { entries: (after) => s.open.entries(after), requesterOf: (id) => s.tasks.get(id)?.requester },
        () => budget-- <= 0
      );
      // Between steps, callers keep changing what is counted, on both sides of the cursor.
      n++;
      okOf(registerRunner(s, `runner-${n % 2 === 0 ? '00' : 'zz'}-${n}`, NOW, manifest(n % 4)));
      // The runners themselves (their operators never accepted, so they may not manage them).
      const leaving = `runner-${String(n % 30).padStart(2, '0')}`;
      if (n % 3 === 0) okOf(deregisterRunner(s, leaving, leaving));
      const moving = `runner-${String(29 - n).padStart(2, '0')}`;
      if (n % 4 === 1 && s.runners.has(moving)) okOf(updateRunner(s, moving, NOW, moving, manifest((n + 1) % 4)));
      okOf(
        publishCard(
          s,
          `publisher-${n % 3}`,
          NOW,
          modelCard({ id: `org-${n % 3}/model`, version: `2.0.${n}`, digest: digestOf(`2.0.${n}`) })
        )
      );
      const id = submit(`requester-${n % 5}`, `m-${n}`);
      if (n % 2 === 0) escrowConfirmed(s, id, 1n);
      else escrowFailed(s, id);
    }
    expect(steps).toBeGreaterThan(10);
    expect(s.quotaBackfill()).toBeUndefined();
    expect(actualCounts(s)).toEqual(expectedCounts(s));
    // Done: further calls do nothing, and counting goes on as usual.
    expect(backfillQuotaCounters(s, { entries: () => [], requesterOf: () => undefined }, () => true)).toBe(true);
    okOf(registerRunner(s, 'runner-late', NOW, manifest(1)));
    expect(actualCounts(s)).toEqual(expectedCounts(s));
    s.setQuotas({ ...s.quotas(), runnersPerOperator: expectedCounts(s).find(([k]) => k === `runners|${operator(1)}`)?.[1] ?? 0 });
    expect(checkQuota(s, 'runners', operator(1))).toMatchObject({ Err: { LimitExceeded: {} } });
  });
});
