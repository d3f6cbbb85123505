import { describe, expect, it } from 'vitest';

import { principalToText } from '../../../src/core/principal-text.ts';
import { makeConfig, memoryStore, publishCard, type Result } from '../../../src/core/registry/index.ts';
import {
  escrowConfirmed,
  memoryTaskStore,
  retryRefusalIsFinal,
  setTaskConfig,
  staleEscrows,
  STALE_ESCROW_NS,
  submitTask,
  type Stores,
  type SubmitArgs
} from '../../../src/core/tasks/index.ts';
import { modelCard } from '../../support/manifests.ts';

const SECOND = 1_000_000_000n;
const NOW = 1_000_000n * SECOND;
const ADMIN = 'admin';

function okOf<T>(result: Result<T>): T {
  if ('Err' in result)
    throw new Error(`expected Ok, got ${JSON.stringify(result.Err, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);
  return result.Ok;
}

function world(): { store: Stores; model: string; reads: string[] } {
  const store: Stores = { ...memoryStore(okOf(makeConfig({ admins: [ADMIN] }))), ...memoryTaskStore() };
  okOf(
    setTaskConfig(store, ADMIN, { ledger: 'ryjl3-tyaaa-aaaaa-aaaba-cai', treasury: { owner: principalToText(Uint8Array.of(0x0e, 0x01)) } })
  );
  const card = modelCard();
  okOf(publishCard(store, 'publisher', NOW, card));
  const reads: string[] = [];
  for (const name of ['get', 'entries'] as const) {
    const inner = store.tasks[name].bind(store.tasks) as (...args: unknown[]) => unknown;
    (store.tasks as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      reads.push(`${name}:${String(args[0])}`);
      return inner(...args);
    };
  }
  const withoutInput = store.taskWithoutInput;
  store.taskWithoutInput = (id) => {
    reads.push(`withoutInput:${id}`);
    return withoutInput(id);
  };
  return { store, model: String(card.id), reads };
}

const args = (model: string, key: string): SubmitArgs => ({
  idempotencyKey: key,
  request: { model },
  input: { inline: 'Say hello.' },
  limits: { maxOutputTokens: 64, temperature: 0, seed: 1n },
  rewardE8s: 1_000_000n,
  deadlineNs: NOW + 3600n * SECOND,
  redundancy: 1
});

describe('stale escrow retries (issue 15: an index of escrowing tasks by retry time)', () => {
  it('visits only escrowing tasks whose reply is overdue, reads nothing else, and backs each retry off', () => {
    const w = world();
    // 200 queued tasks (escrow confirmed) and 3 whose escrow reply never came, one of them submitted later.
    for (let i = 0; i < 200; i++) {
      const { task } = okOf(submitTask(w.store, `requester-${i % 7}`, NOW, args(w.model, `ok-${i}`)));
      escrowConfirmed(w.store, task.id, 1n);
    }
    const lost = [0, 1].map((i) => okOf(submitTask(w.store, 'requester-x', NOW, args(w.model, `lost-${i}`))).task.id);
    const late = okOf(submitTask(w.store, 'requester-x', NOW + 60n * SECOND, args(w.model, 'late'))).task.id;

    w.reads.length = 0;
    expect(staleEscrows(w.store, NOW + STALE_ESCROW_NS - 1n)).toEqual([]);
    expect(w.reads).toEqual([]);

    const due = NOW + STALE_ESCROW_NS;
    expect(staleEscrows(w.store, due).map((t) => t.id)).toEqual(lost);
    // Only the two overdue tasks are read (no scan of the open or stored tasks).
    expect([...new Set(w.reads)].sort()).toEqual([...lost.map((id) => `get:${id}`), ...lost.map((id) => `withoutInput:${id}`)].sort());
    // Backed off: not retried again on the next runs until STALE_ESCROW_NS has passed since the retry.
    expect(staleEscrows(w.store, due + 60n * SECOND).map((t) => t.id)).toEqual([late]);
    expect(staleEscrows(w.store, due + STALE_ESCROW_NS - 1n)).toEqual([]);
    expect(staleEscrows(w.store, due + STALE_ESCROW_NS).map((t) => t.id)).toEqual(lost);

    // A confirmed escrow leaves the index; a skipped one (its retry still out) is not pushed back.
    escrowConfirmed(w.store, lost[0] ?? '', 2n);
    const later = due + 10n * STALE_ESCROW_NS;
    expect(staleEscrows(w.store, later, 10, (id) => id === late).map((t) => t.id)).toEqual([lost[1]]);
    expect(staleEscrows(w.store, later).map((t) => t.id)).toEqual([late]);
    expect(w.store.open.snapshot().escrows).toHaveLength(2);
  });

  it('retries at most `max` per run, earliest first; an escrowing task stored before the index existed is due at once', () => {
    const w = world();
    const ids = Array.from({ length: 5 }, (_, i) => okOf(submitTask(w.store, 'r', NOW + BigInt(i), args(w.model, `k-${i}`))).task.id);
    const due = NOW + STALE_ESCROW_NS + 10n;
    expect(staleEscrows(w.store, due, 3).map((t) => t.id)).toEqual(ids.slice(0, 3));
    expect(staleEscrows(w.store, due, 3).map((t) => t.id)).toEqual(ids.slice(3));

    const legacy = w.store.open.get(ids[0] ?? '');
    if (legacy === undefined) throw new Error('no open task');
    const { escrowRetryAtNs: _dropped, ...old } = legacy;
    w.store.open.set(ids[0] ?? '', old);
    expect(staleEscrows(w.store, NOW).map((t) => t.id)).toEqual([ids[0]]);
  });

  it('drops a retried escrow only on a refusal the ledger gives after its deduplication (the first attempt never happened)', () => {
    for (const final of [
      { InsufficientFunds: { balance: 0n } },
      { InsufficientAllowance: { allowance: 0n } },
      { BadFee: { expected_fee: 1n } }
    ])
      expect(retryRefusalIsFinal(final)).toBe(true);
    for (const unknown of [
      { TooOld: null },
      { CreatedInFuture: { ledger_time: 0n } },
      { TemporarilyUnavailable: null },
      { GenericError: { error_code: 1n, message: 'busy' } }
    ])
      expect(retryRefusalIsFinal(unknown)).toBe(false);
  });
});
