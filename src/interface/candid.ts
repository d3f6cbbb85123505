import type { ActorMethod } from '@dfinity/agent';
import { IDL } from '@dfinity/candid';

/**
 * What every canister interface shares: Candid `opt T` as @dfinity/candid gives it, and method descriptors that
 * carry their argument and return types, so that a canister's decorator, its handler and the off-chain actors read
 * one declaration. No Node built-ins and no azle here: the explorer bundles this for browsers, canisters for QuickJS.
 */

/** Candid `opt T`, as @dfinity/candid encodes and decodes it. */
export type Opt<T> = [] | [T];

export const opt = <T>(value: T | undefined): Opt<T> => (value === undefined ? [] : [value]);
export const fromOpt = <T>(value: Opt<T>): T | undefined => value[0];

/** The case names of a Candid variant's JS value (`{ A: x } | { B: y }` → `'A' | 'B'`). */
export type VariantName<V> = V extends unknown ? keyof V & string : never;
/** The payload of case `K` of a Candid variant's JS value. */
export type VariantPayload<V, K extends VariantName<V>> = V extends Record<K, infer P> ? P : never;
/** One case of a Candid variant as a discriminated union on `name`. */
export type VariantCase<V> = { [K in VariantName<V>]: { name: K; value: VariantPayload<V, K> } }[VariantName<V>];

/**
 * The case a decoded Candid variant holds, typed: `switch (variantOf(err).name)` narrows `value`. A decoded variant
 * has exactly one own key, so the first key is the case.
 */
export function variantOf<V extends object>(variant: V): VariantCase<V> {
  const name = Object.keys(variant)[0] as VariantName<V>;
  return { name, value: (variant as Record<string, unknown>)[name] } as VariantCase<V>;
}

/**
 * An IDL type that states the JS value it encodes and decodes. `IDL.Record`/`IDL.Variant` are typed as
 * `Record<string, any>` by @dfinity/candid; the interface modules name the wire value beside each type instead.
 */
export type Typed<T> = IDL.Type<T>;
export const typed = <T>(type: IDL.Type): Typed<T> => type as Typed<T>;

/** @dfinity/candid types fixed-width naturals as `number | bigint`; up to 32 bits they decode as `number`. */
export const Nat8 = typed<number>(IDL.Nat8);
export const Nat16 = typed<number>(IDL.Nat16);
export const Nat32 = typed<number>(IDL.Nat32);
export const Nat64 = typed<bigint>(IDL.Nat64);
/** @dfinity/candid types `nat` and `int` as `number | bigint`; they decode as `bigint`. */
export const Nat = typed<bigint>(IDL.Nat);
export const Int = typed<bigint>(IDL.Int);
export const Text = typed<string>(IDL.Text);

/** The JS value of an IDL type. */
export type ValueOf<T> = T extends IDL.Type<infer V> ? V : never;
export type ValuesOf<T extends readonly IDL.Type[]> = { -readonly [K in keyof T]: ValueOf<T[K]> };

/** One canister method: its Candid signature, with the JS types of its arguments (`A`) and its reply (`R`). */
export interface Method<A extends unknown[], R> {
  readonly args: IDL.Type[];
  /** The reply type; `undefined` for a method that replies with no value. */
  readonly ret: IDL.Type | undefined;
  readonly mode: 'query' | 'update';
  /** Never set: carries `A` and `R` for the type checker. */
  readonly types?: { args: A; ret: R };
}

export type AnyMethod = Method<any[], any>;
export type ArgsOf<M> = M extends Method<infer A, unknown> ? A : never;
export type ReturnOf<M> = M extends Method<any[], infer R> ? R : never;

function method<const P extends readonly IDL.Type[], R>(mode: 'query' | 'update', args: P, ret: IDL.Type<R> | undefined) {
  return { args: [...args], ret, mode } as Method<ValuesOf<P>, R>;
}

export const query = <const P extends readonly IDL.Type[], R>(args: P, ret: IDL.Type<R>): Method<ValuesOf<P>, R> =>
  method('query', args, ret);
export const update = <const P extends readonly IDL.Type[], R>(args: P, ret: IDL.Type<R>): Method<ValuesOf<P>, R> =>
  method('update', args, ret);
/** An update that replies with no value (the management canister's install_code and others). */
export const updateVoid = <const P extends readonly IDL.Type[]>(args: P): Method<ValuesOf<P>, void> =>
  method<P, void>('update', args, undefined);

type FuncArgs = Parameters<typeof IDL.Func>[0];

/** The IDL service of a method table (for `Actor.createActor` and the generated .did). */
export function serviceOf(methods: Record<string, AnyMethod>): IDL.ServiceClass {
  return IDL.Service(
    Object.fromEntries(
      Object.entries(methods).map(([name, m]) => [
        name,
        IDL.Func(m.args as FuncArgs, m.ret === undefined ? [] : [m.ret], m.mode === 'query' ? ['query'] : [])
      ])
    )
  );
}

/** The actor type of a method table: what `Actor.createActor` returns for its service. */
export type ServiceOf<M extends Record<string, AnyMethod>> = { [K in keyof M]: ActorMethod<ArgsOf<M[K]>, ReturnOf<M[K]>> };

/** A Candid interface as the .did generator reads it: the service, its init arguments, and the names of its types. */
export interface CandidInterface {
  service: IDL.ServiceClass;
  /** The arguments of `service : (…) -> {…}`. */
  init: IDL.Type[];
  /** Named types, in the order the .did lists them; a reference to one of these objects is written by name. */
  types: Record<string, IDL.Type>;
}
