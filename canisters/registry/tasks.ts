import { call, canisterSelf, performanceCounter, time } from 'azle';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils';

import type { ArgsOf } from '../../src/interface/candid.js';
import { ledgerMethods, type TransferFromResult, type TransferResult } from '../../src/interface/ledger/index.js';
import {
  beginAttempt,
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
  if ('Ok' in result) return { Ok: escrowConfirmed(store, task.id, result.Ok, time()) ?? task };
  if ('Duplicate' in result.Err) return { Ok: escrowConfirmed(store, task.id, result.Err.Duplicate.duplicate_of, time()) ?? task };
  escrowFailed(store, task.id);
  return { Err: { operation: 'icrc2_transfer_from', message: describeLedgerError(result.Err) } };
}

const inFlight = new Set<string>();

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * Pays what is due, each payout exactly once (`Duplicate` from the ledger means an earlier attempt went through) and
 * each independently (src/core/rewards/payout-schedule.ts): the pass reads only due payouts, each attempt is counted
 * and backed off before its call, and nothing here throws. So the tick's transitions and every attempt's bookkeeping
 * commit with this message when the calls go out; a reply callback that traps rolls back only its own payout's
 * verdict, and the payout, already backed off, is tried again later and ends stuck if it never succeeds.
 */
export async function processPayouts(store: Stores): Promise<void> {
  const config = store.taskConfig();
  const ledger = config.ledger;
  if (ledger === undefined) return;
  const now = time();
  let batch: Payout[];
  try {
    batch = duePayouts(store, now, PAYOUTS_PER_TICK).filter((p) => !inFlight.has(p.id));
  } catch (error) {
    // A broken outbox must not take the tick (already applied in this message) down with it.
    console.log(`payouts: cannot read the due index: ${messageOf(error)}`);
    return;
  }
  await Promise.allSettled(batch.map((payout) => pay(store, ledger, payout, now)));
}

/** One attempt at a payout; what the reply means (paid, retry, stuck) is the policy's (src/core/rewards/payout-policy.ts). */
async function pay(store: Stores, ledger: string, payout: Payout, now: bigint): Promise<void> {
  let args: ArgsOf<typeof ledgerMethods.icrc1_transfer>;
  try {
    const plan = planTransfer(payout, store.taskConfig().ledgerFeeE8s, canisterSelf().toText());
    if (plan.kind === 'stuck') return recordVerdict(store, payout.id, plan);
    if (!beginAttempt(store, payout.id, now)) return;
    args = [
      {
        from_subaccount: plan.fromEscrow ? [ESCROW_SUBACCOUNT] : [],
        to: accountOut(payout.to),
        amount: plan.amountE8s,
        fee: plan.feeE8s === undefined ? [] : [plan.feeE8s],
        memo: [memoOf(payout.memo)],
        created_at_time: [payout.createdAtNs]
      }
    ];
  } catch (error) {
    // The transfer cannot even be written down (an account the policy let through but the encoder refuses).
    return safely(() => recordVerdict(store, payout.id, { kind: 'stuck', error: `cannot be paid: ${messageOf(error)}` }));
  }
  inFlight.add(payout.id);
  let reply: TransferReply;
  try {
    const method = ledgerMethods.icrc1_transfer;
    reply = await call<ArgsOf<typeof method>, TransferResult>(ledger, 'icrc1_transfer', {
      paramIdlTypes: method.args,
      returnIdlType: method.ret,
      args
    });
  } catch (error) {
    // The ledger is stopped, slow or unreachable: the policy keeps the payout, backed off, for a later pass.
    reply = { Thrown: error };
  } finally {
    inFlight.delete(payout.id);
  }
  safely(() => recordVerdict(store, payout.id, judgeTransfer(reply), time()));
}

/** Runs bookkeeping that must not reject the pass (one payout's failure is that payout's alone). */
function safely(work: () => void): void {
  try {
    work();
  } catch (error) {
    console.log(`payouts: ${messageOf(error)}`);
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
