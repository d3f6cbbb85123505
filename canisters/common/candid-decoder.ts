import { IDL, idlLabelToId } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';

import { utf8Decode } from './utf8.js';

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

/** A wire type: a primitive's negative opcode, or an index into the message's type table. */
type WireRef = number;

const enum Op {
  Null = -1,
  Bool = -2,
  Nat = -3,
  Int = -4,
  Nat8 = -5,
  Nat16 = -6,
  Nat32 = -7,
  Nat64 = -8,
  Int8 = -9,
  Int16 = -10,
  Int32 = -11,
  Int64 = -12,
  Float32 = -13,
  Float64 = -14,
  Text = -15,
  Reserved = -16,
  Empty = -17,
  Opt = -18,
  Vec = -19,
  Record = -20,
  Variant = -21,
  Func = -22,
  Service = -23,
  Principal = -24
}

type Entry =
  { op: Op.Opt | Op.Vec; inner: WireRef } | { op: Op.Record | Op.Variant; fields: Array<[number, WireRef]> } | { op: Op.Func | Op.Service };

/** Values nested deeper than this are refused (a recursive wire type could otherwise exhaust the stack). */
const MAX_DEPTH = 64;
/** Elements of zero-sized types (null, reserved, empty records) a message may claim: they cost nothing on the wire. */
const MAX_ZERO_SIZED = 10_000;
/** LEB128 bytes of a length or count (at most 2^32 - 1, possibly not minimally encoded). */
const MAX_LEB_BYTES = 10;
/** LEB128 bytes of a nat or int value: 2^448, far above any amount; a longer one would cost quadratic bigint work. */
const MAX_NUMBER_BYTES = 64;
const MAGIC = [0x44, 0x49, 0x44, 0x4c];

export class CandidDecodeError extends Error {}

/** A value of another type than expected (as opposed to a malformed encoding): inside an opt it decodes as none. */
class TypeMismatch extends CandidDecodeError {}

const fail = (message: string): never => {
  throw new CandidDecodeError(`candid: ${message}`);
};
const mismatch = (message: string): never => {
  throw new TypeMismatch(`candid: ${message}`);
};

/**
 * Values, fields and type-table entries a message may make the decoder visit (decoded, skipped, checked for size or
 * parsed): 512, one more per 8 bytes of its first 32 KiB and per KiB after (arguments without vectors get fewer, see
 * allowanceFor). Values of zero-sized types take no bytes, so without this a
 * ~100-byte type table of records whose fields point twice to the next record costs 2^levels visits (review 3,
 * R3-D1), and a vec of one-byte records with thousands of null fields costs elements × fields (R3-D1c); a visit costs
 * ~10K instructions under QuickJS. The largest honest messages stay below it: a 256-entry settle_usage batch (17 KiB,
 * ~2,300 visits of 2,700), a submit_task (~150 plus its lists), a complete_task with a 256 KiB output (~20).
 */
const maxVisitsFor = (bytes: number): number =>
  512 + Math.floor(Math.min(bytes, 32_768) / 8) + Math.floor(Math.max(0, bytes - 32_768) / 1_024);

/**
 * Visits a message for arguments without vectors may take, whatever its size: twice what their values and fields
 * count (table entries and fields count too) plus room for fields and arguments a newer client adds. An anonymous
 * get_task then stops a hostile type table or extra argument after ~130 visits (~4M instructions), not ~1,000.
 */
const FIXED_SLACK = 128;
const fixedVisitsOf = new WeakMap<Plan, number | null>();

