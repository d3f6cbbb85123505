/**
 * The Candid binary format as the decoder (candid-decoder.ts) reads it: opcodes, a byte reader with bounded LEB128s,
 * and the message's header (magic, type table, argument types) with a cache of the tables seen lately.
 */

/** A wire type: a primitive's negative opcode, or an index into the message's type table. */
export type WireRef = number;

export const enum Op {
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

export type Entry =
  { op: Op.Opt | Op.Vec; inner: WireRef } | { op: Op.Record | Op.Variant; fields: Array<[number, WireRef]> } | { op: Op.Func | Op.Service };

/** Values nested deeper than this are refused (a recursive wire type could otherwise exhaust the stack). */
export const MAX_DEPTH = 64;
/** Elements of zero-sized types (null, reserved, empty records) a message may claim: they cost nothing on the wire. */
export const MAX_ZERO_SIZED = 10_000;
/** LEB128 bytes of a length or count (at most 2^32 - 1, possibly not minimally encoded). */
const MAX_LEB_BYTES = 10;
/** LEB128 bytes of a nat or int value: 2^448, far above any amount; a longer one would cost quadratic bigint work. */
const MAX_NUMBER_BYTES = 64;
const MAGIC = [0x44, 0x49, 0x44, 0x4c];

export class CandidDecodeError extends Error {}

/** A value of another type than expected (as opposed to a malformed encoding): inside an opt it decodes as none. */
export class TypeMismatch extends CandidDecodeError {}

export const fail = (message: string): never => {
  throw new CandidDecodeError(`candid: ${message}`);
};
export const mismatch = (message: string): never => {
  throw new TypeMismatch(`candid: ${message}`);
};

export class Reader {
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

/**
 * Reads a message's magic, type table and argument types, counting every entry, field, func argument and service
 * method against `maxTable` (candid-plan.ts tableAllowanceFor); a table seen lately is reused byte for byte.
 */
export class HeaderReader {
  table: Entry[] = [];
  args: WireRef[] = [];
  private tableSeen = 0;
  constructor(
    private readonly r: Reader,
    private readonly maxTable: number
  ) {}

  /** One more type-table entry, field, func argument or service method. */
  private tableItem(): void {
    if (++this.tableSeen > this.maxTable) fail(`type table too large (more than ${this.maxTable} entries and fields)`);
  }

  read(): void {
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
}
