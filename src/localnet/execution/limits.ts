/** Per-message instruction limits of an IC application subnet (IC interface specification, "Resource limits"). */
export interface InstructionLimits {
  update: bigint;
  query: bigint;
  upgrade: bigint;
  inspect: bigint;
}

export const IC_INSTRUCTION_LIMITS: InstructionLimits = {
  update: 40_000_000_000n,
  query: 5_000_000_000n,
  upgrade: 300_000_000_000n,
  inspect: 200_000_000n
};

/** Cycles per instruction on a 13-node subnet, to state what a call costs (IC "Gas and cycles cost"). */
export const CYCLES_PER_INSTRUCTION_NUMERATOR = 4n;
export const CYCLES_PER_INSTRUCTION_DENOMINATOR = 10n;
/** Update message execution base fee on a 13-node subnet. */
export const UPDATE_MESSAGE_EXECUTION_FEE = 5_000_000n;

export function cyclesForInstructions(instructions: bigint): bigint {
  return UPDATE_MESSAGE_EXECUTION_FEE + (instructions * CYCLES_PER_INSTRUCTION_NUMERATOR) / CYCLES_PER_INSTRUCTION_DENOMINATOR;
}

/** Fee the caller must be able to pay before an inter-canister call (xnet call fee + per-byte fee). */
export function costCall(methodNameBytes: bigint, payloadBytes: bigint): bigint {
  return 260_000n + 1_000n * (methodNameBytes + payloadBytes);
}
