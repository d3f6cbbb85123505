import { canisterSelf, time } from 'azle';

import type { Allowance } from '../../src/interface/ledger/index.js';
import { describeLedgerError, type PayAccount } from '../../src/core/rewards/index.js';
import type { Stores } from '../../src/core/tasks/index.js';
import { ledgerCall } from './ledger-calls.js';
import { accountOut } from './task-views.js';

/**
 * What `icrc2_transfer_from` would answer a requester who cannot pay `amountE8s` (and the ledger fee) into escrow now,
 * asked of the ledger's two queries before submit_task stores anything: an unfunded caller is refused without its
 * task and input being written, then removed again (a 256 KiB submit without allowance cost ~2.6B instructions so).
 * The transfer itself still decides: its error is what a requester gets when funds move between this check and it.
 * Undefined when the requester can pay, or when the ledger could not be asked (the transfer then answers).
 */
export async function fundingShortfall(
  store: Stores,
  from: PayAccount,
  amountE8s: bigint
): Promise<{ operation: string; message: string } | undefined> {
  const config = store.taskConfig();
  const ledger = config.ledger;
  if (ledger === undefined) return undefined;
  const account = accountOut(from);
  const needed = amountE8s + config.ledgerFeeE8s;
  let allowance: Allowance;
  let balance: bigint;
  try {
    [allowance, balance] = await Promise.all([
      ledgerCall(ledger, 'icrc2_allowance', { account, spender: { owner: canisterSelf(), subaccount: [] } }),
      ledgerCall(ledger, 'icrc1_balance_of', account)
    ]);
  } catch {
    return undefined;
  }
  const expiresAt = allowance.expires_at[0];
  const allowed = expiresAt !== undefined && expiresAt <= time() ? 0n : allowance.allowance;
  const operation = 'icrc2_transfer_from';
  if (allowed < needed) return { operation, message: describeLedgerError({ InsufficientAllowance: { allowance: allowed } }) };
  if (balance < needed) return { operation, message: describeLedgerError({ InsufficientFunds: { balance } }) };
  return undefined;
}