/** Values and fields a value of `plan` holds at most; null when a vector makes it grow with the message. */
function fixedVisits(plan: Plan): number | null {
  const known = fixedVisitsOf.get(plan);
  if (known !== undefined) return known;
  let n: number | null = 1;
  const add = (inner: Plan): void => {
    const more = fixedVisits(inner);
    n = n === null || more === null ? null : n + more;
  };
  switch (plan.kind) {
    case 'vec':
      n = null;
      break;
    case 'opt':
      add(plan.inner);
      break;
    case 'record':
      for (const field of plan.fields) add(field.plan);
      break;
    case 'variant': {
      let widest: number | null = 0;
      for (const { plan: inner } of plan.cases.values()) {
        const more = fixedVisits(inner);
        widest = widest === null || more === null ? null : Math.max(widest, more);
      }
      n = widest === null ? null : 1 + widest;
      break;
    }
    default:
      break;
  }
  fixedVisitsOf.set(plan, n);
  return n;
}

/**
 * Type-table entries, fields, func arguments and service methods a message may declare: twice what the expected types'
 * own table holds plus 64 (a newer client's extra fields and arguments), whatever the message's size. Parsing one costs
 * ~35K instructions under QuickJS; a table sized to a 64 KiB argument cost 174M before it was refused, and one service
 * entry of 2-byte methods, uncounted, 5.6B (review 4, R4-D1 and R4-D2).
 */
const TABLE_SLACK = 64;
const tableItemsOf = new WeakMap<Plan, number>();

/** Entries and fields an encoder writes in the type table for `plan` (shared types counted at each use). */
function tableItems(plan: Plan): number {
  const known = tableItemsOf.get(plan);
  if (known !== undefined) return known;
  let n = 0;
  switch (plan.kind) {
    case 'blob':
      n = 1;
      break;
    case 'opt':
    case 'vec':
      n = 1 + tableItems(plan.inner);
      break;
    case 'record':
      n = 1 + plan.fields.length;
      for (const field of plan.fields) n += tableItems(field.plan);
      break;
    case 'variant':
      n = 1 + plan.cases.size;
      for (const { plan: inner } of plan.cases.values()) n += tableItems(inner);
      break;
    default:
      break;
  }
  tableItemsOf.set(plan, n);
  return n;
}

function tableAllowanceFor(plans: Plan[]): number {
  let n = 0;
  for (const plan of plans) n += tableItems(plan);
  return 2 * n + TABLE_SLACK;
}

function allowanceFor(plans: Plan[], bytes: number): number {
  let fixed = 0;
  for (const plan of plans) {
    const n = fixedVisits(plan);
    if (n === null) return maxVisitsFor(bytes);
    fixed += n;
  }
  return Math.min(2 * fixed + FIXED_SLACK, maxVisitsFor(bytes));
}

class Reader {
  pos = 0;
  zeroSized = 0;
  constructor(readonly bytes: Uint8Array) {}

