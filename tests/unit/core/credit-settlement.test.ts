import { Ed25519KeyIdentity } from '@dfinity/identity';
import { Secp256k1KeyIdentity } from '@dfinity/identity-secp256k1';
import { describe, expect, it } from 'vitest';

import {
  beginDeposit,
  closeCreditLine,
  CREDIT_SUBACCOUNT,
  depositResolved,
  depositUnknown,
  finalizeCreditLine,
  finalizeDueLines,
  findLine,
  listLines,
  memoryCreditStore,
  payDueBalances,
  receiptSigningBytes,
  reserveCredit,
  setCreditConfig,
  settleReceipt,
  settleUsage,
  staleDeposits,
  TREASURY_OWNER,
  withdrawAccrued,
  withdrawCredit,
  DEPOSIT_RETRY_NS,
  MAX_RECENT_DEPOSITS,
  MAX_SETTLE_ITEMS,
  MIN_PAID_REQUEST_E8S,
  RECEIPT_COOLDOWN_NS,
  type CreditStores,
  type Receipt,
  type SignedReceipt,
  type UsageSettlement
} from '../../../src/core/credit/index.js';
import type { KeyValue } from '../../../src/core/kv.js';
import { principalToText } from '../../../src/core/principal-text.js';
import { makeConfig, memoryStore, type Result, type StoredRunner } from '../../../src/core/registry/index.js';
import { memoryTaskStore } from '../../../src/core/tasks/index.js';
import { epochCredits } from '../../../src/core/rewards/index.js';

const SECOND = 1_000_000_000n;
const NOW = 1_800_000_000n * SECOND;
const ADMIN = 'admin';
const ANON = '2vxsx-fae';
const TREASURY = { owner: principalToText(Uint8Array.of(0x0e, 0x01)) };
const RUNNER = Ed25519KeyIdentity.generate();
const RUNNER_ID = RUNNER.getPrincipal().toText();
const OTHER_RUNNER_ID = principalToText(Uint8Array.of(0x0f, 0x02));
const FEE_BPS = 500;

function okOf<T>(result: Result<T>): T {
  if ('Err' in result) throw new Error(`expected Ok, got ${JSON.stringify(result.Err, (_k, v: unknown) => String(v))}`);
  return result.Ok;
}
const errOf = (result: Result<unknown>): string => ('Err' in result ? Object.keys(result.Err)[0]! : 'Ok');

function store(options: { treasury?: boolean } = {}): CreditStores {
  const s: CreditStores = { ...memoryStore(okOf(makeConfig({ admins: [ADMIN] }))), ...memoryTaskStore(), ...memoryCreditStore() };
  s.setTaskConfig({
    ...s.taskConfig(),
    ledger: 'ledger',
    ledgerFeeE8s: 10_000n,
    protocolFeeBps: FEE_BPS,
    treasury: options.treasury === false ? undefined : TREASURY,
    emissionPerEpochE8s: 1_000_000_000n
  });
  for (const id of [RUNNER_ID, OTHER_RUNNER_ID]) s.runners.set(id, { id, manifest: { operator: id } } as unknown as StoredRunner);
  return s;
}

/** A payer with `amount` of free credit, deposited through the two steps the canister takes. */
function funded(s: CreditStores, amount = 10_000_000n, payer = Ed25519KeyIdentity.generate()) {
  const id = payer.getPrincipal().toText();
  const started = okOf(beginDeposit(s, id, NOW, amount));
  if (!('call' in started)) throw new Error('expected a call');
  depositResolved(s, id, started.call.createdAtNs, true);
  return { identity: payer, id };
}

const usage = (lineId: bigint, seq: bigint, owedE8s: bigint, requests = seq): UsageSettlement => ({
  lineId,
  seq,
  owedE8s,
  inputTokens: 10n * seq,
  outputTokens: 5n * seq,
  requests
});

const account = (s: CreditStores, owner: string) => s.creditAccounts.get(owner)!;

async function signed(identity: Ed25519KeyIdentity | Secp256k1KeyIdentity, receipt: Receipt): Promise<SignedReceipt> {
  return {
    receipt,
    publicKey: new Uint8Array(identity.getPublicKey().toDer()),
    signature: new Uint8Array(await identity.sign(receiptSigningBytes(receipt)))
  };
}

