import type { KeyValue } from '../kv.js';
import { requireAdmin } from '../registry/access.js';
import { err, ok, type Result } from '../registry/errors.js';
import type { Reputation } from '../registry/types.js';
import { principalBytes } from '../principal-text.js';
import { addPayout } from './outbox.js';
import type { Bond, BondConfig, BondStore, PayAccount, Payout } from './types.js';

export type { Bond, BondConfig, BondState, BondStore } from './types.js';

const SECOND_NS = 1_000_000_000n;

export const DEFAULT_BOND_CONFIG: Readonly<BondConfig> = {
  amountE8s: 100_000_000n,
  cooldownNs: 7n * 24n * 3600n * SECOND_NS,
  slashBps: 1_000,
  expiredLeaseThreshold: 3
};

/** The most an admin may require (10,000 tokens of 8 decimals) and the longest cooldown (365 days). */
export const MAX_BOND_E8S = 1_000_000_000_000n;
export const MAX_BOND_COOLDOWN_NS = 365n * 24n * 3600n * SECOND_NS;

/**
 * The unsettled tasks' index of results per runner (src/core/tasks/open-tasks.ts), where the store has tasks: a bond
 * is not returned while its runner has a result whose vote may still slash it.
 */
interface UnsettledResults {
  hasUnsettledResult(runner: string): boolean;
}

type Bonds = BondStore & { payouts: KeyValue<Payout>; payoutQueue: KeyValue<string>; open?: UnsettledResults };

/** A cooled-down bond held back by an unsettled result is looked at again this much later (a review window). */
export const UNSETTLED_RECHECK_NS = 600n * SECOND_NS;

/** A lock still `locking` after this long lost its reply (trap or upgrade): maintenance resolves it. */
export const STALE_LOCK_NS = 120n * SECOND_NS;

const hex = (bytes: Uint8Array): string => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');

/** The runner's bond subaccount of the registry: 0x02, the principal's length and bytes, zero padded (hex). */
export function bondSubaccount(runner: string): string {
  const bytes = principalBytes(runner) ?? new Uint8Array();
  const sub = new Uint8Array(32);
  sub[0] = 2;
  sub[1] = bytes.length;
  sub.set(bytes.subarray(0, 30), 2);
  return hex(sub);
}

export const bondMemo = (runner: string): string => `bond/${runner}`;

/** What registration must lock now: the configured amount while a ledger is configured (no ledger, no bonds). */
export const requiredBond = (store: BondStore, ledger: string | undefined): bigint =>
  ledger === undefined ? 0n : store.bondConfig().amountE8s;

const queueKey = (dueNs: bigint, runner: string): string => `${dueNs.toString().padStart(20, '0')}|${runner}`;

function dueAt(bond: Bond): bigint | undefined {
  if (bond.state === 'locking') return bond.createdAtNs + STALE_LOCK_NS;
  if (bond.state === 'unbonding') return bond.releaseAtNs;
  return undefined;
}

/** Stores `next` in place of `previous`, moving its due-queue entry. */
function save(store: Bonds, previous: Bond | undefined, next: Bond | undefined, runner: string): void {
  const before = previous === undefined ? undefined : dueAt(previous);
  if (before !== undefined) store.bondQueue.delete(queueKey(before, runner));
  if (next === undefined) {
    store.bonds.delete(runner);
    return;
  }
  store.bonds.set(runner, next);
  const after = dueAt(next);
  if (after !== undefined) store.bondQueue.set(queueKey(after, runner), runner);
}

/**
 * Registration's first step when a bond is required: reserves the bond (`locking`) before the ledger call, so a second
 * registration of the same runner meanwhile is refused. A bond still in its cooldown that covers `amountE8s` is taken
 * back instead (`reused`: no transfer needed).
 */