  byte(): number {
    const b = this.bytes[this.pos];
    if (b === undefined) return fail('unexpected end of message');
    this.pos++;
    return b;
  }
  take(n: number): Uint8Array {
    if (n > this.bytes.length - this.pos) fail('unexpected end of message');
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  /** An unsigned LEB128 that is a count or length (at most 2^32 - 1). Local variables only: calls cost under QuickJS. */
  count(): number {
    const bytes = this.bytes;
    let pos = this.pos;
    let n = 0;
    let scale = 1;
    for (let i = 0; i < MAX_LEB_BYTES; i++) {
      const b = bytes[pos++];
      if (b === undefined) return fail('unexpected end of message');
      n += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (n > 0xffffffff) fail('length out of range');
        this.pos = pos;
        return n;
      }
      scale *= 128;
    }
    return fail('length out of range');
  }
  /** A signed LEB128 that is a type reference or opcode (small). */
  typeRef(): number {
    const bytes = this.bytes;
    let pos = this.pos;
    let n = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[pos++];
      if (b === undefined) return fail('unexpected end of message');
      n |= (b & 0x7f) << shift;
      shift += 7;
      if ((b & 0x80) === 0) {
        if (shift < 32 && (b & 0x40) !== 0) n |= -1 << shift;
        this.pos = pos;
        return n;
      }
      if (shift >= 28) fail('type reference out of range');
    }
  }
  /** A LEB128 (signed: SLEB128) number of at most MAX_NUMBER_BYTES bytes, summed as a double while exact. */
  leb(signed: boolean): bigint {
    let small = 0;
    let scale = 1;
    let big = 0n;
    let shift = 0n;
    for (let i = 0; i < MAX_NUMBER_BYTES; i++) {
      const b = this.byte();
      if (i < 7) {
        small += (b & 0x7f) * scale;
        scale *= 128;
      } else {
        if (i === 7) {
          big = BigInt(small);
          shift = 49n;
        }
        big |= BigInt(b & 0x7f) << shift;
        shift += 7n;
      }
      if ((b & 0x80) === 0) {
        const n = i < 7 ? BigInt(small) : big;
        if (!signed || (b & 0x40) === 0) return n;
        return n - (1n << BigInt(7 * (i + 1)));
      }
    }
    return fail(`number longer than ${MAX_NUMBER_BYTES} bytes`);
  }
  fixed(bytes: number, signed: boolean): bigint | number {
    const raw = this.take(bytes);
    if (bytes <= 4) {
      let n = 0;
      for (let i = bytes - 1; i >= 0; i--) n = n * 256 + (raw[i] as number);
      return signed && n >= 2 ** (bytes * 8 - 1) ? n - 2 ** (bytes * 8) : n;
    }
    let n = 0n;
    for (let i = bytes - 1; i >= 0; i--) n = (n << 8n) | BigInt(raw[i] as number);
    return signed ? BigInt.asIntN(64, n) : n;
  }
  float(bits: 32 | 64): number {
    const raw = this.take(bits / 8);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    return bits === 64 ? view.getFloat64(0, true) : view.getFloat32(0, true);
  }
}

/** What a value of an expected type decodes through. */
type Plan =
  | { kind: 'prim'; op: Op }
  | { kind: 'bytesText' }
  | { kind: 'opt'; inner: Plan }
  | { kind: 'vec'; inner: Plan }
  | { kind: 'blob' }
  | { kind: 'record'; fields: Array<{ hash: number; name: string; plan: Plan }>; tuple: boolean }
  | { kind: 'variant'; cases: Map<number, { name: string; plan: Plan }> };

/** A text decoded as its UTF-8 bytes (a view into the message), for a value the method measures before it reads. */
export class BytesText extends IDL.TextClass {
  /** The mark the decoder looks for (@dfinity/candid's classes answer `instanceof` by type name, for any text). */
  readonly keepsBytes = true;
}

const keepsBytes = (t: IDL.TextClass): boolean => (t as Partial<BytesText>).keepsBytes === true;

class Unsupported extends Error {}

class Planner extends IDL.Visitor<null, Plan> {
  private readonly cache = new Map<IDL.Type, Plan>();