const receiptOf = (payer: string, u: UsageSettlement, runner = RUNNER_ID): Receipt => ({ ...u, payer, runner });

/** A KeyValue whose walk reads the live sorted keys, as the canister's CachedKeyValue does (MemoryKeyValue copies them). */
class LiveKeyValue<V> implements KeyValue<V> {
  private readonly map = new Map<string, V>();
  private keys: string[] = [];
  get = (key: string) => this.map.get(key);
  has = (key: string) => this.map.has(key);
  size = () => this.map.size;
  set(key: string, value: V): void {
    if (!this.map.has(key)) this.keys = [...this.keys, key].sort();
    this.map.set(key, value);
  }
  delete(key: string): void {
    this.map.delete(key);
    const at = this.keys.indexOf(key);
    if (at >= 0) this.keys.splice(at, 1);
  }
  *entries(afterKey?: string): Iterable<[string, V]> {
    for (let i = 0; i < this.keys.length; i++) {
      const key = this.keys[i]!;
      if (afterKey !== undefined && key <= afterKey) continue;
      yield [key, this.map.get(key)!];
    }
  }
}

describe('credit deposits (core)', () => {
  it('credits a deposit once: racing replies, retried calls and a lost reply resolved by maintenance', () => {
    const s = store();
    const payer = 'aaaaa-aa';
    const started = okOf(beginDeposit(s, payer, NOW, 500n, NOW - 5n));
    expect(started).toEqual({ call: { createdAtNs: NOW - 5n, amountE8s: 500n, state: 'pending' } });
    // The same deposit asked again while in flight is refused, never sent twice at once.
    expect(errOf(beginDeposit(s, payer, NOW, 500n, NOW - 5n))).toBe('AlreadyExists');
    expect(errOf(beginDeposit(s, payer, NOW, 501n, NOW - 5n))).toBe('InvalidArgument');
    // Not stale yet; then stale unless its call is in flight.
    expect(staleDeposits(s, NOW, () => false)).toEqual([]);
    expect(staleDeposits(s, NOW + DEPOSIT_RETRY_NS, () => true)).toEqual([]);
    expect(staleDeposits(s, NOW + DEPOSIT_RETRY_NS, () => false)).toHaveLength(1);
    depositResolved(s, payer, NOW - 5n, true);
    depositResolved(s, payer, NOW - 5n, true); // the retry's Duplicate
    depositResolved(s, payer, NOW - 5n, false); // a late refusal cannot undo it
    expect(account(s, payer).freeE8s).toBe(500n);
    expect(staleDeposits(s, NOW + DEPOSIT_RETRY_NS, () => false)).toEqual([]);
    // A retried call of the credited deposit returns the account without a ledger call.
    expect(okOf(beginDeposit(s, payer, NOW, 500n, NOW - 5n))).toHaveProperty('done.freeE8s', 500n);
    expect(account(s, payer).freeE8s).toBe(500n);
  });

  it('a deposit the ledger can no longer tell about leaves the retry queue as unknown, and pinned entries cannot starve the rest', () => {
    // Attack (review finding 13): deposits answered TooOld stayed pending at the queue head and the retry pass asked
    // the ledger about the same 16 every tick; an honest lost deposit behind them was never retried.
    const s = store();
    const pinned = Array.from({ length: 20 }, (_, i) => `payer-${i}`);
    pinned.forEach((p, i) => okOf(beginDeposit(s, p, NOW, 500n, NOW - 23n * 3600n * SECOND + BigInt(i))));
    okOf(beginDeposit(s, 'honest', NOW, 500n, NOW - 5n));
    const later = NOW + DEPOSIT_RETRY_NS;
    const seen = new Set<string>();
    for (let pass = 0; pass < 2; pass++) for (const { payer } of staleDeposits(s, later, () => false)) seen.add(payer);
    expect(seen.has('honest')).toBe(true);
    // TooOld: unknown, out of the queue, never credited, and the same deposit asked again is refused.
    depositUnknown(s, pinned[0]!, NOW - 23n * 3600n * SECOND);
    expect(account(s, pinned[0]!)).toMatchObject({ freeE8s: 0n, deposits: [{ state: 'unknown' }] });
    expect(errOf(beginDeposit(s, pinned[0]!, NOW, 500n, NOW - 23n * 3600n * SECOND))).toBe('AlreadyExists');
    depositResolved(s, pinned[0]!, NOW - 23n * 3600n * SECOND, true);
    expect(account(s, pinned[0]!).freeE8s).toBe(0n);
    const remaining = new Set<string>();
    for (let pass = 0; pass < 3; pass++) for (const { payer } of staleDeposits(s, later, () => false)) remaining.add(payer);
    expect(remaining.has(pinned[0]!)).toBe(false);
    expect(remaining.size).toBe(20);
  });

  it('forgets a refused deposit and bounds every input', () => {
    const s = store();
    const payer = 'aaaaa-aa';
    okOf(beginDeposit(s, payer, NOW, 500n));
    depositResolved(s, payer, NOW, false);
    expect(account(s, payer)).toMatchObject({ freeE8s: 0n, deposits: [] });
    expect(errOf(beginDeposit(s, ANON, NOW, 500n))).toBe('AnonymousCaller');
    expect(errOf(beginDeposit(s, payer, NOW, 0n))).toBe('InvalidArgument');
    expect(errOf(beginDeposit(s, payer, NOW, 10n ** 30n))).toBe('InvalidArgument');
    expect(errOf(beginDeposit(s, payer, NOW, 5n, NOW + 3600n * SECOND))).toBe('InvalidArgument');
    expect(errOf(beginDeposit(s, payer, NOW, 5n, NOW - 24n * 3600n * SECOND))).toBe('InvalidArgument');
    for (let i = 0; i < MAX_RECENT_DEPOSITS; i++) okOf(beginDeposit(s, payer, NOW, 5n, NOW - BigInt(i)));
    expect(errOf(beginDeposit(s, payer, NOW, 5n, NOW - 100n))).toBe('LimitExceeded');
  });
});

