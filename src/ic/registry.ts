import { Actor, type ActorSubclass, type HttpAgent } from '@dfinity/agent';
import type { Principal } from '@dfinity/principal';

import { registryIdlFactory, type RegistryService } from '../interface/registry/index.js';

/** Typed access to the registry canister for off-chain code (runner, SDK, CLI, tests). Values as @dfinity/candid gives them. */
export type RegistryActor = ActorSubclass<RegistryService>;

export function registryClient(agent: HttpAgent, canisterId: Principal | string): RegistryActor {
  return Actor.createActor<RegistryService>(registryIdlFactory, { agent, canisterId });
}