  plan(type: IDL.Type): Plan {
    let plan = this.cache.get(type);
    if (plan === undefined) {
      if (type instanceof IDL.RecClass) throw new Unsupported('recursive type');
      plan = type.accept(this, null);
      this.cache.set(type, plan);
    }
    return plan;
  }
  override visitType<T>(t: IDL.Type<T>): Plan {
    throw new Unsupported(t.name);
  }
  override visitNull(): Plan {
    return { kind: 'prim', op: Op.Null };
  }
  override visitReserved(): Plan {
    return { kind: 'prim', op: Op.Reserved };
  }
  override visitBool(): Plan {
    return { kind: 'prim', op: Op.Bool };
  }
  override visitText(t: IDL.TextClass): Plan {
    return keepsBytes(t) ? { kind: 'bytesText' } : { kind: 'prim', op: Op.Text };
  }
  override visitNat(): Plan {
    return { kind: 'prim', op: Op.Nat };
  }
  override visitInt(): Plan {
    return { kind: 'prim', op: Op.Int };
  }
  override visitFloat(t: IDL.FloatClass): Plan {
    return { kind: 'prim', op: t._bits === 32 ? Op.Float32 : Op.Float64 };
  }
  override visitFixedNat(t: IDL.FixedNatClass): Plan {
    return {
      kind: 'prim',
      op: ({ 8: Op.Nat8, 16: Op.Nat16, 32: Op.Nat32, 64: Op.Nat64 } as Record<number, Op>)[t._bits] ?? fail('nat size')
    };
  }
  override visitFixedInt(t: IDL.FixedIntClass): Plan {
    return {
      kind: 'prim',
      op: ({ 8: Op.Int8, 16: Op.Int16, 32: Op.Int32, 64: Op.Int64 } as Record<number, Op>)[t._bits] ?? fail('int size')
    };
  }
  override visitPrincipal(): Plan {
    return { kind: 'prim', op: Op.Principal };
  }
  override visitVec<T>(_t: IDL.VecClass<T>, ty: IDL.Type<T>): Plan {
    if (ty instanceof IDL.FixedNatClass && ty._bits === 8) return { kind: 'blob' };
    // IDL.decode gives typed arrays for the other fixed-size numbers: those few types keep its decoder.
    if (ty instanceof IDL.FixedNatClass || ty instanceof IDL.FixedIntClass) throw new Unsupported('vec of fixed-size numbers');
    return { kind: 'vec', inner: this.plan(ty) };
  }
  override visitOpt<T>(_t: IDL.OptClass<T>, ty: IDL.Type<T>): Plan {
    return { kind: 'opt', inner: this.plan(ty) };
  }
  override visitRecord(_t: IDL.RecordClass, fields: Array<[string, IDL.Type]>): Plan {
    return {
      kind: 'record',
      fields: fields.map(([name, type]) => ({ hash: idlLabelToId(name), name, plan: this.plan(type) })).sort((a, b) => a.hash - b.hash),
      tuple: false
    };
  }
  override visitTuple<T extends unknown[]>(_t: IDL.TupleClass<T>, components: IDL.Type[]): Plan {
    return { kind: 'record', fields: components.map((type, i) => ({ hash: i, name: String(i), plan: this.plan(type) })), tuple: true };
  }
  override visitVariant(_t: IDL.VariantClass, fields: Array<[string, IDL.Type]>): Plan {
    return { kind: 'variant', cases: new Map(fields.map(([name, type]) => [idlLabelToId(name), { name, plan: this.plan(type) }])) };
  }
}

const planner = new Planner();

/** The value a missing record field or argument of this plan takes (opt: none, null and reserved: null). */
function absent(plan: Plan, what: string): unknown {
  if (plan.kind === 'opt') return [];
  if (plan.kind === 'prim' && (plan.op === Op.Null || plan.op === Op.Reserved)) return null;
  return mismatch(`missing ${what}`);
}

/** A message's magic and type table as parsed, kept for the next message that starts with the same bytes. */
interface Header {
  key: string;
  table: Entry[];
  args: WireRef[];
}

/**
 * Headers seen lately: a client sends the same type table with every call, and parsing it costs more than the values
 * (~2.5M instructions for submit_task's). A different table is parsed as usual; only tables up to MAX_KEPT_HEADER bytes
 * are kept, at most MAX_HEADERS of them (the newest first).
 */
const recent: Header[] = [];
const MAX_HEADERS = 16;
const MAX_KEPT_HEADER = 2048;
const latin1 = (bytes: Uint8Array): string => String.fromCharCode.apply(null, bytes as unknown as number[]);

class Message {
  table: Entry[] = [];
  args: WireRef[] = [];
  private visits = 0;
  private readonly maxVisits: number;
  private readonly sizeless = new Map<WireRef, boolean>();
  private tableSeen = 0;
  constructor(
    readonly r: Reader,
    maxVisits: number,
    private readonly maxTable: number
  ) {
    this.maxVisits = maxVisits;
  }

