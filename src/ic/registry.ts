import { Actor, type ActorConfig, type ActorSubclass, type HttpAgent } from '@dfinity/agent';
import type { Principal } from '@dfinity/principal';

import { registryIdlFactory, type RegistryService } from '../interface/registry/index.js';

/** Typed access to the registry canister for off-chain code (runner, SDK, CLI, tests). Values as @dfinity/candid gives them. */
export type RegistryActor = ActorSubclass<RegistryService>;

/** How an actor checks what it is sent (browser-safe: no Node import here). */
export interface ActorOptions {
  /**
   * Checks the BLS signature of each certificate (update replies, read_state polls); default: the agent's own check,
   * in-thread. Node processes on a hot path pass `workerBlsVerify` (src/ic/bls-verify.ts): the same check on worker
   * threads, off the event loop.
   */
  blsVerify?: ActorConfig['blsVerify'];
}

export function registryClient(agent: HttpAgent, canisterId: Principal | string, options: ActorOptions = {}): RegistryActor {
  return Actor.createActor<RegistryService>(registryIdlFactory, { agent, canisterId, ...options });
}
