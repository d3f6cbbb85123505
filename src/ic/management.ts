import { Actor, type ActorSubclass, type HttpAgent } from '@dfinity/agent';
import { Principal } from '@dfinity/principal';

import { managementIdlFactory, type InstallMode, type ManagementService } from '../interface/management/index.js';

export type InstallModeArg = InstallMode;
export type ManagementActor = ActorSubclass<ManagementService>;

/** A management-canister actor whose calls are routed to `effectiveCanisterId` (any id for creation). */
export function managementActor(agent: HttpAgent, effectiveCanisterId: Principal = Principal.fromText('aaaaa-aa')): ManagementActor {
  return Actor.createActor<ManagementService>(managementIdlFactory, {
    agent,
    canisterId: Principal.fromText('aaaaa-aa'),
    effectiveCanisterId
  });
}
