import { Actor, type ActorSubclass, type HttpAgent } from '@dfinity/agent';
import type { Principal } from '@dfinity/principal';

import { ledgerIdlFactory, type LedgerService } from '../interface/ledger/index.js';
import type { ActorOptions } from './registry.js';

/** Typed access to the ledger (ICRC-1/2/3) for off-chain clients (SDK, CLI, tests). */
export type LedgerActor = ActorSubclass<LedgerService>;

export function ledgerClient(agent: HttpAgent, canisterId: Principal | string, options: ActorOptions = {}): LedgerActor {
  return Actor.createActor<LedgerService>(ledgerIdlFactory, { agent, canisterId, ...options });
}
