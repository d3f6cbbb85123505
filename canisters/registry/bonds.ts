import { canisterSelf, Principal, time } from 'azle';
import { hexToBytes } from '@noble/hashes/utils';

import { opt } from '../../src/interface/candid.js';
import type { TransferFromResult } from '../../src/interface/ledger/index.js';
import { fundingShortfall } from './funding.js';
import { transferFromInto } from './ledger-calls.js';
import type { BondConfigView, BondView } from '../../src/interface/registry/index.js';
import {
  beginBond,
  bondFailed,
  bondLocked,
  bondMemo,
  bondSubaccount,
  describeLedgerError,
  dueBonds,
  lockStillOurs,
  requiredBond,
  resolveStaleLock,
  returnBond,
  unbond,
  type Bond,
  type BondConfig
} from '../../src/core/rewards/index.js';
import {
  addRunner,
  checkRegistration,
  deregisterRunner,
  registerRunner,
  type Result,
  type StoredRunner
} from '../../src/core/registry/index.js';
import type { Stores } from '../../src/core/tasks/index.js';

/** Stale locks resolved per maintenance pass (each one ledger call). */
const LOCKS_PER_TICK = 16;

/** Moves a bond from its owner's default account into the runner's bond subaccount; same memo and time on a retry. */
async function lockTransfer(store: Stores, bond: Bond): Promise<{ moved: true; block: bigint } | { moved: false; reason: string }> {
  const ledger = store.taskConfig().ledger;
  if (ledger === undefined) return { moved: false, reason: 'no ledger configured' };
  let result: TransferFromResult;
  try {
    result = await transferFromInto(ledger, {
      from: { owner: Principal.fromText(bond.owner), subaccount: [] },
      subaccount: hexToBytes(bondSubaccount(bond.runner)),
      amount: bond.lockedE8s,
      memo: bondMemo(bond.runner),
      createdAtNs: bond.createdAtNs
    });
  } catch (error) {
    return { moved: false, reason: `the ledger call failed: ${error instanceof Error ? error.message : String(error)}` };
  }
  if ('Ok' in result) return { moved: true, block: result.Ok };
  if ('Duplicate' in result.Err) return { moved: true, block: result.Err.Duplicate.duplicate_of };
  return { moved: false, reason: describeLedgerError(result.Err) };
}

/**
 * register_runner: the checks first; then, while bonds are required, the bond is reserved, moved with
 * icrc2_transfer_from (the caller approved the registry for the bond plus the ledger fee) and the runner stored. It is
 * atomic as seen from outside: no runner without its bond (a refused transfer refuses the registration with
 * BondRequired), and no bond without a way back (a registration that fails after the transfer, say a card deprecated
 * meanwhile, returns the bond through the payout outbox; a lost reply is resolved by maintenance).
 */
export async function registerWithBond(
  store: Stores,
  caller: string,
  manifest: unknown,
  registryId: string
): Promise<Result<StoredRunner>> {
  const checked = checkRegistration(store, caller, time(), manifest, registryId);
  if ('Err' in checked) return checked;
  const amount = requiredBond(store, store.taskConfig().ledger);
  // No await until the bond moves: what was checked is still true, so it is stored without validating it again.
  if (amount === 0n) return addRunner(store, checked.Ok);
  const begun = beginBond(store, caller, amount, time());
  if ('Err' in begun) return begun;
  if (begun.Ok.reused) {
    // The bond of an earlier registration, still in its cooldown, is held again.
    const registered = addRunner(store, checked.Ok);
    bondLocked(store, caller);
    return registered;
  }
  const moved = await lockTransfer(store, begun.Ok.bond);
  // A reply slower than the stale-lock horizon: maintenance settled this lock meanwhile (and returned the bond if
  // it moved, see lockStillOurs). Registering now would leave the runner without a bond.
  if (!lockStillOurs(store, caller, begun.Ok.bond.createdAtNs))
    return {
      Err: {
        BondRequired: {
          amount_e8s: amount,
          reason: "the ledger's reply came after the lock was settled by maintenance (a moved bond is returned): register again"
        }
      }
    };
  if (!moved.moved) {
    bondFailed(store, caller);
    return { Err: { BondRequired: { amount_e8s: amount, reason: moved.reason } } };
  }
  const registered = registerRunner(store, caller, time(), manifest, registryId);
  if ('Err' in registered) returnBond(store, time(), caller);
  else bondLocked(store, caller, moved.block);
  return registered;
}

/**
 * Whether the ledger says `caller` cannot lock the bond a new registration needs (no bond of its own to reuse, and an
 * allowance or balance short of it): asked before its manifest is decoded and parsed (~850 instructions a byte), so
 * that an unfunded stranger's 64 KiB registration costs the two ledger questions, not the parse (issue 15). Undefined
 * when bonds are off, a bond can be reused, it can pay, or the ledger could not be asked (the transfer then decides).
 */
export async function bondShortfall(
  store: Stores,
  caller: string
): Promise<{ BondRequired: { amount_e8s: bigint; reason: string } } | undefined> {
  const amount = requiredBond(store, store.taskConfig().ledger);
  if (amount === 0n || store.bonds.get(caller) !== undefined) return undefined;
  const shortfall = await fundingShortfall(store, { owner: caller }, amount);
  return shortfall === undefined ? undefined : { BondRequired: { amount_e8s: amount, reason: shortfall.message } };
}

/** deregister_runner: the runner leaves; its bond is returned after the cooldown. */
export function deregisterWithBond(store: Stores, caller: string, runner: string): Result<null> {
  const result = deregisterRunner(store, caller, runner);
  if ('Ok' in result) unbond(store, time(), runner);
  return result;
}

/** One maintenance step: cooldowns that ended return their bonds; locks whose reply was lost are resolved. */
export async function maintainBonds(store: Stores): Promise<void> {
  const stale = dueBonds(store, time(), LOCKS_PER_TICK);
  for (const bond of stale) {
    const moved = await lockTransfer(store, bond);
    resolveStaleLock(store, time(), bond.runner, moved.moved, moved.moved ? moved.block : undefined);
  }
}

export function bondView(bond: Bond): BondView {
  return {
    runner: Principal.fromText(bond.runner),
    owner: Principal.fromText(bond.owner),
    amount_e8s: bond.amountE8s,
    locked_e8s: bond.lockedE8s,
    state: bond.state,
    release_at_ns: opt(bond.releaseAtNs),
    slashes: bond.slashes,
    account: { owner: canisterSelf(), subaccount: [hexToBytes(bondSubaccount(bond.runner))] }
  };
}

export const bondConfigView = (c: BondConfig): BondConfigView => ({
  amount_e8s: c.amountE8s,
  cooldown_seconds: c.cooldownNs / 1_000_000_000n,
  slash_bps: c.slashBps,
  expired_lease_threshold: c.expiredLeaseThreshold
});
