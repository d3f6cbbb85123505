import { concatBytes } from '@noble/hashes/utils';
import { CanisterTrap, ErrorCode, plainReject, RejectCode } from '../errors.js';
import type { ExecutionContext } from '../execution/context.js';
import type { StableMemory } from './stable-memory.js';

/** What the system API needs from the canister it is bound to. */
export interface SystemApiHost {
  readonly canisterId: Uint8Array;
  readonly stable: StableMemory;
  memory(): WebAssembly.Memory;
  /** The running execution; the engine sets it before entering Wasm. */
  context(): ExecutionContext;
  isController(principal: Uint8Array): boolean;
  cycleBalance(): bigint;
  version(): bigint;
  /** Instructions executed by the current message so far. */
  instructions(): bigint;
  /** Instructions executed by the whole call context so far (performance_counter type 1). */
  callContextInstructions(): bigint;
  costCall(methodNameBytes: bigint, payloadBytes: bigint): bigint;
  /** The committed global timer (0 = inactive). */
  committedGlobalTimer(): bigint;
  /** Whether a call to `callee` would exceed the output-queue capacity (ic0.call_perform then fails). */
  outputQueueFull(callee: Uint8Array): boolean;
  /** Records that the host wrote [offset, offset + length) of linear memory, so rollback and commit see it. */
  markDirty(offset: number, length: number): void;
}

const MAX_CERTIFIED_DATA = 32;
const MAX_REPLY_BYTES = 3 * 1024 * 1024;
const MAX_DEBUG_PRINT = 64 * 1024;
const U64_MASK = (1n << 64n) - 1n;

function violation(message: string): never {
  throw new CanisterTrap(ErrorCode.CanisterContractViolation, message);
}

/**
 * The `ic0` module: every function the IC system API defines for wasm32 canisters (the 44 an Azle 0.33 module
 * imports, and the rest defensively). Context restrictions follow the specification; a violation traps.
 */
