import { Principal } from '@dfinity/principal';

import { ledgerInitArg, ledgerUpgradeArg } from '../interface/ledger/index.js';
import { registryInitArgs } from '../interface/registry/index.js';

/** The reward token as `deai deploy` creates it on a development network. */
export const DEV_TOKEN = {
  name: 'DeAI Reward Token',
  symbol: 'DEAI',
  decimals: 8,
  /** 0.0001 DEAI. */
  feeE8s: 10_000n,
  /** What the deploying identity starts with on a development network: 1,000,000 DEAI. */
  deployerBalanceE8s: 1_000_000n * 100_000_000n
} as const;

export interface CanisterArgs {
  install: Uint8Array;
  upgrade: Uint8Array;
}

/** Arguments of one canister, given the ids of the canisters deployed before it (dfx.json order). */
export type CanisterArgsOf = (deployedIds: Record<string, string>) => CanisterArgs;

/**
 * The install/upgrade argument `deai deploy` gives each known canister. The deployer becomes the registry's
 * first admin; the ledger's minting account is the registry canister (it mints rewards) and the deployer gets a
 * development balance. Upgrades keep the stored configuration (no changes in the argument).
 */
export function defaultCanisterArgs(deployer: Principal): Record<string, CanisterArgsOf> {
  return {
    registry: () => ({ install: registryInitArgs({ admins: [deployer] }), upgrade: registryInitArgs(undefined) }),
    ledger: (ids) => {
      const registry = ids.registry;
      if (registry === undefined)
        throw new Error('the ledger needs the registry canister deployed first: its minting account is the registry');
      return {
        install: ledgerInitArg({
          token_name: DEV_TOKEN.name,
          token_symbol: DEV_TOKEN.symbol,
          decimals: [DEV_TOKEN.decimals],
          transfer_fee: DEV_TOKEN.feeE8s,
          minting_account: { owner: Principal.fromText(registry), subaccount: [] },
          initial_balances: [[{ owner: deployer, subaccount: [] }, DEV_TOKEN.deployerBalanceE8s]],
          max_memo_length: [],
          metadata: [],
          max_transactions_in_window: []
        }),
        upgrade: ledgerUpgradeArg()
      };
    }
  };
}
