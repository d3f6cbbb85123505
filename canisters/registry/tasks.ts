import { canisterSelf, performanceCounter, time } from 'azle';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils';

import type { ArgsOf } from '../../src/interface/candid.js';
import { ledgerMethods, type TransferFromResult } from '../../src/interface/ledger/index.js';
import {
  describeLedgerError,
  judgeTransfer,
  recordVerdict,
  startPayoutRun,
  PAYOUT_CALLS_PER_RUN,
  type PayAccount,
  type Payout,
  type PayoutTransfer,
  type TransferReply
} from '../../src/core/rewards/index.js';
import {
  escrowConfirmed,
  escrowFailed,
  retryRefusalIsFinal,
  staleEscrows,
  tick,
  ESCROW_RETRIES_PER_RUN,
  type Stores,
  type Task
} from '../../src/core/tasks/index.js';
import { maintainBonds } from './bonds.js';
import { ledgerCall, memoOf, transferFromInto } from './ledger-calls.js';
import { accountOut } from './task-views.js';

/** The registry's escrow account on the ledger: subaccount 0x01 followed by 31 zero bytes. */
export const ESCROW_SUBACCOUNT = Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0));
export const escrowAccount = (): PayAccount => ({ owner: canisterSelf().toText(), subaccount: bytesToHex(ESCROW_SUBACCOUNT) });

/** Moves the reward from the requester into escrow; the same created_at_time and memo make a retry safe. */
function escrowTransfer(store: Stores, task: Task): Promise<TransferFromResult> {
  const ledger = store.taskConfig().ledger;
  if (ledger === undefined) throw new Error('no ledger configured');
  return transferFromInto(ledger, {
    from: accountOut(task.refundTo),
    subaccount: ESCROW_SUBACCOUNT,
    amount: task.rewardE8s,
    memo: task.id,
    createdAtNs: task.createdAtNs
  });
}

/**
 * Escrows a just-submitted task. The task was stored before the call (state `escrowing`); this confirms it or, if
 * the ledger refused, removes it again. Returns the ledger's error for the caller. A `retry` (the first attempt's
 * reply was lost, so its money may have moved) removes the task only on a refusal that proves the first attempt
 * never went through; otherwise the task stays `escrowing` for the next retry.
 */
export async function escrow(
  store: Stores,
  task: Task,
  retry = false
): Promise<{ Ok: Task } | { Err: { operation: string; message: string } }> {
  let result: TransferFromResult;
  try {
    result = await escrowTransfer(store, task);
  } catch (error) {
    if (!retry) escrowFailed(store, task.id);
    return { Err: { operation: 'icrc2_transfer_from', message: error instanceof Error ? error.message : String(error) } };
  }
  if ('Ok' in result) return { Ok: escrowConfirmed(store, task.id, result.Ok, time()) ?? task };
  if ('Duplicate' in result.Err) return { Ok: escrowConfirmed(store, task.id, result.Err.Duplicate.duplicate_of, time()) ?? task };
  if (!retry || retryRefusalIsFinal(result.Err)) escrowFailed(store, task.id);
  return { Err: { operation: 'icrc2_transfer_from', message: describeLedgerError(result.Err) } };
}

const inFlight = new Set<string>();

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * Instructions one payout run may spend before its calls go out (walking the due index, marking unpayable payouts
 * stuck, counting attempts): the rest waits for the next run, whose walk resumes at the index's head.
 */
export const PAYOUT_BUDGET = 4_000_000_000n;

/**
 * One payout run, in a message of its own (its own timer): a trap or IC0522 here rolls back only this run, never the
 * task transitions, and the other way round. It pays what is due, each payout exactly once (`Duplicate` from the
 * ledger means an earlier attempt went through) and each independently (src/core/rewards/payout-run.ts): it reads
 * only due payouts, marks unpayable ones stuck without a call, counts and backs off each attempt before its call, and
 * nothing here throws. So every attempt's bookkeeping commits when the calls go out; a reply callback that traps
 * rolls back only its own payout's verdict, and the payout, already backed off, is tried again later and ends stuck if
 * it never succeeds.
 */