export function beginBond(store: Bonds, runner: string, amountE8s: bigint, nowNs: bigint): Result<{ bond: Bond; reused: boolean }> {
  const current = store.bonds.get(runner);
  if (current?.state === 'locking') return err({ AlreadyExists: { what: `a registration of runner ${runner} in progress` } });
  if (current?.state === 'locked') return err({ AlreadyExists: { what: `runner ${runner}'s bond` } });
  if (current?.state === 'unbonding') {
    if (current.amountE8s < amountE8s)
      return err({
        BondRequired: {
          amount_e8s: amountE8s,
          reason: `the bond of an earlier registration (${current.amountE8s} e8s) is in its cooldown until ${current.releaseAtNs ?? 0n} ns and below the required amount`
        }
      });
    return ok({ bond: current, reused: true });
  }
  const bond: Bond = {
    runner,
    owner: runner,
    amountE8s,
    lockedE8s: amountE8s,
    state: 'locking',
    createdAtNs: nowNs,
    slashes: 0,
    expiredLeases: 0
  };
  save(store, undefined, bond, runner);
  return ok({ bond, reused: false });
}

/**
 * Whether the lock a registration began (at `createdAtNs`) is still its own when the ledger's reply arrives. A reply
 * slower than STALE_LOCK_NS finds the lock resolved by maintenance (resolveStaleLock), or a newer one: the
 * registration must then be refused, and it must not touch the money either. Maintenance asked the ledger the same
 * transfer (same memo and created_at_time) after the registration did, and calls from one canister to another are
 * delivered in order, so its answer already accounts for the registration's transfer: if that moved the bond,
 * maintenance's was reported a Duplicate, and it returned the bond (the runner was not registered).
 */
export function lockStillOurs(store: Pick<BondStore, 'bonds'>, runner: string, createdAtNs: bigint): boolean {
  const current = store.bonds.get(runner);
  return current?.state === 'locking' && current.createdAtNs === createdAtNs;
}

/** The ledger moved the bond (or reported the move a duplicate of one it made). */
export function bondLocked(store: Bonds, runner: string, block?: bigint): void {
  const current = store.bonds.get(runner);
  if (current === undefined) return;
  const next: Bond = { ...current, state: 'locked' };
  delete next.releaseAtNs;
  if (block !== undefined) next.block = block;
  save(store, current, next, runner);
}

/** The ledger refused the bond: nothing was moved, nothing is kept. */
export function bondFailed(store: Bonds, runner: string): void {
  const current = store.bonds.get(runner);
  if (current?.state === 'locking') save(store, current, undefined, runner);
}

/**
 * Returns what the bond holds to its owner through the payout outbox (exactly once: the payout's id names the bond's
 * creation) and forgets the bond. For a registration that failed after the transfer, and for a cooldown that ended.
 */
export function returnBond(store: Bonds, nowNs: bigint, runner: string): void {
  const current = store.bonds.get(runner);
  if (current === undefined) return;
  addPayout(
    store,
    nowNs,
    0,
    'bond-return',
    `bond/${runner}/${current.createdAtNs}/return`,
    { owner: current.owner },
    current.amountE8s,
    bondMemo(runner),
    undefined,
    bondSubaccount(runner)
  );
  save(store, current, undefined, runner);
}

/** The runner deregistered: its bond is returned after the cooldown (faults found meanwhile still slash it). */
export function unbond(store: Bonds, nowNs: bigint, runner: string): void {
  const current = store.bonds.get(runner);
  if (current?.state !== 'locked') return;
  save(store, current, { ...current, state: 'unbonding', releaseAtNs: nowNs + store.bondConfig().cooldownNs }, runner);
}

/**
 * A proven fault: `slashBps` of the bond as locked (at most what it holds) goes to the treasury through the payout
 * outbox. Without a treasury nothing is taken. Returns what was slashed.
 */
