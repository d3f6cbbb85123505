import { call, canisterSelf, performanceCounter, time } from 'azle';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils';

import type { ArgsOf } from '../../src/interface/candid.js';
import { ledgerMethods, type TransferFromResult, type TransferResult } from '../../src/interface/ledger/index.js';
import {
  describeLedgerError,
  duePayouts,
  judgeTransfer,
  planTransfer,
  recordVerdict,
  type PayAccount,
  type Payout,
  type TransferReply
} from '../../src/core/rewards/index.js';
import { escrowConfirmed, escrowFailed, tick, type Stores, type Task } from '../../src/core/tasks/index.js';
import { accountOut } from './task-views.js';

/** The registry's escrow account on the ledger: subaccount 0x01 followed by 31 zero bytes. */
export const ESCROW_SUBACCOUNT = Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0));
export const escrowAccount = (): PayAccount => ({ owner: canisterSelf().toText(), subaccount: bytesToHex(ESCROW_SUBACCOUNT) });

/** An escrow still `escrowing` after this long had its reply lost (a trap or an upgrade): it is retried. */
const STALE_ESCROW_NS = 120n * 1_000_000_000n;
/** Payouts attempted per maintenance pass (concurrently). */
const PAYOUTS_PER_TICK = 64;

const memoOf = (text: string): Uint8Array => utf8ToBytes(text).slice(0, 32);

/** Moves the reward from the requester into escrow; the same created_at_time and memo make a retry safe. */
function escrowTransfer(store: Stores, task: Task): Promise<TransferFromResult> {
  const ledger = store.taskConfig().ledger;
  if (ledger === undefined) throw new Error('no ledger configured');
  const method = ledgerMethods.icrc2_transfer_from;
  return call<ArgsOf<typeof method>, TransferFromResult>(ledger, 'icrc2_transfer_from', {
    paramIdlTypes: method.args,
    returnIdlType: method.ret,
    args: [
      {
        spender_subaccount: [],
        from: accountOut(task.refundTo),
        to: { owner: canisterSelf(), subaccount: [ESCROW_SUBACCOUNT] },
        amount: task.rewardE8s,
        fee: [],
        memo: [memoOf(task.id)],
        created_at_time: [task.createdAtNs]
      }
    ]
  });
}

/**
 * Escrows a just-submitted task. The task was stored before the call (state `escrowing`); this confirms it or, if
 * the ledger refused, removes it again. Returns the ledger's error for the caller.
 */
export async function escrow(store: Stores, task: Task): Promise<{ Ok: Task } | { Err: { operation: string; message: string } }> {
  let result: TransferFromResult;
  try {
    result = await escrowTransfer(store, task);
  } catch (error) {
    escrowFailed(store, task.id);
    return { Err: { operation: 'icrc2_transfer_from', message: error instanceof Error ? error.message : String(error) } };
  }
  if ('Ok' in result) return { Ok: escrowConfirmed(store, task.id, result.Ok) ?? task };
  if ('Duplicate' in result.Err) return { Ok: escrowConfirmed(store, task.id, result.Err.Duplicate.duplicate_of) ?? task };
  escrowFailed(store, task.id);
  return { Err: { operation: 'icrc2_transfer_from', message: describeLedgerError(result.Err) } };
}

const inFlight = new Set<string>();

/**
 * Pays what is owed, each payout exactly once: `Duplicate` from the ledger means an earlier attempt went through.
 * The calls of one pass run concurrently; each payout is independent and guarded against a second attempt in flight.
 */
export async function processPayouts(store: Stores): Promise<void> {
  const config = store.taskConfig();
  if (config.ledger === undefined) return;
  const batch = duePayouts(store, PAYOUTS_PER_TICK).filter((p) => !inFlight.has(p.id));
  await Promise.all(batch.map((payout) => pay(store, config.ledger as string, payout)));
}

/** One attempt at a payout; what the reply means (paid, retry, stuck) is the policy's (src/core/rewards/payout-policy.ts). */
async function pay(store: Stores, ledger: string, payout: Payout): Promise<void> {
  inFlight.add(payout.id);
  try {
    const plan = planTransfer(payout, store.taskConfig().ledgerFeeE8s);
    if (plan.kind === 'stuck') {
      recordVerdict(store, payout.id, plan);
      return;
    }
    let reply: TransferReply;
    try {
      const method = ledgerMethods.icrc1_transfer;
      reply = await call<ArgsOf<typeof method>, TransferResult>(ledger, 'icrc1_transfer', {
        paramIdlTypes: method.args,
        returnIdlType: method.ret,
        args: [
          {
            from_subaccount: plan.fromEscrow ? [ESCROW_SUBACCOUNT] : [],
            to: accountOut(payout.to),
            amount: plan.amountE8s,
            fee: plan.feeE8s === undefined ? [] : [plan.feeE8s],
            memo: [memoOf(payout.memo)],
            created_at_time: [payout.createdAtNs]
          }
        ]
      });
    } catch (error) {
      // The ledger is stopped, slow or unreachable: the policy keeps the payout for the next pass.
      reply = { Thrown: error };
    }
    recordVerdict(store, payout.id, judgeTransfer(reply));
  } finally {
    inFlight.delete(payout.id);
  }
}

/** Escrows whose reply never came back (the callback trapped, or an upgrade came between) are retried. */
async function retryStaleEscrows(store: Stores, now: bigint): Promise<void> {
  const stale: Task[] = [];
  for (const [id, open] of store.open.entries()) {
    if (open.state !== 'escrowing' || inFlight.has(id)) continue;
    const task = store.tasks.get(id);
    if (task !== undefined && task.createdAtNs + STALE_ESCROW_NS <= now) stale.push(task);
    if (stale.length >= PAYOUTS_PER_TICK) break;
  }
  for (const task of stale) {
    inFlight.add(task.id);
    try {
      await escrow(store, task);
    } finally {
      inFlight.delete(task.id);
    }
  }
}

/**
 * Instructions one maintenance pass may spend on time-driven transitions (an update may spend 40B): the tick stops
 * there and the next pass resumes from the wake-up index's head, so payouts and escrow retries always get their turn.
 */
export const TICK_BUDGET = 2_000_000_000n;

/** One maintenance pass: time-driven transitions (within TICK_BUDGET), then payouts and stale escrows. */
export async function maintain(store: Stores): Promise<void> {
  tick(store, time(), () => performanceCounter(1) > TICK_BUDGET);
  await processPayouts(store);
  await retryStaleEscrows(store, time());
}