describe('credit lines and settlement (core)', () => {
  it('reserves, settles batches with the fee on top, and replays or reorders move nothing', () => {
    const s = store();
    const { id: payer } = funded(s);
    const line = okOf(reserveCredit(s, payer, NOW, RUNNER_ID, 1_000_000n));
    expect(line).toMatchObject({ id: 1n, state: 'open', reservedE8s: 1_000_000n });
    expect(okOf(reserveCredit(s, payer, NOW, RUNNER_ID, 50_000n)).id).toBe(1n);
    expect(account(s, payer)).toMatchObject({ freeE8s: 8_950_000n, reservedE8s: 1_050_000n });
    const first = okOf(settleUsage(s, payer, NOW, [usage(1n, 3n, 100_000n)]));
    expect(okOf(first[0]!)).toMatchObject({ movedE8s: 100_000n, feeE8s: 5_000n });
    // Replayed, and an older receipt after a newer one: nothing moves.
    const again = okOf(settleUsage(s, payer, NOW, [usage(1n, 3n, 100_000n), usage(1n, 2n, 60_000n)]));
    expect(again.map((r) => okOf(r).movedE8s)).toEqual([0n, 0n]);
    const next = okOf(settleUsage(s, payer, NOW, [usage(1n, 5n, 100_001n)]));
    expect(okOf(next[0]!)).toMatchObject({ movedE8s: 1n, feeE8s: 1n });
    expect(account(s, RUNNER_ID).accruedE8s).toBe(100_001n);
    expect(account(s, TREASURY_OWNER).accruedE8s).toBe(5_001n);
    expect(account(s, payer).reservedE8s).toBe(1_050_000n - 100_001n - 5_001n);
    // The 3 requests that moved 100,000 count; the 2 more that moved 1 e8s do not.
    expect(s.reputation.get(RUNNER_ID)).toMatchObject({ completed: 3 });
    // The fees count for emission, credited to the pair.
    expect(epochCredits(s)).toEqual([[payer, RUNNER_ID, 5_001n]]);
  });

  it('never moves more than the line holds, and the rest stays owed until a top-up', () => {
    const s = store();
    const { id: payer } = funded(s);
    okOf(reserveCredit(s, payer, NOW, RUNNER_ID, 105_000n));
    const capped = okOf(okOf(settleUsage(s, payer, NOW, [usage(1n, 1n, 1_000_000n)]))[0]!);
    expect(capped.movedE8s + capped.feeE8s).toBeLessThanOrEqual(105_000n);
    expect(capped.movedE8s).toBe(100_000n);
    expect(okOf(okOf(settleUsage(s, payer, NOW, [usage(1n, 1n, 1_000_000n)]))[0]!).movedE8s).toBe(0n);
    okOf(reserveCredit(s, payer, NOW, RUNNER_ID, 2_000_000n));
    // The same receipt again, after the top-up: the owed rest moves, once.
    expect(okOf(okOf(settleUsage(s, payer, NOW, [usage(1n, 1n, 1_000_000n)]))[0]!).movedE8s).toBe(900_000n);
    expect(account(s, RUNNER_ID).accruedE8s).toBe(1_000_000n);
  });

  it('refuses a lower total under a newer sequence number, and isolates each item of a batch', () => {
    const s = store();
    const { id: payer } = funded(s);
    const { id: stranger } = funded(s);
    okOf(reserveCredit(s, payer, NOW, RUNNER_ID, 1_000_000n));
    okOf(reserveCredit(s, stranger, NOW, RUNNER_ID, 1_000_000n));
    okOf(settleUsage(s, payer, NOW, [usage(1n, 4n, 40_000n)]));
    const batch = okOf(
      settleUsage(s, payer, NOW, [
        usage(1n, 5n, 30_000n),
        usage(2n, 1n, 10_000n),
        usage(99n, 1n, 1n),
        usage(1n, 0n, 1n),
        { ...usage(1n, 9n, 1n), requests: 1n << 64n },
        usage(1n, 6n, 50_000n)
      ])
    );
    expect(batch.map(errOf)).toEqual(['OwedBelowSettled', 'Unauthorized', 'NotFound', 'InvalidArgument', 'InvalidArgument', 'Ok']);
    expect(okOf(batch[5]!).movedE8s).toBe(10_000n);
    expect(
      errOf(
        settleUsage(
          s,
          payer,
          NOW,
          Array.from({ length: MAX_SETTLE_ITEMS + 1 }, () => usage(1n, 1n, 1n))
        )
      )
    ).toBe('LimitExceeded');
    expect(errOf(settleUsage(s, ANON, NOW, []))).toBe('AnonymousCaller');
  });

  it("a payer that settles a huge sequence number with a small total cannot void the runner's signed receipt", async () => {
    const s = store();
    const { id: payer, identity } = funded(s);
    okOf(reserveCredit(s, payer, NOW, RUNNER_ID, 1_000_000n));
    const signedReceipt = await signed(identity, receiptOf(payer, usage(1n, 10n, 500_000n)));
    okOf(settleUsage(s, payer, NOW, [usage(1n, 1_000_000n, 1n)]));
    const settled = okOf(settleReceipt(s, RUNNER_ID, NOW, signedReceipt));
    expect(settled.movedE8s).toBe(499_999n);
    expect(account(s, RUNNER_ID).accruedE8s).toBe(500_000n);
  });

  it.each([
    ['ed25519', () => Ed25519KeyIdentity.generate()],
    ['secp256k1', () => Secp256k1KeyIdentity.generate()]
  ] as const)('the runner settles alone with a %s-signed receipt, within the reserve, exactly once', async (_kind, make) => {
    const s = store();
    const { id: payer, identity } = funded(s, 10_000_000n, make() as Ed25519KeyIdentity);
    okOf(reserveCredit(s, payer, NOW, RUNNER_ID, 210_000n));
    const good = await signed(identity, receiptOf(payer, usage(1n, 7n, 5_000_000n)));
    expect(errOf(settleReceipt(s, payer, NOW, good))).toBe('Unauthorized');
    expect(errOf(settleReceipt(s, ANON, NOW, good))).toBe('AnonymousCaller');
    const forged = { ...good, receipt: { ...good.receipt, owedE8s: 6_000_000n } };
    expect(settleReceipt(s, RUNNER_ID, NOW, forged)).toEqual({ Err: { InvalidReceipt: { reason: 'BadSignature' } } });
    // Each failed verification cools the line down before the next one is attempted.
    const later = NOW + RECEIPT_COOLDOWN_NS;
    const byStranger = await signed(Ed25519KeyIdentity.generate(), good.receipt);
    expect(settleReceipt(s, RUNNER_ID, later, byStranger)).toEqual({ Err: { InvalidReceipt: { reason: 'KeyNotPayer' } } });
    expect(errOf(settleReceipt(s, RUNNER_ID, later, { ...good, signature: new Uint8Array(3) }))).toBe('InvalidReceipt');
    expect(errOf(settleReceipt(s, RUNNER_ID, later, good))).toBe('ReceiptCooldown');
    const settled = okOf(settleReceipt(s, RUNNER_ID, later + RECEIPT_COOLDOWN_NS, good));
    expect(settled.movedE8s + settled.feeE8s).toBeLessThanOrEqual(210_000n);
    expect(settled.movedE8s).toBe(200_000n);
    expect(okOf(settleReceipt(s, RUNNER_ID, later + RECEIPT_COOLDOWN_NS, good)).movedE8s).toBe(0n);
    expect(account(s, RUNNER_ID).accruedE8s).toBe(200_000n);
    expect(account(s, payer).reservedE8s).toBe(0n);
    // A receipt of another line (or naming another runner) is not this line's.
    const elsewhere = await signed(identity, receiptOf(payer, usage(1n, 8n, 6_000_000n), OTHER_RUNNER_ID));
    expect(errOf(settleReceipt(s, RUNNER_ID, NOW, elsewhere))).toBe('InvalidReceipt');
    expect(errOf(settleReceipt(s, RUNNER_ID, NOW, { ...good, receipt: { ...good.receipt, lineId: 42n } }))).toBe('NotFound');
  });

  it('verifies a receipt only when it would move money, and cools a line down after a failed verification', async () => {
    // Attack (review finding 4): a runner sending junk-signed receipts made the registry verify each, ~4.4B
    // instructions a call, for free and without end.
    const s = store();
    const { id: payer, identity } = funded(s);
    okOf(reserveCredit(s, payer, NOW, RUNNER_ID, 105_000n));
    const junk = (u: UsageSettlement): SignedReceipt => ({
      receipt: receiptOf(payer, u),
      publicKey: new Uint8Array(identity.getPublicKey().toDer()),
      signature: new Uint8Array(64)
    });
    // Nothing would move (owed not above settled): answered unchanged, unverified, nothing recorded.
    const idle = okOf(settleReceipt(s, RUNNER_ID, NOW, junk(usage(1n, 9n, 0n, 500n))));
    expect(idle).toMatchObject({ movedE8s: 0n, line: { settledSeq: 0n, requests: 0n } });
    expect(s.reputation.get(RUNNER_ID)).toBeUndefined();
    // Would move: verified once, then the line cools down until the cooldown ends, whatever is sent.
    expect(settleReceipt(s, RUNNER_ID, NOW, junk(usage(1n, 9n, 50n)))).toEqual({ Err: { InvalidReceipt: { reason: 'BadSignature' } } });
    const cooling = { ReceiptCooldown: { line: 1n, until_ns: NOW + RECEIPT_COOLDOWN_NS } };
    expect(settleReceipt(s, RUNNER_ID, NOW, junk(usage(1n, 9n, 50n)))).toEqual({ Err: cooling });
    const good = await signed(identity, receiptOf(payer, usage(1n, 9n, 50n)));
    expect(settleReceipt(s, RUNNER_ID, NOW + RECEIPT_COOLDOWN_NS - 1n, good)).toEqual({ Err: cooling });
    expect(okOf(settleReceipt(s, RUNNER_ID, NOW + RECEIPT_COOLDOWN_NS, good)).movedE8s).toBe(50n);
    // A drained line can move nothing more: a higher receipt is not verified either.
    okOf(settleUsage(s, payer, NOW, [usage(1n, 10n, 100_000n)]));
    expect(okOf(settleReceipt(s, RUNNER_ID, NOW + RECEIPT_COOLDOWN_NS, junk(usage(1n, 11n, 200_000n)))).movedE8s).toBe(0n);
  });

  it('closes with a dispute window during which the runner still settles; finalize returns the rest', async () => {
    const s = store({ treasury: false });
    okOf(setCreditConfig(s, ADMIN, { disputeWindowSeconds: 60n }));
    expect(errOf(setCreditConfig(s, 'nobody', { disputeWindowSeconds: 1n }))).toBe('Unauthorized');
    expect(errOf(setCreditConfig(s, ADMIN, { disputeWindowSeconds: 10n ** 12n }))).toBe('InvalidArgument');
    const { id: payer, identity } = funded(s, 1_000_000n);
    okOf(reserveCredit(s, payer, NOW, RUNNER_ID, 600_000n));
    expect(errOf(closeCreditLine(s, RUNNER_ID, NOW, 1n))).toBe('Unauthorized');
    const closing = okOf(closeCreditLine(s, payer, NOW, 1n));
    expect(closing).toMatchObject({ state: 'closing', closingUntilNs: NOW + 60n * SECOND });
    expect(errOf(reserveCredit(s, payer, NOW, RUNNER_ID, 1n))).toBe('CreditLineNotOpen');
    expect(errOf(finalizeCreditLine(s, payer, NOW + 59n * SECOND, 1n))).toBe('DisputeWindowOpen');
    const receipt = await signed(identity, receiptOf(payer, usage(1n, 3n, 100_000n)));
    expect(okOf(settleReceipt(s, RUNNER_ID, NOW + 59n * SECOND, receipt)).movedE8s).toBe(100_000n);
    const late = await signed(identity, receiptOf(payer, usage(1n, 4n, 200_000n)));
    expect(errOf(settleReceipt(s, RUNNER_ID, NOW + 60n * SECOND, late))).toBe('CreditLineNotOpen');
    expect(finalizeDueLines(s, NOW + 59n * SECOND)).toBe(0);
    expect(finalizeDueLines(s, NOW + 60n * SECOND)).toBe(1);
    expect(okOf(finalizeCreditLine(s, RUNNER_ID, NOW + 61n * SECOND, 1n)).state).toBe('closed');
    expect(errOf(finalizeCreditLine(s, 'nobody', NOW + 61n * SECOND, 1n))).toBe('Unauthorized');
    expect(account(s, payer)).toMatchObject({ freeE8s: 900_000n, reservedE8s: 0n });
    expect(findLine(s, payer, RUNNER_ID)).toBeUndefined();
    // A new line toward the same runner gets a new id; the old receipt cannot reach it.
    expect(reserveCredit(s, payer, NOW, RUNNER_ID, 99_999n)).toEqual({
      Err: { ReserveBelowMinimum: { minimum_e8s: 100_000n, amount_e8s: 99_999n } }
    });
    expect(okOf(reserveCredit(s, payer, NOW, RUNNER_ID, 100_000n)).id).toBe(2n);
    okOf(reserveCredit(s, payer, NOW, RUNNER_ID, 1n)); // a top-up of an open line may be smaller
    expect(errOf(settleReceipt(s, RUNNER_ID, NOW + 61n * SECOND, late))).toBe('CreditLineNotOpen');
    expect(errOf(closeCreditLine(s, payer, NOW, 5n))).toBe('NotFound');
    expect(errOf(finalizeCreditLine(s, payer, NOW, 2n))).toBe('CreditLineNotOpen');
    for (const anonymous of [closeCreditLine(s, ANON, NOW, 2n), finalizeCreditLine(s, ANON, NOW, 2n), withdrawAccrued(s, ANON, NOW)])
      expect(errOf(anonymous)).toBe('AnonymousCaller');
  });

  it('finalizes every due line of a pass, however many are due at once (the walk survives its own deletions)', () => {
    // The canister's queue walks its live sorted keys (CachedKeyValue), so a deletion under the walk would skip a key.
    const s: CreditStores = { ...store(), creditQueue: new LiveKeyValue<string>() };
    okOf(setCreditConfig(s, ADMIN, { disputeWindowSeconds: 1n, minReserveE8s: 1n }));
    const payers = Array.from({ length: 5 }, () => funded(s, 1_000n).id);
    payers.forEach((p, i) => {
      okOf(reserveCredit(s, p, NOW, RUNNER_ID, 100n));
      okOf(closeCreditLine(s, p, NOW, BigInt(i + 1)));
    });
    expect(finalizeDueLines(s, NOW + SECOND, 5)).toBe(5);
    expect(payers.map((p) => account(s, p).freeE8s)).toEqual(payers.map(() => 1_000n));
    expect(s.creditQueue.size()).toBe(0);
  });

  it('attack: churning unused lines (reserve, close, finalize, reopen) leaves no state; used lines keep a compact record (finding 14)', () => {
    const s = store();
    okOf(setCreditConfig(s, ADMIN, { disputeWindowSeconds: 1n }));
    const { id: payer } = funded(s, 1_000_000n);
    const sizes = () => [s.creditLines.size(), s.creditIndex.size()];
    okOf(reserveCredit(s, payer, NOW, OTHER_RUNNER_ID, 100_000n)); // a line kept open throughout
    const before = sizes();
    for (let i = 0; i < 20; i++) {
      const line = okOf(reserveCredit(s, payer, NOW, RUNNER_ID, 100_000n));
      okOf(closeCreditLine(s, payer, NOW, line.id));
      expect(okOf(finalizeCreditLine(s, payer, NOW + SECOND, line.id)).state).toBe('closed');
      expect(errOf(finalizeCreditLine(s, payer, NOW + SECOND, line.id))).toBe('NotFound');
    }
    expect(sizes()).toEqual(before);
    expect(account(s, payer)).toMatchObject({ freeE8s: 900_000n, reservedE8s: 100_000n, linesAsPayer: 1 });
    expect(okOf(listLines(s, 'payer', payer, {})).items.map((l) => l.runner)).toEqual([OTHER_RUNNER_ID]);
    // A line that moved credit stays listed, closed, without its window or cooldown.
    const used = okOf(reserveCredit(s, payer, NOW, RUNNER_ID, 200_000n));
    okOf(settleUsage(s, payer, NOW, [usage(used.id, 1n, 100_000n)]));
    okOf(closeCreditLine(s, payer, NOW, used.id));
    expect(finalizeDueLines(s, NOW + SECOND)).toBe(1);
    const kept = s.creditLines.get(String(used.id).padStart(20, '0'))!;
    expect(kept).toMatchObject({ state: 'closed', settledE8s: 100_000n });
    expect('closingUntilNs' in kept).toBe(false);
    expect(okOf(listLines(s, 'payer', payer, {})).items.map((l) => l.id)).toEqual([1n, used.id]);
  });

  it('refuses reserves it cannot hold, and lists each party’s lines page by page', () => {
    const s = store();
    okOf(setCreditConfig(s, ADMIN, { minReserveE8s: 1n }));
    expect(errOf(setCreditConfig(s, ADMIN, { minReserveE8s: 0n }))).toBe('InvalidArgument');
    const { id: payer } = funded(s, 100n);
    expect(errOf(reserveCredit(s, payer, NOW, RUNNER_ID, 101n))).toBe('InsufficientCredit');
    expect(errOf(reserveCredit(s, payer, NOW, 'unknown-runner', 1n))).toBe('NotFound');
    expect(errOf(reserveCredit(s, payer, NOW, payer, 1n))).toBe('InvalidArgument');
    expect(errOf(reserveCredit(s, payer, NOW, RUNNER_ID, 0n))).toBe('InvalidArgument');
    expect(errOf(reserveCredit(s, ANON, NOW, RUNNER_ID, 1n))).toBe('AnonymousCaller');
    okOf(reserveCredit(s, payer, NOW, RUNNER_ID, 10n));
    okOf(reserveCredit(s, payer, NOW, OTHER_RUNNER_ID, 10n));
    const first = okOf(listLines(s, 'payer', payer, { limit: 1 }));
    expect(first.items.map((l) => l.runner)).toEqual([RUNNER_ID]);
    const second = okOf(listLines(s, 'payer', payer, { limit: 1, after: first.next }));
    expect(second).toMatchObject({ items: [{ runner: OTHER_RUNNER_ID }] });
    expect(second.next).toBeUndefined();
    expect(okOf(listLines(s, 'runner', RUNNER_ID, {})).items.map((l) => l.payer)).toEqual([payer]);
    expect(errOf(listLines(s, 'runner', RUNNER_ID, { after: 'x' }))).toBe('InvalidArgument');
    expect(errOf(listLines(s, 'runner', RUNNER_ID, { limit: 1000 }))).toBe('InvalidArgument');
  });
});