export function slashBond(store: Bonds, nowNs: bigint, runner: string, treasury: PayAccount | undefined, reason: string): bigint {
  const current = store.bonds.get(runner);
  if (current === undefined || current.state === 'locking' || treasury === undefined) return 0n;
  const wanted = (current.lockedE8s * BigInt(store.bondConfig().slashBps)) / 10_000n;
  const amount = wanted < current.amountE8s ? wanted : current.amountE8s;
  if (amount <= 0n) return 0n;
  const slashes = current.slashes + 1;
  addPayout(
    store,
    nowNs,
    0,
    'bond-slash',
    `bond/${runner}/${current.createdAtNs}/slash/${slashes}`,
    treasury,
    amount,
    `slash ${reason}`.slice(0, 32),
    undefined,
    bondSubaccount(runner)
  );
  save(store, current, { ...current, amountE8s: current.amountE8s - amount, slashes }, runner);
  return amount;
}

/**
 * A lease of `runner` ended without a result: it expired, or the runner gave it up (`fail_task`, `reason` says which).
 * Every `expiredLeaseThreshold` of them is one fault, so killing tasks by failing them costs the bond as letting leases
 * expire does.
 */
export function bondFault(store: Bonds, nowNs: bigint, runner: string, treasury: PayAccount | undefined, reason: string): void {
  const current = store.bonds.get(runner);
  if (current === undefined || current.state === 'locking') return;
  const expiredLeases = current.expiredLeases + 1;
  if (expiredLeases < store.bondConfig().expiredLeaseThreshold) {
    save(store, current, { ...current, expiredLeases }, runner);
    return;
  }
  save(store, current, { ...current, expiredLeases: 0 }, runner);
  slashBond(store, nowNs, runner, treasury, reason);
}

/** A lease of `runner` expired (bondFault). */
export function bondLeaseExpired(store: Bonds, nowNs: bigint, runner: string, treasury: PayAccount | undefined): void {
  bondFault(store, nowNs, runner, treasury, 'expired leases');
}

/**
 * Bonds whose time has come, at most `max`, from the head of the due queue: a cooldown that ended returns its bond
 * here, unless the runner still has a result in a task not yet settled (an escalated vote can outlast any cooldown, and
 * a vote it lost must still slash the bond): then its release moves UNSETTLED_RECHECK_NS later; a stale lock is returned for the caller to resolve with the ledger (resolveStaleLock). Reads only due entries.
 */
export function dueBonds(store: Bonds, nowNs: bigint, max: number): Bond[] {
  const stale: Bond[] = [];
  let seen = 0;
  for (const [key, runner] of store.bondQueue.entries()) {
    if (seen++ >= max || BigInt(key.slice(0, 20)) > nowNs) break;
    const bond = store.bonds.get(runner);
    if (bond === undefined || dueAt(bond) === undefined || queueKey(dueAt(bond) ?? 0n, runner) !== key) store.bondQueue.delete(key);
    else if (bond.state === 'unbonding' && store.open?.hasUnsettledResult(runner) === true)
      save(store, bond, { ...bond, releaseAtNs: nowNs + UNSETTLED_RECHECK_NS }, runner);
    else if (bond.state === 'unbonding') returnBond(store, nowNs, runner);
    else stale.push(bond);
  }
  return stale;
}

/**
 * A stale lock's transfer was asked again (same memo and created_at_time): `moved` means the ledger holds it (now or
 * from the first attempt), so it goes back to its owner unless the runner did register; otherwise it is dropped.
 */
export function resolveStaleLock(
  store: Bonds & { runners: { has(id: string): boolean } },
  nowNs: bigint,
  runner: string,
  moved: boolean,
  block?: bigint
): void {
  const current = store.bonds.get(runner);
  if (current?.state !== 'locking') return;
  if (!moved) return bondFailed(store, runner);
  if (store.runners.has(runner)) return bondLocked(store, runner, block);
  returnBond(store, nowNs, runner);
}

