import { describe, expect, it } from 'vitest';

import {
  judgeTransfer,
  planTransfer,
  recordVerdict,
  MAX_PAYOUT_ERROR_LENGTH,
  type Payout,
  type PayoutVerdict,
  type TransferError
} from '../../../src/core/rewards/index.ts';
import { defaultTaskConfig, memoryTaskStore } from '../../../src/core/tasks/index.ts';
import { principalToText } from '../../../src/core/principal-text.ts';

const FEE = 10_000n;
const OPERATOR = principalToText(Uint8Array.of(0x0f, 0x01));
const payout = (over: Partial<Payout> = {}): Payout => ({
  id: 'task-000000000001/runner/r1',
  kind: 'runner',
  taskId: 'task-000000000001',
  to: { owner: OPERATOR },
  amountE8s: 1_000_000n,
  memo: 'task-000000000001',
  createdAtNs: 5n,
  attempts: 0,
  ...over
});
const judgeErr = (e: TransferError): PayoutVerdict => judgeTransfer({ Err: e });

describe('planTransfer', () => {
  it('pays a runner, treasury or refund payout out of escrow, net of the ledger fee, naming the fee', () => {
    for (const kind of ['runner', 'treasury', 'refund'] as const)
      expect(planTransfer(payout({ kind }), FEE)).toEqual({ kind: 'transfer', fromEscrow: true, amountE8s: 990_000n, feeE8s: FEE });
  });

  it('mints emission whole, from the minting account, without a fee', () => {
    expect(planTransfer(payout({ kind: 'emission', amountE8s: 5n }), FEE)).toEqual({ kind: 'transfer', fromEscrow: false, amountE8s: 5n });
  });

  it('is stuck, without a call, when the amount does not exceed the fee', () => {
    expect(planTransfer(payout({ amountE8s: FEE }), FEE)).toEqual({
      kind: 'stuck',
      error: 'amount 10000 does not cover the ledger fee 10000'
    });
    expect(planTransfer(payout({ amountE8s: FEE + 1n }), FEE)).toMatchObject({ kind: 'transfer', amountE8s: 1n });
  });
});

describe('judgeTransfer', () => {
  it('Ok: paid, at that block', () => {
    expect(judgeTransfer({ Ok: 42n })).toEqual({ kind: 'paid', block: 42n });
  });

  it('Duplicate: paid, by the earlier transfer (never a second payment)', () => {
    expect(judgeErr({ Duplicate: { duplicate_of: 7n } })).toEqual({ kind: 'paid', block: 7n });
  });

  it('TooOld: stuck, since a retry could pay twice', () => {
    expect(judgeErr({ TooOld: null })).toEqual({ kind: 'stuck', error: 'TooOld: the ledger cannot deduplicate this transfer any more' });
  });

  it('BadFee: retry, learning the fee the ledger expects', () => {
    expect(judgeErr({ BadFee: { expected_fee: 20_000n } })).toEqual({
      kind: 'retry',
      error: 'BadFee: {"BadFee":{"expected_fee":"20000"}}',
      ledgerFeeE8s: 20_000n
    });
  });

  it.each<[string, TransferError, string]>([
    ['InsufficientFunds', { InsufficientFunds: { balance: 3n } }, 'InsufficientFunds: {"InsufficientFunds":{"balance":"3"}}'],
    ['TemporarilyUnavailable', { TemporarilyUnavailable: null }, 'TemporarilyUnavailable: {"TemporarilyUnavailable":null}'],
    ['CreatedInFuture', { CreatedInFuture: { ledger_time: 9n } }, 'CreatedInFuture: {"CreatedInFuture":{"ledger_time":"9"}}'],
    [
      'GenericError',
      { GenericError: { error_code: 1n, message: 'busy' } },
      'GenericError: {"GenericError":{"error_code":"1","message":"busy"}}'
    ],
    ['BadBurn', { BadBurn: { min_burn_amount: 2n } }, 'BadBurn: {"BadBurn":{"min_burn_amount":"2"}}']
  ])('%s: retry, with the error described', (_name, error, text) => {
    expect(judgeErr(error)).toEqual({ kind: 'retry', error: text });
  });

  it('a thrown or rejected call: retry, with its message', () => {
    expect(judgeTransfer({ Thrown: new Error('IC0508: canister is stopped') })).toEqual({
      kind: 'retry',
      error: 'IC0508: canister is stopped'
    });
    expect(judgeTransfer({ Thrown: 'rejected' })).toEqual({ kind: 'retry', error: 'rejected' });
  });
});

describe('recordVerdict', () => {
  const setup = () => {
    const store = memoryTaskStore();
    store.payouts.set(payout().id, payout());
    return store;
  };

  it('paid removes the payout from the outbox', () => {
    const store = setup();
    recordVerdict(store, payout().id, { kind: 'paid', block: 1n });
    expect(store.payouts.has(payout().id)).toBe(false);
  });

  it('stuck keeps it, marked (the attempt was counted when it began)', () => {
    const store = setup();
    recordVerdict(store, payout().id, { kind: 'stuck', error: 'TooOld' });
    expect(store.payouts.get(payout().id)).toEqual({ ...payout(), stuck: true, lastError: 'TooOld' });
  });

  it('retry keeps it, with the error bounded (the attempt was counted and backed off when it began)', () => {
    const store = setup();
    recordVerdict(store, payout().id, { kind: 'retry', error: 'x'.repeat(MAX_PAYOUT_ERROR_LENGTH + 10) });
    expect(store.payouts.get(payout().id)).toEqual({ ...payout(), lastError: 'x'.repeat(MAX_PAYOUT_ERROR_LENGTH) });
    expect(store.taskConfig()).toEqual(defaultTaskConfig());
  });

  it('a BadFee retry learns the new ledger fee and keeps the other settings', () => {
    const store = setup();
    recordVerdict(store, payout().id, judgeTransfer({ Err: { BadFee: { expected_fee: 20_000n } } }), 99n);
    expect(store.taskConfig()).toEqual({ ...defaultTaskConfig(), ledgerFeeE8s: 20_000n });
    // Due again at once, to pay under the learned fee.
    expect(store.payouts.get(payout().id)?.nextAttemptNs).toBe(99n);
    expect(planTransfer(payout(), store.taskConfig().ledgerFeeE8s)).toMatchObject({ amountE8s: 980_000n, feeE8s: 20_000n });
  });

  it('ignores a payout no longer in the outbox', () => {
    const store = memoryTaskStore();
    recordVerdict(store, 'gone', { kind: 'retry', error: 'late' });
    expect(store.payouts.has('gone')).toBe(false);
  });
});
