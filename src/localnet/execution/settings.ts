import type { Principal } from '@dfinity/principal';

export type LogVisibility = { controllers: null } | { public: null } | { allowed_viewers: Principal[] };

/** Canister settings as the management canister reports them (a superset of what `icp` 1.5 decodes). */
export interface CanisterSettings {
  controllers: Principal[];
  computeAllocation: bigint;
  memoryAllocation: bigint;
  freezingThreshold: bigint;
  reservedCyclesLimit: bigint;
  logVisibility: LogVisibility;
  wasmMemoryLimit: bigint;
  wasmMemoryThreshold: bigint;
  environmentVariables: Array<{ name: string; value: string }>;
  logMemoryLimit: bigint;
  minimumIncomingCanisterCallCycles: bigint;
  snapshotVisibility: LogVisibility;
  statusVisibility: LogVisibility;
}

export const MAX_CONTROLLERS = 10;

export function defaultSettings(): CanisterSettings {
  return {
    controllers: [],
    computeAllocation: 0n,
    memoryAllocation: 0n,
    freezingThreshold: 2_592_000n,
    reservedCyclesLimit: 5_000_000_000_000n,
    logVisibility: { controllers: null },
    wasmMemoryLimit: 3_221_225_472n,
    wasmMemoryThreshold: 0n,
    environmentVariables: [],
    logMemoryLimit: 4_096n,
    minimumIncomingCanisterCallCycles: 0n,
    snapshotVisibility: { controllers: null },
    statusVisibility: { controllers: null }
  };
}
