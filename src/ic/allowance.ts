import type { Principal } from '@dfinity/principal';

import type { ApproveError } from '../interface/ledger/index.js';
import type { LedgerActor } from './ledger.js';

/**
 * Makes sure `owner` has approved `spender` (the registry) for at least `amountE8s` plus the ledger fee, approving
 * exactly that when the current allowance is short (`expected_allowance` guards a concurrent change). The one helper
 * for every ICRC-2 pull the registry makes (task escrow by the SDK, runner bond, credit deposit). Returns the approve's error, or
 * undefined when the allowance now covers the amount.
 */
export async function ensureAllowance(
  ledger: LedgerActor,
  owner: Principal,
  spender: Principal,
  amountE8s: bigint
): Promise<{ needed: bigint; error?: ApproveError }> {
  const to = { owner: spender, subaccount: [] as [] };
  const [fee, current] = await Promise.all([
    ledger.icrc1_fee(),
    ledger.icrc2_allowance({ account: { owner, subaccount: [] }, spender: to })
  ]);
  const needed = amountE8s + fee;
  if (current.allowance >= needed) return { needed };
  const approved = await ledger.icrc2_approve({
    from_subaccount: [],
    spender: to,
    amount: needed,
    expected_allowance: [current.allowance],
    expires_at: [],
    fee: [],
    memo: [],
    created_at_time: []
  });
  return 'Err' in approved ? { needed, error: approved.Err } : { needed };
}