export function createSystemApi(host: SystemApiHost): Record<string, (...args: never[]) => unknown> {
  const view = (): Uint8Array => new Uint8Array(host.memory().buffer);
  const readBytes = (src: number, size: number): Uint8Array => {
    const memory = view();
    if (src < 0 || size < 0 || src + size > memory.length) violation('memory access out of bounds');
    return memory.slice(src, src + size);
  };
  const copyOut = (data: Uint8Array, dst: number, offset: number, size: number): void => {
    const memory = view();
    if (offset + size > data.length) violation(`copy of ${size} bytes at offset ${offset} exceeds ${data.length}`);
    if (dst < 0 || dst + size > memory.length) violation('memory access out of bounds');
    host.markDirty(dst, size);
    memory.set(data.subarray(offset, offset + size), dst);
  };
  const write128 = (dst: number, value: bigint): void => {
    const memory = view();
    if (dst < 0 || dst + 16 > memory.length) violation('memory access out of bounds');
    host.markDirty(dst, 16);
    const dv = new DataView(memory.buffer, dst, 16);
    dv.setBigUint64(0, value & U64_MASK, true);
    dv.setBigUint64(8, (value >> 64n) & U64_MASK, true);
  };
  const u128 = (high: bigint, low: bigint): bigint => (BigInt.asUintN(64, high) << 64n) | BigInt.asUintN(64, low);
  const ctx = (): ExecutionContext => host.context();
  const textOf = (src: number, size: number): string => new TextDecoder().decode(readBytes(src, size));

  const argData = (): Uint8Array => {
    const c = ctx();
    if (
      c.kind === 'reject_callback' ||
      c.kind === 'cleanup' ||
      c.kind === 'global_timer' ||
      c.kind === 'heartbeat' ||
      c.kind === 'pre_upgrade'
    ) {
      violation(`ic0.msg_arg_data_size cannot be called in ${c.kind}`);
    }
    return c.init.arg;
  };
  const rejectMessage = (): Uint8Array => {
    const c = ctx();
    if (c.kind !== 'reject_callback') violation('ic0.msg_reject_msg_size can only be called in a reject callback');
    return new TextEncoder().encode(c.init.rejectMessage);
  };
  const respondable = (name: string): ExecutionContext => {
    const c = ctx();
    if (!c.init.canRespond || c.response !== undefined) violation(`${name}: the call was already replied to or cannot be replied to here`);
    return c;
  };
  const callerBytes = (): Uint8Array => ctx().init.caller;
  const self = host.canisterId;

  const pendingCall = (name: string) => {
    const c = ctx();
    if (c.pendingCall === undefined) violation(`${name} called without call_new`);
    return c.pendingCall;
  };

  return {
    msg_arg_data_size: () => argData().length,
    msg_arg_data_copy: (dst: number, offset: number, size: number) => copyOut(argData(), dst, offset, size),
    msg_caller_size: () => callerBytes().length,
    msg_caller_copy: (dst: number, offset: number, size: number) => copyOut(callerBytes(), dst, offset, size),
    msg_reject_code: () => ctx().init.rejectCode,
    msg_reject_msg_size: () => rejectMessage().length,
    msg_reject_msg_copy: (dst: number, offset: number, size: number) => copyOut(rejectMessage(), dst, offset, size),
    msg_deadline: () => ctx().init.deadlineNs ?? 0n,
    msg_reply_data_append: (src: number, size: number) => {
      const c = respondable('ic0.msg_reply_data_append');
      const total = c.replyChunks.reduce((n, chunk) => n + chunk.length, 0) + size;
      if (total > MAX_REPLY_BYTES) violation(`reply of ${total} bytes exceeds the limit of ${MAX_REPLY_BYTES}`);
      c.replyChunks.push(readBytes(src, size));
    },
    msg_reply: () => {
      const c = respondable('ic0.msg_reply');
      c.response = { kind: 'reply', bytes: concatBytes(...c.replyChunks) };
    },
    msg_reject: (src: number, size: number) => {
      const c = respondable('ic0.msg_reject');
      c.response = { kind: 'reject', reject: plainReject(RejectCode.CanisterReject, ErrorCode.CanisterRejectedMessage, textOf(src, size)) };
    },
    msg_method_name_size: () => new TextEncoder().encode(methodName(ctx())).length,
    msg_method_name_copy: (dst: number, offset: number, size: number) =>
      copyOut(new TextEncoder().encode(methodName(ctx())), dst, offset, size),
    accept_message: () => {
      const c = ctx();
      if (c.kind !== 'inspect_message') violation('ic0.accept_message can only be called in canister_inspect_message');
      if (c.accepted) violation('ic0.accept_message called twice');
      c.accepted = true;
    },
    msg_cycles_available: () => BigInt.asUintN(64, ctx().init.cyclesAvailable - ctx().cyclesAccepted),
    msg_cycles_available128: (dst: number) => write128(dst, ctx().init.cyclesAvailable - ctx().cyclesAccepted),
    msg_cycles_refunded: () => BigInt.asUintN(64, ctx().init.cyclesRefunded),
    msg_cycles_refunded128: (dst: number) => write128(dst, ctx().init.cyclesRefunded),
    msg_cycles_accept: (max: bigint) => acceptCycles(ctx(), BigInt.asUintN(64, max)),
    msg_cycles_accept128: (high: bigint, low: bigint, dst: number) => write128(dst, acceptCycles(ctx(), u128(high, low))),
    cycles_burn128: (high: bigint, low: bigint, dst: number) => {
      const c = ctx();
      const available = host.cycleBalance() - c.cyclesBurned - c.cyclesSentByCalls;
      const amount = u128(high, low) < available ? u128(high, low) : available > 0n ? available : 0n;
      c.cyclesBurned += amount;
      write128(dst, amount);
    },
    canister_self_size: () => self.length,
    canister_self_copy: (dst: number, offset: number, size: number) => copyOut(self, dst, offset, size),
    canister_cycle_balance: () => BigInt.asUintN(64, liquid(host, ctx())),
    canister_cycle_balance128: (dst: number) => write128(dst, liquid(host, ctx())),
    canister_liquid_cycle_balance128: (dst: number) => write128(dst, liquid(host, ctx())),
    canister_status: () => 1,
    canister_version: () => host.version(),
    call_new: (
      calleeSrc: number,
      calleeSize: number,
      nameSrc: number,
      nameSize: number,
      replyFun: number,
      replyEnv: number,
      rejectFun: number,
      rejectEnv: number
    ) => {
      const c = ctx();
      if (!c.mayCall) violation(`ic0.call_new cannot be called in ${c.kind}`);
      c.pendingCall = {
        callee: readBytes(calleeSrc, calleeSize),
        method: textOf(nameSrc, nameSize),
        argChunks: [],
        cycles: 0n,
        callback: { replyFun, replyEnv, rejectFun, rejectEnv }
      };
    },
    call_on_cleanup: (fun: number, env: number) => {
      const call = pendingCall('ic0.call_on_cleanup');
      if (call.callback.cleanup !== undefined) violation('ic0.call_on_cleanup called twice');
      call.callback.cleanup = { fun, env };
    },
    call_data_append: (src: number, size: number) => {
      pendingCall('ic0.call_data_append').argChunks.push(readBytes(src, size));
    },
    call_with_best_effort_response: (timeoutSeconds: number) => {
      const call = pendingCall('ic0.call_with_best_effort_response');
      if (call.bestEffortTimeoutSeconds !== undefined) violation('ic0.call_with_best_effort_response called twice');
      call.bestEffortTimeoutSeconds = Math.max(1, Math.min(300, timeoutSeconds >>> 0));
    },
    call_cycles_add: (amount: bigint) => addCycles(host, ctx(), pendingCall('ic0.call_cycles_add'), BigInt.asUintN(64, amount)),
    call_cycles_add128: (high: bigint, low: bigint) => addCycles(host, ctx(), pendingCall('ic0.call_cycles_add128'), u128(high, low)),
    call_perform: () => {
      const c = ctx();
      const call = pendingCall('ic0.call_perform');
      c.pendingCall = undefined;
      if (host.outputQueueFull(call.callee)) {
        // As the replica: the call is not made, the cycles it carried stay with the caller, SYS_TRANSIENT.
        c.cyclesSentByCalls -= call.cycles;
        return RejectCode.SysTransient;
      }
      c.performedCalls.push(call);
      return 0;
    },
    stable_size: () => {
      const size = host.stable.size;
      if (size > 65_536n) violation('ic0.stable_size: stable memory exceeds 4 GiB, use the 64-bit API');
      return Number(size);
    },
    stable_grow: (pages: number) => {
      const size = host.stable.size;
      if (size + BigInt(pages >>> 0) > 65_536n) return -1;
      return Number(host.stable.grow(BigInt(pages >>> 0)));
    },
    stable_write: (offset: number, src: number, size: number) => host.stable.write(BigInt(offset >>> 0), readBytes(src, size)),
    stable_read: (dst: number, offset: number, size: number) => stableRead(host, view, dst, BigInt(offset >>> 0), size),
    stable64_size: () => host.stable.size,
    stable64_grow: (pages: bigint) => host.stable.grow(pages),
    stable64_write: (offset: bigint, src: bigint, size: bigint) => host.stable.write(offset, readBytes(Number(src), Number(size))),
    stable64_read: (dst: bigint, offset: bigint, size: bigint) => stableRead(host, view, Number(dst), offset, Number(size)),
    certified_data_set: (src: number, size: number) => {
      const c = ctx();
      if (!c.replicated) violation('ic0.certified_data_set cannot be called in a query');
      if (size > MAX_CERTIFIED_DATA) violation(`certified data of ${size} bytes exceeds ${MAX_CERTIFIED_DATA}`);
      c.certifiedData = readBytes(src, size);
    },
    data_certificate_present: () => (ctx().init.dataCertificate !== undefined ? 1 : 0),
    data_certificate_size: () => {
      const certificate = ctx().init.dataCertificate;
      if (certificate === undefined) violation('ic0.data_certificate_size: no certificate in this context');
      return certificate.length;
    },
    data_certificate_copy: (dst: number, offset: number, size: number) => {
      const certificate = ctx().init.dataCertificate;
      if (certificate === undefined) violation('ic0.data_certificate_copy: no certificate in this context');
      copyOut(certificate, dst, offset, size);
    },
    time: () => ctx().init.timeNs,
    global_timer_set: (timestamp: bigint) => {
      const c = ctx();
      if (!c.replicated) violation('ic0.global_timer_set cannot be called in a query');
      const previous = c.globalTimer ?? host.committedGlobalTimer();
      c.globalTimer = BigInt.asUintN(64, timestamp);
      return previous;
    },
    performance_counter: (type: number) => {
      if (type === 0) return host.instructions();
      if (type === 1) return host.callContextInstructions();
      violation(`ic0.performance_counter: unknown counter type ${type}`);
    },
    is_controller: (src: number, size: number) => {
      if (size > 29) violation('ic0.is_controller: principal longer than 29 bytes');
      return host.isController(readBytes(src, size)) ? 1 : 0;
    },
    in_replicated_execution: () => (ctx().replicated ? 1 : 0),
    cost_call: (methodNameSize: bigint, payloadSize: bigint, dst: number) => write128(dst, host.costCall(methodNameSize, payloadSize)),
    cost_create_canister: (dst: number) => write128(dst, 500_000_000_000n),
    debug_print: (src: number, size: number) => {
      ctx().logs.push(textOf(src, Math.min(size, MAX_DEBUG_PRINT)));
    },
    trap: (src: number, size: number) => {
      throw new CanisterTrap(ErrorCode.CanisterCalledTrap, textOf(src, Math.min(size, MAX_DEBUG_PRINT)));
    }
  };
}