  /** One more type-table entry, field, func argument or service method (tableAllowanceFor). */
  private tableItem(): void {
    if (++this.tableSeen > this.maxTable) fail(`type table too large (more than ${this.maxTable} entries and fields)`);
  }

  private visit(): void {
    if (++this.visits > this.maxVisits) fail(`message too costly to decode (more than ${this.maxVisits} values and fields)`);
  }

  readHeader(): void {
    const bytes = this.r.bytes;
    for (let i = 0; i < recent.length; i++) {
      const known = recent[i] as Header;
      const n = known.key.length;
      // Cheap byte checks before the one native comparison of the whole prefix.
      if (n > bytes.length || bytes[n - 1] !== known.key.charCodeAt(n - 1) || bytes[n >> 1] !== known.key.charCodeAt(n >> 1)) continue;
      if (latin1(bytes.subarray(0, n)) !== known.key) continue;
      this.table = known.table;
      this.args = known.args;
      this.r.pos = n;
      if (i > 0) recent.unshift(...recent.splice(i, 1));
      return;
    }
    this.parseHeader();
    if (this.r.pos <= MAX_KEPT_HEADER) {
      recent.unshift({ key: latin1(bytes.subarray(0, this.r.pos)), table: this.table, args: this.args });
      if (recent.length > MAX_HEADERS) recent.pop();
    }
  }

  private parseHeader(): void {
    const r = this.r;
    for (const b of MAGIC) if (r.byte() !== b) fail('not a Candid message (no DIDL magic)');
    const entries = r.count();
    if (entries > r.bytes.length) fail('type table longer than the message');
    // Each entry and field counts as a visit: parsing one costs about as much as a value (~35K instructions), and a
    // 400 KB table of one-field records ran an anonymous query to the 5B limit.
    for (let i = 0; i < entries; i++) {
      this.tableItem();
      this.table.push(this.readEntry(entries));
    }
    const argc = r.count();
    if (argc > r.bytes.length) fail('more arguments than bytes');
    for (let i = 0; i < argc; i++) this.args.push(this.ref(r.typeRef(), entries));
  }
  private ref(t: number, entries: number): WireRef {
    if (t >= entries) fail('type index out of range');
    if (t < 0 && (t < Op.Principal || (t <= Op.Opt && t >= Op.Service))) fail(`opcode ${t} is not a primitive type`);
    return t;
  }
  private readEntry(entries: number): Entry {
    const r = this.r;
    const op = r.typeRef();
    switch (op) {
      case Op.Opt:
      case Op.Vec:
        return { op, inner: this.ref(r.typeRef(), entries) };
      case Op.Record:
      case Op.Variant: {
        const n = r.count();
        if (n > r.bytes.length) fail('more fields than bytes');
        const fields: Array<[number, WireRef]> = [];
        let last = -1;
        for (let i = 0; i < n; i++) {
          this.tableItem();
          const hash = r.count();
          if (hash <= last) fail('field ids not in increasing order');
          last = hash;
          fields.push([hash, this.ref(r.typeRef(), entries)]);
        }
        return { op, fields };
      }
      case Op.Func: {
        for (let list = 0; list < 2; list++)
          for (let n = r.count(), i = 0; i < n; i++) {
            this.tableItem();
            this.ref(r.typeRef(), entries);
          }
        r.take(r.count());
        return { op };
      }
      case Op.Service: {
        for (let n = r.count(), i = 0; i < n; i++) {
          this.tableItem();
          r.take(r.count());
          this.ref(r.typeRef(), entries);
        }
        return { op };
      }
      default:
        return fail(`type table entry with opcode ${op}`);
    }
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

const plans = new Map<IDL.Type, Plan | null>();

function planOf(type: IDL.Type): Plan | null {
  let plan = plans.get(type);
  if (plan === undefined) {
    try {
      plan = planner.plan(type);
    } catch (error) {
      if (!(error instanceof Unsupported)) throw error;
      plan = null;
    }
    plans.set(type, plan);
  }
  return plan;
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
  message.readHeader();
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
