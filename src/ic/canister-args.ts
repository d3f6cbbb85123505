import type { Principal } from '@dfinity/principal';

import { registryInitArgs } from '../../canisters/registry/candid.js';

/**
 * The install/upgrade argument `deai deploy` gives each known canister: the deploying identity becomes the
 * registry's first admin on install; upgrades keep the stored configuration (no argument).
 */
export function defaultCanisterArgs(deployer: Principal): Record<string, { install: Uint8Array; upgrade: Uint8Array }> {
  return {
    registry: { install: registryInitArgs({ admins: [deployer] }), upgrade: registryInitArgs(undefined) }
  };
}