function methodName(c: ExecutionContext): string {
  if (
    c.kind !== 'inspect_message' &&
    c.kind !== 'update' &&
    c.kind !== 'query' &&
    c.kind !== 'replicated_query' &&
    c.kind !== 'composite_query'
  ) {
    violation(`ic0.msg_method_name_size cannot be called in ${c.kind}`);
  }
  return c.init.methodName;
}

function liquid(host: SystemApiHost, c: ExecutionContext): bigint {
  const value = host.cycleBalance() + c.cyclesAccepted - c.cyclesBurned - c.cyclesSentByCalls;
  return value > 0n ? value : 0n;
}

function acceptCycles(c: ExecutionContext, max: bigint): bigint {
  const available = c.init.cyclesAvailable - c.cyclesAccepted;
  const amount = max < available ? max : available;
  c.cyclesAccepted += amount;
  return amount;
}

function addCycles(host: SystemApiHost, c: ExecutionContext, call: { cycles: bigint }, amount: bigint): void {
  if (liquid(host, c) < amount) {
    throw new CanisterTrap(ErrorCode.CanisterOutOfCycles, `insufficient cycles to attach ${amount} to a call`);
  }
  call.cycles += amount;
  c.cyclesSentByCalls += amount;
}

function stableRead(host: SystemApiHost, view: () => Uint8Array, dst: number, offset: bigint, size: number): void {
  const memory = view();
  if (dst < 0 || dst + size > memory.length) violation('memory access out of bounds');
  host.markDirty(dst, size); // first: a read that fails part-way has still written
  host.stable.read(offset, size, memory, dst);
}
