import type { Principal } from '@dfinity/principal';

import { ensureAllowance } from '../ic/allowance.js';
import type { LedgerActor } from '../ic/ledger.js';
import type { RegistryActor } from '../ic/registry.js';
import { RunnerError } from './errors.js';

/**
 * Before a first registration: approves the registry for the runner bond plus the ledger fee (registration takes the
 * bond with icrc2_transfer_from), unless bonds are off, no ledger is configured, or the allowance already covers it.
 * Returns the bond amount (0: none needed). The runner's identity must hold the bond and two fees.
 */
export async function approveBond(
  registry: RegistryActor,
  ledgerOf: (ledgerId: Principal) => LedgerActor | Promise<LedgerActor>,
  registryId: Principal,
  principal: Principal
): Promise<bigint> {
  const [bond, tasks] = await Promise.all([registry.get_bond_config(), registry.get_task_config()]);
  const ledgerId = tasks.ledger[0];
  if (bond.amount_e8s === 0n || ledgerId === undefined) return 0n;
  const ledger = await ledgerOf(ledgerId);
  const { error } = await ensureAllowance(ledger, principal, registryId, bond.amount_e8s);
  if (error !== undefined)
    throw new RunnerError(
      'BondNotApproved',
      `approving the runner bond of ${bond.amount_e8s} e8s failed: ${JSON.stringify(error, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))} (fund ${principal.toText()} with the bond and two ledger fees)`
    );
  return bond.amount_e8s;
}
