import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Actor, HttpAgent, type ActorSubclass, type Identity } from '@dfinity/agent';
import { IDL } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';

/** The probe fixture's interface (tests/fixtures/probe/probe.did). */
export const probeIdl: IDL.InterfaceFactory = ({ IDL: I }) => {
  const outcome = I.Variant({ Ok: I.Text, Err: I.Record({ code: I.Nat32, message: I.Text }) });
  return I.Service({
    call_greet: I.Func([I.Principal, I.Text], [outcome], []),
    call_method: I.Func([I.Principal, I.Text], [outcome], []),
    call_throw: I.Func([I.Principal, I.Text], [outcome], []),
    certificate: I.Func([], [I.Opt(I.Vec(I.Nat8))], ['query']),
    counter: I.Func([I.Text], [I.Nat], ['query']),
    // composite queries (azle 0.33 writes them as `query` in its .did; the Wasm exports canister_composite_query)
    cq_call: I.Func([I.Principal, I.Text, I.Text], [outcome], ['composite_query']),
    cq_inc: I.Func([I.Principal], [I.Vec(I.Nat)], ['composite_query']),
    cq_nested: I.Func([I.Principal, I.Nat32], [I.Text], ['composite_query']),
    cq_trap_after_call: I.Func([I.Principal], [I.Text], ['composite_query']),
    cq_work: I.Func([I.Principal, I.Nat32, I.Nat32], [I.Vec(I.Nat64)], ['composite_query']),
    flood: I.Func([I.Principal, I.Nat32], [I.Record({ replied: I.Nat32, performFailed: I.Nat32, rejected: I.Nat32 })], []),
    never_reply: I.Func([], [I.Null], []),
    reject_always: I.Func([], [I.Null], []),
    get: I.Func([I.Text], [I.Opt(I.Text)], ['query']),
    greet: I.Func([I.Text], [I.Text], ['query']),
    heap_counter: I.Func([], [I.Nat], ['query']),
    increment: I.Func([], [I.Nat], []),
    loop_forever: I.Func([I.Text], [I.Null], []),
    now: I.Func([], [I.Nat64], ['query']),
    put: I.Func([I.Text, I.Text], [I.Opt(I.Text)], []),
    put_then_trap: I.Func([I.Text, I.Text], [I.Null], []),
    query_mutates: I.Func([], [I.Nat], ['query']),
    random_bytes: I.Func([], [I.Vec(I.Nat8)], []),
    raw_rand: I.Func([], [I.Vec(I.Nat8)], []),
    refused_by_inspect: I.Func([], [I.Null], []),
    schedule_timer: I.Func([I.Nat32], [I.Nat64], []),
    self: I.Func([], [I.Principal], ['query']),
    set_certified: I.Func([I.Vec(I.Nat8)], [I.Null], []),
    size: I.Func([], [I.Nat64], ['query']),
    throw_error: I.Func([I.Text], [I.Null], []),
    whoami: I.Func([], [I.Principal], ['query']),
    whoami_update: I.Func([], [I.Principal], []),
    work: I.Func([I.Nat32], [I.Nat64], []),
    work_query: I.Func([I.Nat32], [I.Nat64], ['query'])
  });
};

type CallOutcome = { Ok: string } | { Err: { code: number; message: string } };
export interface ProbeActor {
  call_greet(callee: Principal, name: string): Promise<CallOutcome>;
  call_method(callee: Principal, method: string): Promise<CallOutcome>;
  call_throw(callee: Principal, message: string): Promise<CallOutcome>;
  certificate(): Promise<[] | [Uint8Array]>;
  counter(name: string): Promise<bigint>;
  cq_call(callee: Principal, method: string, arg: string): Promise<CallOutcome>;
  cq_inc(callee: Principal): Promise<bigint[]>;
  cq_nested(callee: Principal, depth: number): Promise<string>;
  cq_trap_after_call(callee: Principal): Promise<string>;
  cq_work(callee: Principal, rounds: number, times: number): Promise<bigint[]>;
  flood(callee: Principal, count: number): Promise<{ replied: number; performFailed: number; rejected: number }>;
  never_reply(): Promise<null>;
  reject_always(): Promise<null>;
  get(key: string): Promise<[] | [string]>;
  greet(name: string): Promise<string>;
  heap_counter(): Promise<bigint>;
  increment(): Promise<bigint>;
  loop_forever(key: string): Promise<null>;
  now(): Promise<bigint>;
  put(key: string, value: string): Promise<[] | [string]>;
  put_then_trap(key: string, value: string): Promise<null>;
  query_mutates(): Promise<bigint>;
  random_bytes(): Promise<Uint8Array>;
  raw_rand(): Promise<Uint8Array>;
  refused_by_inspect(): Promise<null>;
  schedule_timer(seconds: number): Promise<bigint>;
  self(): Promise<Principal>;
  set_certified(data: Uint8Array): Promise<null>;
  size(): Promise<bigint>;
  throw_error(message: string): Promise<null>;
  whoami(): Promise<Principal>;
  whoami_update(): Promise<Principal>;
  work(rounds: number): Promise<bigint>;
  work_query(rounds: number): Promise<bigint>;
}

const root = join(import.meta.dirname, '..', '..');

/** The built probe Wasm (npm test builds it first through scripts/build-canisters.ts). */
export function probeWasm(): Uint8Array {
  return new Uint8Array(readFileSync(join(root, 'tests', 'fixtures', '.azle', 'probe', 'probe.wasm')));
}

export async function agentFor(url: string, identity?: Identity): Promise<HttpAgent> {
  return HttpAgent.create({ host: url, shouldFetchRootKey: true, identity });
}

export function probeActor(agent: HttpAgent, canisterId: Principal): ActorSubclass<ProbeActor> {
  return Actor.createActor<ProbeActor>(probeIdl, { agent, canisterId });
}
