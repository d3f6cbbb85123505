import { IDL } from '@dfinity/candid';

/**
 * Candid values encoded by functions compiled once per type. @dfinity/candid's `encodeValue` concatenates a new array
 * per field and runs bigint arithmetic per number: under QuickJS a claim's TaskView reply cost 7.5M instructions to
 * encode, more than the claim itself. The compiled encoder writes into one growing buffer and produces the same bytes
 * (tests/unit/canisters/candid-encoder.test.ts compares them over every reply type of the registry).
 */

type Encode = (value: unknown, out: Writer) => void;

const text = new TextEncoder();

class Writer {
  private buf = new Uint8Array(256);
  private pos = 0;

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }
  byte(b: number): void {
    this.room(1);
    this.buf[this.pos++] = b;
  }
  bytes(bytes: Uint8Array): void {
    this.room(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }
  /** Unsigned LEB128 of a non-negative safe integer. */
  leb(n: number): void {
    do {
      const low = n % 128;
      n = Math.floor(n / 128);
      this.byte(n > 0 ? low | 0x80 : low);
    } while (n > 0);
  }
  lebBig(n: bigint): void {
    if (n < 0n) throw new Error(`Invalid nat argument: ${n}`);
    if (n <= BigInt(Number.MAX_SAFE_INTEGER)) return this.leb(Number(n));
    do {
      const low = Number(n & 0x7fn);
      n >>= 7n;
      this.byte(n > 0n ? low | 0x80 : low);
    } while (n > 0n);
  }
  slebBig(n: bigint): void {
    for (;;) {
      const low = Number(n & 0x7fn);
      n >>= 7n;
      const done = (n === 0n && (low & 0x40) === 0) || (n === -1n && (low & 0x40) !== 0);
      this.byte(done ? low : low | 0x80);
      if (done) return;
    }
  }
  /** `bytes` little-endian bytes of a two's-complement integer. */
  fixed(n: bigint, bytes: number): void {
    let v = BigInt.asUintN(bytes * 8, n);
    for (let i = 0; i < bytes; i++) {
      this.byte(Number(v & 0xffn));
      v >>= 8n;
    }
  }
  small(n: number, bytes: number): void {
    for (let i = 0; i < bytes; i++) {
      this.byte(n & 0xff);
      n >>>= 8;
    }
  }
  float(n: number, bits: 32 | 64): void {
    const view = new DataView(new ArrayBuffer(bits / 8));
    if (bits === 64) view.setFloat64(0, n, true);
    else view.setFloat32(0, n, true);
    this.bytes(new Uint8Array(view.buffer));
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

const nothing: Encode = () => undefined;

class Compiler extends IDL.Visitor<null, Encode> {
  private readonly cache = new Map<IDL.Type, Encode>();

  compile(type: IDL.Type): Encode {
    let encode = this.cache.get(type);
    if (encode === undefined) {
      // A recursive type reaches itself again while it compiles: it calls the finished encoder through this cell.
      let compiled: Encode | undefined;
      this.cache.set(type, (v, out) => (compiled as Encode)(v, out));
      compiled = type.accept(this, null);
      encode = compiled;
      this.cache.set(type, encode);
    }
    return encode;
  }

  override visitType<T>(t: IDL.Type<T>): Encode {
    throw new Error(`no compiled encoder for Candid type ${t.name}`);
  }
  override visitNull(): Encode {
    return nothing;
  }
  override visitReserved(): Encode {
    return nothing;
  }
  override visitBool(): Encode {
    return (v, out) => out.byte(v ? 1 : 0);
  }
  override visitText(): Encode {
    return (v, out) => {
      const bytes = text.encode(v as string);
      out.leb(bytes.length);
      out.bytes(bytes);
    };
  }
  override visitNat(): Encode {
    return (v, out) => out.lebBig(BigInt(v as bigint));
  }
  override visitInt(): Encode {
    return (v, out) => out.slebBig(BigInt(v as bigint));
  }
  override visitFloat(t: IDL.FloatClass): Encode {
    const bits = t._bits === 32 ? 32 : 64;
    return (v, out) => out.float(v as number, bits);
  }
  override visitFixedNat(t: IDL.FixedNatClass): Encode {
    const bytes = t._bits / 8;
    return t._bits > 32 ? (v, out) => out.fixed(BigInt(v as bigint), bytes) : (v, out) => out.small(Number(v), bytes);
  }
  override visitFixedInt(t: IDL.FixedIntClass): Encode {
    const bytes = t._bits / 8;
    return t._bits > 32 ? (v, out) => out.fixed(BigInt(v as bigint), bytes) : (v, out) => out.small(Number(v), bytes);
  }
  override visitPrincipal(): Encode {
    return (v, out) => {
      const bytes = (v as { toUint8Array(): Uint8Array }).toUint8Array();
      out.byte(1);
      out.leb(bytes.length);
      out.bytes(bytes);
    };
  }
  override visitService(): Encode {
    return this.visitPrincipal();
  }
  override visitFunc(): Encode {
    return (v, out) => {
      const [principal, method] = v as [{ toUint8Array(): Uint8Array }, string];
      const bytes = principal.toUint8Array();
      const name = text.encode(method);
      out.byte(1);
      out.byte(1);
      out.leb(bytes.length);
      out.bytes(bytes);
      out.leb(name.length);
      out.bytes(name);
    };
  }
  override visitVec<T>(_t: IDL.VecClass<T>, ty: IDL.Type<T>): Encode {
    if (ty instanceof IDL.FixedNatClass && ty._bits === 8) {
      return (v, out) => {
        const bytes = v instanceof Uint8Array ? v : Uint8Array.from(v as number[]);
        out.leb(bytes.length);
        out.bytes(bytes);
      };
    }
    const item = this.compile(ty);
    return (v, out) => {
      const items = v as unknown[];
      out.leb(items.length);
      for (const x of items) item(x, out);
    };
  }
  override visitOpt<T>(_t: IDL.OptClass<T>, ty: IDL.Type<T>): Encode {
    const inner = this.compile(ty);
    return (v, out) => {
      const o = v as unknown[];
      if (o.length === 0) return out.byte(0);
      out.byte(1);
      inner(o[0], out);
    };
  }
  override visitRecord(_t: IDL.RecordClass, fields: Array<[string, IDL.Type]>): Encode {
    const encoders = fields.map(([name, type]): [string, Encode] => [name, this.compile(type)]);
    return (v, out) => {
      const record = v as Record<string, unknown>;
      for (const [name, encode] of encoders) encode(record[name], out);
    };
  }
  override visitTuple<T extends unknown[]>(_t: IDL.TupleClass<T>, components: IDL.Type[]): Encode {
    const encoders = components.map((type) => this.compile(type));
    return (v, out) => {
      const tuple = v as unknown[];
      encoders.forEach((encode, i) => encode(tuple[i], out));
    };
  }
  override visitVariant(_t: IDL.VariantClass, fields: Array<[string, IDL.Type]>): Encode {
    const cases = new Map(fields.map(([name, type], i): [string, [number, Encode]] => [name, [i, this.compile(type)]]));
    return (v, out) => {
      for (const name in v as object) {
        const found = cases.get(name);
        if (found === undefined) continue;
        out.leb(found[0]);
        return found[1]((v as Record<string, unknown>)[name], out);
      }
      throw new Error(`Variant has no data: ${Object.keys(v as object).join(', ')}`);
    };
  }
  override visitRec<T>(_t: IDL.RecClass<T>, ty: IDL.ConstructType<T>): Encode {
    return this.compile(ty);
  }
}

const compiler = new Compiler();

/** The Candid value encoding of `value` (no header or type table), as `type.encodeValue(value)` writes it. */
export function encodeValue(type: IDL.Type, value: unknown): Uint8Array {
  const out = new Writer();
  compiler.compile(type)(value, out);
  return out.result();
}
