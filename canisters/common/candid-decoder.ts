import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';

import { absent, allowanceFor, planOf, tableAllowanceFor, type Plan } from './candid-plan.js';
import {
  CandidDecodeError,
  type Entry,
  fail,
  HeaderReader,
  MAX_DEPTH,
  MAX_ZERO_SIZED,
  mismatch,
  Op,
  Reader,
  TypeMismatch,
  type WireRef
} from './candid-wire.js';
import { utf8Decode } from './utf8.js';

export { BytesText } from './candid-plan.js';
export { CandidDecodeError } from './candid-wire.js';

/**
 * Candid messages decoded by plans built once per expected type, guided by the message's own type table (the Candid
 * binary format and its subtyping rules for records, variants, opt, nat <: int and reserved). @dfinity/candid's
 * `IDL.decode` rebuilds IDL types from the table and renders every type's name (long strings for our records) to check
 * subtyping, per message: under QuickJS a small submit_task argument cost ~22M instructions to decode, which anybody
 * could make the registry spend without paying (issue 15). This decoder gives the same values
 * (tests/unit/canisters/candid-decoder.test.ts compares it with IDL.decode over every argument type of both canisters,
 * and over wire types a client may send instead: missing opt fields, extra fields, nat for int, …). Argument types it
 * has no plan for (func, service, recursive types, vectors of wide fixed-size numbers) go to IDL.decode.
 */

class Message {
  readonly table: Entry[];
  readonly args: WireRef[];
  private visits = 0;
  private readonly sizeless = new Map<WireRef, boolean>();
  constructor(
    readonly r: Reader,
    private readonly maxVisits: number,
    maxTable: number
  ) {
    const header = new HeaderReader(r, maxTable);
    header.read();
    this.table = header.table;
    this.args = header.args;
  }

  private visit(): void {
    if (++this.visits > this.maxVisits) fail(`message too costly to decode (more than ${this.maxVisits} values and fields)`);
  }

  /** The opcode of a wire type (a table entry's constructor, or the primitive itself). */
  op(t: WireRef): Op {
    return t >= 0 ? (this.table[t] as Entry).op : t;
  }
  entry(t: WireRef): Entry {
    return this.table[t] as Entry;
  }

  decode(plan: Plan, t: WireRef, depth: number): unknown {
    if (depth > MAX_DEPTH) fail('value nested too deeply');
    this.visit();
    const op = this.op(t);
    const r = this.r;
    switch (plan.kind) {
      case 'prim':
        return this.primitive(plan.op, op, t, depth);
      case 'bytesText':
        if (op !== Op.Text) mismatch('text expected');
        return r.take(r.count());
      case 'blob': {
        if (op !== Op.Vec) mismatch('vec expected');
        const inner = (this.entry(t) as { inner: WireRef }).inner;
        if (inner === Op.Nat8) return new Uint8Array(r.take(r.count()));
        return this.vector(t, (item) => this.primitive(Op.Nat8, this.op(item), item, depth + 1), depth);
      }
      case 'vec': {
        if (op !== Op.Vec) mismatch('vec expected');
        return this.vector(t, (item) => this.decode(plan.inner, item, depth + 1), depth);
      }
      case 'opt':
        return this.opt(plan, t, op, depth);
      case 'record': {
        if (op !== Op.Record) mismatch('record expected');
        const out: Record<string, unknown> = {};
        const wire = (this.entry(t) as { fields: Array<[number, WireRef]> }).fields;
        let w = 0;
        for (const field of plan.fields) {
          while (w < wire.length && (wire[w] as [number, WireRef])[0] < field.hash)
            this.skipValue((wire[w++] as [number, WireRef])[1], depth + 1);
          const here = wire[w];
          if (here !== undefined && here[0] === field.hash) {
            out[field.name] = this.decode(field.plan, here[1], depth + 1);
            w++;
          } else out[field.name] = absent(field.plan, `record field ${field.name}`);
        }
        while (w < wire.length) this.skipValue((wire[w++] as [number, WireRef])[1], depth + 1);
        return plan.tuple ? plan.fields.map((f) => out[f.name]) : out;
      }
      case 'variant': {
        if (op !== Op.Variant) mismatch('variant expected');
        const wire = (this.entry(t) as { fields: Array<[number, WireRef]> }).fields;
        const chosen = wire[r.count()] ?? fail('variant index out of range');
        const found = plan.cases.get(chosen[0]) ?? mismatch(`variant case ${chosen[0]} unknown`);
        return { [found.name]: this.decode(found.plan, chosen[1], depth + 1) };
      }
    }
  }

