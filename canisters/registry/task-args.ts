import type { Principal } from '@dfinity/principal';

import type { FindRequestArgs } from './candid.js';

/**
 * The task methods' Candid argument values as @dfinity/candid decodes them: one definition for the canister
 * (task-views.ts), the off-chain clients (src/ic) and the tests. Types only, so nothing here loads azle.
 */
type Opt<T> = [] | [T];

export interface AccountArg {
  owner: Principal;
  subaccount: Opt<Uint8Array | number[]>;
}

export interface SubmitTaskArgs {
  idempotency_key: string;
  request: FindRequestArgs;
  input: { inline: Opt<string>; digest: Opt<string>; reference: Opt<string> };
  limits: { max_output_tokens: number; temperature: Opt<number>; seed: Opt<bigint> };
  reward_e8s: bigint;
  deadline_ns: bigint;
  redundancy: Opt<number>;
  refund_subaccount: Opt<Uint8Array | number[]>;
}

export interface ResultArgsValue {
  output_digest: string;
  output: Opt<string>;
  reference: Opt<string>;
  input_tokens: bigint;
  output_tokens: bigint;
  first_token_ms: number;
  total_ms: number;
}

export interface TaskConfigArgsValue {
  ledger: Opt<Principal>;
  treasury: Opt<AccountArg>;
  protocol_fee_bps: Opt<number>;
  ledger_fee_e8s: Opt<bigint>;
  lease_seconds: Opt<bigint>;
  review_window_seconds: Opt<bigint>;
  min_reward_e8s: Opt<bigint>;
  emission_per_epoch_e8s: Opt<bigint>;
  epoch_seconds: Opt<bigint>;
}