export async function processPayouts(store: Stores): Promise<void> {
  const ledger = store.taskConfig().ledger;
  if (ledger === undefined) return;
  const now = time();
  let calls: Array<{ payout: Payout; transfer: PayoutTransfer }>;
  try {
    calls = startPayoutRun(store, now, {
      maxCalls: PAYOUT_CALLS_PER_RUN,
      registryId: canisterSelf().toText(),
      skip: (id) => inFlight.has(id),
      outOfBudget: () => performanceCounter(1) > PAYOUT_BUDGET
    }).calls;
  } catch (error) {
    // A broken outbox: nothing of this run is kept, and the tasks' transitions (their own message) are not touched.
    console.log(`payouts: cannot read the due index: ${messageOf(error)}`);
    return;
  }
  await Promise.allSettled(calls.map(({ payout, transfer }) => pay(store, ledger, payout, transfer)));
}

/** One attempt (already begun) at a payout; what the reply means (paid, retry, stuck) is the policy's. */
async function pay(store: Stores, ledger: string, payout: Payout, plan: PayoutTransfer): Promise<void> {
  let args: ArgsOf<typeof ledgerMethods.icrc1_transfer>[0];
  try {
    args = {
      // A bond's return or slash leaves the runner's bond subaccount; everything else the task escrow.
      from_subaccount: plan.fromEscrow ? [payout.fromSubaccount === undefined ? ESCROW_SUBACCOUNT : hexToBytes(payout.fromSubaccount)] : [],
      to: accountOut(payout.to),
      amount: plan.amountE8s,
      fee: plan.feeE8s === undefined ? [] : [plan.feeE8s],
      memo: [memoOf(payout.memo)],
      created_at_time: [payout.createdAtNs]
    };
  } catch (error) {
    // The transfer cannot even be written down (an account the policy let through but the encoder refuses).
    return safely(() => recordVerdict(store, payout.id, { kind: 'stuck', error: `cannot be paid: ${messageOf(error)}` }));
  }
  inFlight.add(payout.id);
  let reply: TransferReply;
  try {
    reply = await ledgerCall(ledger, 'icrc1_transfer', args);
  } catch (error) {
    // The ledger is stopped, slow or unreachable: the policy keeps the payout, backed off, for a later run.
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

/**
 * Escrows whose reply never came back (the callback trapped, or an upgrade came between) are retried, in a message of
 * their own (their own timer). Only escrows whose retry is due are read, from the open tasks' escrow index.
 */
export async function retryStaleEscrows(store: Stores): Promise<void> {
  if (store.taskConfig().ledger === undefined) return;
  const stale = staleEscrows(store, time(), ESCROW_RETRIES_PER_RUN, (id) => inFlight.has(id));
  await Promise.allSettled(
    stale.map(async (task) => {
      inFlight.add(task.id);
      try {
        await escrow(store, task, true);
      } finally {
        inFlight.delete(task.id);
      }
    })
  );
}

/**
 * Instructions one tick may spend on time-driven transitions (an update may spend 40B): the tick stops there and the
 * next one resumes from the wake-up index's head.
 */
export const TICK_BUDGET = 2_000_000_000n;

/**
 * Time-driven task transitions (within TICK_BUDGET), in a message of their own (their own timer): no call, so they
 * commit when the tick returns, whatever payouts or escrow retries do in theirs.
 */
export function maintainTasks(store: Stores): void {
  tick(store, time(), () => performanceCounter(1) > TICK_BUDGET);
}

/**
 * Everything the timers do, one after another, for admins (`process_tasks`) and tests. The timers run the three as
 * separate messages; here the tick's transitions commit when the first payout call goes out.
 */
export async function maintain(store: Stores): Promise<void> {
  maintainTasks(store);
  // Bonds before payouts, so that a bond whose cooldown ended is paid back in this pass.
  await maintainBonds(store);
  await processPayouts(store);
  await retryStaleEscrows(store);
}