describe('credit withdrawals and payouts (core)', () => {
  it('pays free credit back and accrued balances out from the credit subaccount, through the outbox', () => {
    const s = store();
    okOf(setCreditConfig(s, ADMIN, { autoPayoutThresholdE8s: 1_000_000n }));
    const { id: payer } = funded(s, 5_000_000n);
    okOf(reserveCredit(s, payer, NOW, RUNNER_ID, 3_000_000n));
    expect(errOf(withdrawCredit(s, payer, NOW, 2_000_001n))).toBe('InsufficientCredit');
    expect(errOf(withdrawCredit(s, payer, NOW, 10_000n))).toBe('InvalidArgument');
    expect(errOf(withdrawCredit(s, ANON, NOW, 20_000n))).toBe('AnonymousCaller');
    const out = okOf(withdrawCredit(s, payer, NOW, 1_000_000n));
    expect(out.payoutId).toBe(`credit/${payer}/w/1`);
    expect(s.payouts.get(out.payoutId)).toMatchObject({
      kind: 'refund',
      to: { owner: payer },
      amountE8s: 1_000_000n,
      fromSubaccount: CREDIT_SUBACCOUNT
    });
    expect(errOf(withdrawAccrued(s, RUNNER_ID, NOW))).toBe('InsufficientCredit');
    okOf(settleUsage(s, payer, NOW, [usage(1n, 1n, 400_000n)]));
    expect(payDueBalances(s, NOW)).toBe(0);
    const paid = okOf(withdrawAccrued(s, RUNNER_ID, NOW));
    expect(s.payouts.get(paid.payoutId)).toMatchObject({ kind: 'runner', to: { owner: RUNNER_ID }, amountE8s: 400_000n });
    expect(account(s, RUNNER_ID).accruedE8s).toBe(0n);
    // Above the threshold, the timer pays the balance (the runner's and the fees' to the treasury) without a call.
    okOf(settleUsage(s, payer, NOW, [usage(1n, 2n, 1_500_000n)]));
    expect(payDueBalances(s, NOW)).toBe(1);
    expect(account(s, RUNNER_ID).accruedE8s).toBe(0n);
    expect(s.payouts.get(`credit/${RUNNER_ID}/w/2`)).toMatchObject({ amountE8s: 1_100_000n });
    expect(payDueBalances(s, NOW)).toBe(0);
  });

  it('counts requests as completed only as far as what moved paid, in votes as far as their fees paid, never for self-dealing', () => {
    const s = store();
    const { id: payer } = funded(s, 5_000_000n);
    okOf(reserveCredit(s, payer, NOW, RUNNER_ID, 3_000_000n));
    // Attack (review finding 7): 256 items claiming 1,000,000 requests each on a 1 e8s line inflated `completed` by
    // 256,000,000 for free. Requests count only as far as what moved paid MIN_PAID_REQUEST_E8S each.
    okOf(settleUsage(s, payer, NOW, [usage(1n, 1n, 10n, 1_000n)]));
    expect(s.reputation.get(RUNNER_ID)?.completed ?? 0).toBe(0);
    okOf(settleUsage(s, payer, NOW, [usage(1n, 2n, 10n + 3n * MIN_PAID_REQUEST_E8S, 1_000_000n)]));
    expect(s.reputation.get(RUNNER_ID)).toMatchObject({ completed: 3, independentAccepted: 0 });
    okOf(settleUsage(s, payer, NOW, [usage(1n, 3n, 1_000_010n + 3n * MIN_PAID_REQUEST_E8S, 1_000_001n)]));
    expect(s.reputation.get(RUNNER_ID)).toMatchObject({ completed: 4, independentAccepted: 1 });
    // The runner's own identity paying itself earns no emission and no vote weight.
    const selfish = store();
    const self = funded(selfish, 5_000_000n, RUNNER);
    selfish.runners.set(OTHER_RUNNER_ID, {
      id: OTHER_RUNNER_ID,
      manifest: { operator: self.id },
      operatorAcceptedAtNs: 1n
    } as unknown as StoredRunner);
    okOf(reserveCredit(selfish, self.id, NOW, OTHER_RUNNER_ID, 3_000_000n));
    okOf(settleUsage(selfish, self.id, NOW, [usage(1n, 1n, 2_000_000n, 5n)]));
    expect(epochCredits(selfish)).toEqual([]);
    expect(selfish.reputation.get(OTHER_RUNNER_ID)?.completed ?? 0).toBe(0);
    expect(selfish.reputation.get(OTHER_RUNNER_ID)?.independentAccepted ?? 0).toBe(0);
  });
});