/** Admins change the bond settings; absent fields keep their value. The cooldown covers a lease and its review. */
export function setBondConfig(
  store: BondStore & Parameters<typeof requireAdmin>[0] & { taskConfig(): { leaseNs: bigint; reviewWindowNs: bigint } },
  caller: string,
  input: { amountE8s?: bigint; cooldownSeconds?: bigint; slashBps?: number; expiredLeaseThreshold?: number }
): Result<BondConfig> {
  const denied = requireAdmin(store, caller);
  if (denied !== undefined) return err(denied);
  const current = store.bondConfig();
  const next: BondConfig = {
    amountE8s: input.amountE8s ?? current.amountE8s,
    cooldownNs: input.cooldownSeconds === undefined ? current.cooldownNs : input.cooldownSeconds * SECOND_NS,
    slashBps: input.slashBps ?? current.slashBps,
    expiredLeaseThreshold: input.expiredLeaseThreshold ?? current.expiredLeaseThreshold
  };
  const bad = (field: string, reason: string): Result<BondConfig> => err({ InvalidArgument: { field, reason } });
  if (next.amountE8s < 0n || next.amountE8s > MAX_BOND_E8S) return bad('amount_e8s', `must be 0 to ${MAX_BOND_E8S}`);
  if (next.cooldownNs < 0n || next.cooldownNs > MAX_BOND_COOLDOWN_NS) return bad('cooldown_seconds', 'must be at most 365 days');
  // A runner that leaves must stay slashable until its last lease has ended and that result's review is over.
  const { leaseNs, reviewWindowNs } = store.taskConfig();
  if (next.cooldownNs < leaseNs + reviewWindowNs)
    return bad('cooldown_seconds', `must be at least the lease plus the review window (${(leaseNs + reviewWindowNs) / SECOND_NS} s)`);
  if (!Number.isInteger(next.slashBps) || next.slashBps < 0 || next.slashBps > 10_000) return bad('slash_bps', 'must be 0 to 10000');
  if (!Number.isInteger(next.expiredLeaseThreshold) || next.expiredLeaseThreshold < 1 || next.expiredLeaseThreshold > 1_000)
    return bad('expired_lease_threshold', 'must be 1 to 1000');
  store.setBondConfig(next);
  return ok(next);
}

/** The most a track record weighs in a vote, so that no runner outweighs many independent ones for ever. */
export const MAX_REPUTATION_WEIGHT = 100n;

/**
 * How much of the required bond a runner holds, in thousandths (1 to 1,000): a slashed bond holds less; with bonds
 * disabled every runner holds all of it; a runner registered while bonds were off holds the least.
 */
export function bondShare(bond: Bond | undefined, requiredE8s: bigint): bigint {
  if (requiredE8s <= 0n) return 1_000n;
  const held = bond === undefined ? 0n : bond.amountE8s;
  const share = held >= requiredE8s ? 1_000n : (held * 1_000n) / requiredE8s;
  return share < 1n ? 1n : share;
}

/**
 * A runner's weight in a redundancy vote, in thousandths: its track record (1 + independently accepted − rejected −
 * failed − expired leases, 1 to MAX_REPUTATION_WEIGHT; completions count only once a fee-paying requester other than
 * the runner's own party accepted them, so self-dealt work builds no weight) times its bond share (bondShare). A vote
 * is won only with a majority of the bond as well (settlement.ts), so a record bought by wash trading never outweighs
 * bond. A new identity weighs the least.
 */
export function voteWeight(reputation: Reputation | undefined, bond: Bond | undefined, requiredE8s: bigint): bigint {
  return voteRecord(reputation) * bondShare(bond, requiredE8s);
}

/** The track record a vote weighs by (voteWeight): 1 + independently accepted − rejected − failed − expired, 1 to MAX. */
export function voteRecord(reputation: Reputation | undefined): bigint {
  const r: Pick<Reputation, 'independentAccepted' | 'rejected' | 'failed' | 'expiredLeases'> = reputation ?? {
    rejected: 0,
    failed: 0,
    expiredLeases: 0
  };
  let record = 1n + BigInt(r.independentAccepted ?? 0) - BigInt(r.rejected) - BigInt(r.failed) - BigInt(r.expiredLeases);
  if (record < 1n) record = 1n;
  if (record > MAX_REPUTATION_WEIGHT) record = MAX_REPUTATION_WEIGHT;
  return record;
}
