import { Actor, type ActorSubclass, type HttpAgent } from '@dfinity/agent';
import type { Principal } from '@dfinity/principal';

import { ledgerIdlFactory, type AccountArg, type ApproveArgsValue, type TransferArgsValue } from '../../canisters/ledger/candid.js';

export type { AccountArg, ApproveArgsValue, TransferArgsValue };

/** An ICRC ledger error variant (`{ InsufficientFunds: { balance } }`), as @dfinity/candid decodes it. */
export type LedgerErr = Record<string, unknown>;
export type LedgerResult = { Ok: bigint } | { Err: LedgerErr };

/** The ICRC-1/ICRC-2 methods off-chain clients (SDK, CLI) use, typed. */
export interface LedgerClient {
  icrc1_fee(): Promise<bigint>;
  icrc1_decimals(): Promise<number>;
  icrc1_symbol(): Promise<string>;
  icrc1_balance_of(account: AccountArg): Promise<bigint>;
  icrc1_transfer(args: TransferArgsValue): Promise<LedgerResult>;
  icrc2_approve(args: ApproveArgsValue): Promise<LedgerResult>;
  icrc2_allowance(args: { account: AccountArg; spender: AccountArg }): Promise<{ allowance: bigint; expires_at: [] | [bigint] }>;
}

export function ledgerClient(agent: HttpAgent, canisterId: Principal | string): ActorSubclass<LedgerClient> {
  return Actor.createActor<LedgerClient>(ledgerIdlFactory, { agent, canisterId });
}