  private vector(t: WireRef, item: (wire: WireRef) => unknown, depth: number): unknown[] {
    const inner = (this.entry(t) as { inner: WireRef }).inner;
    const n = this.r.count();
    this.bound(inner, n, depth);
    const out: unknown[] = [];
    for (let i = 0; i < n; i++) out.push(item(inner));
    return out;
  }

  /** Refuses a vector longer than its bytes could hold (or, for values that take no bytes, than MAX_ZERO_SIZED). */
  private bound(inner: WireRef, n: number, depth: number): void {
    if (n <= this.r.bytes.length - this.r.pos) {
      if (!this.zeroSized(inner, depth)) return;
    } else if (!this.zeroSized(inner, depth)) fail('vector longer than the message');
    this.r.zeroSized += n;
    if (this.r.zeroSized > MAX_ZERO_SIZED) fail('too many values of a zero-sized type');
  }
  /** Whether values of wire type `t` take no bytes (null, reserved, records of such); kept per type. */
  private zeroSized(t: WireRef, depth: number): boolean {
    if (depth > MAX_DEPTH) return fail('type nested too deeply');
    const known = this.sizeless.get(t);
    if (known !== undefined) return known;
    this.visit();
    const op = this.op(t);
    let answer = op === Op.Null || op === Op.Reserved;
    if (op === Op.Record) {
      answer = true;
      const fields = (this.entry(t) as { fields: Array<[number, WireRef]> }).fields;
      for (let i = 0; answer && i < fields.length; i++) answer = this.zeroSized((fields[i] as [number, WireRef])[1], depth + 1);
    }
    this.sizeless.set(t, answer);
    return answer;
  }

  private opt(plan: { inner: Plan }, t: WireRef, op: Op, depth: number): unknown[] {
    if (op === Op.Null || op === Op.Reserved) return [];
    const r = this.r;
    if (op === Op.Opt) {
      const flag = r.byte();
      if (flag === 0) return [];
      if (flag !== 1) fail('opt flag is neither 0 nor 1');
      return this.attempt(plan.inner, (this.entry(t) as { inner: WireRef }).inner, depth);
    }
    // A value of a non-opt wire type for `opt t`: decoded as t if t cannot itself be absent, else none.
    const inner = plan.inner;
    if (inner.kind === 'opt' || (inner.kind === 'prim' && (inner.op === Op.Null || inner.op === Op.Reserved))) {
      this.skipValue(t, depth + 1);
      return [];
    }
    return this.attempt(inner, t, depth);
  }

  /** `opt` decoding: a value that does not decode at the expected type is none (its bytes skipped). */
  private attempt(plan: Plan, t: WireRef, depth: number): unknown[] {
    const saved = this.r.pos;
    const zeroSized = this.r.zeroSized;
    try {
      return [this.decode(plan, t, depth + 1)];
    } catch (error) {
      // Only a value of another type is none; a malformed one (or one too costly) fails the whole message.
      if (!(error instanceof TypeMismatch)) throw error;
      this.r.pos = saved;
      this.r.zeroSized = zeroSized;
      this.skipValue(t, depth + 1);
      return [];
    }
  }

  private primitive(want: Op, op: Op, t: WireRef, depth: number): unknown {
    const r = this.r;
    if (want === Op.Reserved) {
      this.skipValue(t, depth + 1);
      return null;
    }
    // nat <: int is the only subtyping between primitives.
    if (op !== want && !(want === Op.Int && op === Op.Nat)) mismatch(`type mismatch: opcode ${want} expected, ${op} sent`);
    switch (op) {
      case Op.Null:
        return null;
      case Op.Bool: {
        const b = r.byte();
        if (b > 1) fail('bool is neither 0 nor 1');
        return b === 1;
      }
      case Op.Nat:
        return r.leb(false);
      case Op.Int:
        return r.leb(true);
      case Op.Nat8:
        return r.fixed(1, false);
      case Op.Nat16:
        return r.fixed(2, false);
      case Op.Nat32:
        return r.fixed(4, false);
      case Op.Nat64:
        return r.fixed(8, false);
      case Op.Int8:
        return r.fixed(1, true);
      case Op.Int16:
        return r.fixed(2, true);
      case Op.Int32:
        return r.fixed(4, true);
      case Op.Int64:
        return r.fixed(8, true);
      case Op.Float32:
        return r.float(32);
      case Op.Float64:
        return r.float(64);
      case Op.Text:
        return this.text();
      case Op.Principal:
        return this.principal();
      default:
        return fail(`opcode ${op} cannot be decoded here`);
    }
  }

  private text(): string {
    try {
      return utf8Decode(this.r.take(this.r.count()));
    } catch (error) {
      if (error instanceof CandidDecodeError) throw error;
      return fail('text is not UTF-8');
    }
  }
  private principal(): Principal {
    if (this.r.byte() !== 1) fail('opaque principal reference');
    const n = this.r.count();
    if (n > 29) fail('principal longer than 29 bytes');
    return Principal.fromUint8Array(new Uint8Array(this.r.take(n)));
  }

