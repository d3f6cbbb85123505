import { IDL } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';

import { Nat32, Nat64, typed, type Opt } from '../candid.js';
import { Account } from './tasks.js';

/** Runner bonds (src/core/rewards/bonds.ts): the settings and one runner's bond, each wire value beside its type. */

/** get_bond_config: what registration locks (while a ledger is configured; 0 = no bond), the cooldown, the slashes. */
export interface BondConfigView {
  amount_e8s: bigint;
  cooldown_seconds: bigint;
  slash_bps: number;
  expired_lease_threshold: number;
}
export const BondConfigView = typed<BondConfigView>(
  IDL.Record({ amount_e8s: IDL.Nat, cooldown_seconds: Nat64, slash_bps: Nat32, expired_lease_threshold: Nat32 })
);

/** set_bond_config: a field left out keeps its value. */
export interface BondConfigArgs {
  amount_e8s: Opt<bigint>;
  cooldown_seconds: Opt<bigint>;
  slash_bps: Opt<number>;
  expired_lease_threshold: Opt<number>;
}
export const BondConfigArgs = typed<BondConfigArgs>(
  IDL.Record({
    amount_e8s: IDL.Opt(IDL.Nat),
    cooldown_seconds: IDL.Opt(Nat64),
    slash_bps: IDL.Opt(Nat32),
    expired_lease_threshold: IDL.Opt(Nat32)
  })
);

/**
 * get_bond: a runner's bond. `state` is `locking` (registration in flight), `locked` or `unbonding` (returned at
 * `release_at_ns`); `account` is the registry subaccount that holds it; `amount_e8s` is what it holds after slashes.
 */
export interface BondView {
  runner: Principal;
  owner: Principal;
  amount_e8s: bigint;
  locked_e8s: bigint;
  state: string;
  release_at_ns: Opt<bigint>;
  slashes: number;
  account: Account;
}
export const BondView = typed<BondView>(
  IDL.Record({
    runner: IDL.Principal,
    owner: IDL.Principal,
    amount_e8s: IDL.Nat,
    locked_e8s: IDL.Nat,
    state: IDL.Text,
    release_at_ns: IDL.Opt(Nat64),
    slashes: Nat32,
    account: Account
  })
);
