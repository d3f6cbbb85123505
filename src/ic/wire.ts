import type { HttpAgent } from '@dfinity/agent';
import { Principal } from '@dfinity/principal';

import { IcError } from './errors.js';
import { registryClient } from './registry.js';

/**
 * Points the registry's task escrow and payouts at the ledger (once: an existing setting is kept). The deployer,
 * a registry admin, is the treasury on a development network.
 */
export async function wireRegistryToLedger(
  agent: HttpAgent,
  registry: string,
  ledger: string,
  treasury: Principal
): Promise<'configured' | 'unchanged'> {
  const actor = registryClient(agent, registry);
  const current = await actor.get_task_config();
  if (current.ledger[0]?.toText() === ledger) return 'unchanged';
  const result = await actor.set_task_config({
    ledger: [Principal.fromText(ledger)],
    treasury: [{ owner: treasury, subaccount: [] }],
    protocol_fee_bps: [],
    ledger_fee_e8s: [],
    lease_seconds: [],
    review_window_seconds: [],
    min_reward_e8s: [],
    emission_per_epoch_e8s: [],
    epoch_seconds: [],
    emission_requester_cap_bps: [],
    routing_window_seconds: [],
    min_protocol_fee_e8s: []
  });
  if ('Err' in result) throw new IcError('DeployFailed', `Configuring the registry's tasks failed: ${JSON.stringify(result.Err)}`);
  return 'configured';
}