  /** Reads past a value of wire type `t`, checking it as far as its encoding goes. */
  skipValue(t: WireRef, depth: number): void {
    if (depth > MAX_DEPTH) fail('value nested too deeply');
    this.visit();
    const r = this.r;
    const op = this.op(t);
    switch (op) {
      case Op.Null:
      case Op.Reserved:
        return;
      case Op.Empty:
        return void fail('a value of type empty');
      case Op.Bool:
      case Op.Nat8:
      case Op.Int8:
        return void r.take(1);
      case Op.Nat16:
      case Op.Int16:
        return void r.take(2);
      case Op.Nat32:
      case Op.Int32:
      case Op.Float32:
        return void r.take(4);
      case Op.Nat64:
      case Op.Int64:
      case Op.Float64:
        return void r.take(8);
      case Op.Nat:
      case Op.Int:
        return void r.leb(false);
      case Op.Text:
        return void this.text();
      case Op.Principal:
        return void this.principal();
      case Op.Opt: {
        const flag = r.byte();
        if (flag === 1) return this.skipValue((this.entry(t) as { inner: WireRef }).inner, depth + 1);
        if (flag !== 0) fail('opt flag is neither 0 nor 1');
        return;
      }
      case Op.Vec: {
        const inner = (this.entry(t) as { inner: WireRef }).inner;
        const n = r.count();
        this.bound(inner, n, depth);
        if (this.op(inner) === Op.Nat8) return void r.take(n);
        // Values that take no bytes (counted by bound) have nothing to read or check.
        if (this.zeroSized(inner, depth)) return;
        for (let i = 0; i < n; i++) this.skipValue(inner, depth + 1);
        return;
      }
      case Op.Record: {
        // A record of null, reserved and such records takes no bytes and cannot be malformed: nothing to walk, so a
        // table whose records point twice to the next costs a visit per type, not 2^levels (R3-D1).
        if (this.zeroSized(t, depth)) return;
        // Index loops: for-of and destructuring run the iterator protocol, calls per element under QuickJS.
        const fields = (this.entry(t) as { fields: Array<[number, WireRef]> }).fields;
        for (let i = 0; i < fields.length; i++) this.skipValue((fields[i] as [number, WireRef])[1], depth + 1);
        return;
      }
      case Op.Variant: {
        const chosen = (this.entry(t) as { fields: Array<[number, WireRef]> }).fields[r.count()] ?? fail('variant index out of range');
        return this.skipValue(chosen[1], depth + 1);
      }
      case Op.Func:
        if (r.byte() !== 1) fail('opaque func reference');
        this.principal();
        r.take(r.count());
        return;
      case Op.Service:
        if (r.byte() !== 1) fail('opaque service reference');
        this.principal();
        return;
      default:
        fail(`opcode ${op}`);
    }
  }
}

/**
 * Builds the plans of these types now: call it from init/post_upgrade, so that no caller's message pays for them (a
 * query cannot keep what it computes).
 */
export function warmArgPlans(types: IDL.Type[]): void {
  for (const type of types) planOf(type);
}

/**
 * The values of a Candid message decoded at the expected `types`, as IDL.decode gives them (bigint for nat, int and
 * 64-bit numbers, `[]`/`[v]` for opt, Uint8Array for blobs, Principal, arrays for tuples); `BytesText` values are
 * Uint8Array views of the message. Throws a CandidDecodeError on a malformed message or a type mismatch.
 */
export function decodeArgs(types: IDL.Type[], bytes: Uint8Array): unknown[] {
  const argPlans = types.map(planOf);
  if (argPlans.some((plan) => plan === null)) return IDL.decode(types, bytes);
  const message = new Message(new Reader(bytes), allowanceFor(argPlans as Plan[], bytes.length), tableAllowanceFor(argPlans as Plan[]));
  if (message.args.length < types.length) {
    // Missing trailing arguments are allowed only where a missing value means something (opt, null, reserved).
    for (let i = message.args.length; i < types.length; i++) absent(argPlans[i] as Plan, `argument ${i}`);
  }
  const out = argPlans.map((plan, i) => {
    const wire = message.args[i];
    return wire === undefined ? absent(plan as Plan, `argument ${i}`) : message.decode(plan as Plan, wire, 0);
  });
  for (let i = types.length; i < message.args.length; i++) message.skipValue(message.args[i] as WireRef, 0);
  if (message.r.pos !== bytes.length) fail('bytes left over after the arguments');
  return out;
}
