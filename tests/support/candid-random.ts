import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';

/** A pseudo-random value of a Candid type (seeded, so that a failure reproduces). */
export class RandomValue extends IDL.Visitor<number, unknown> {
  private seed = 7;
  private next(n: number): number {
    this.seed = (this.seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return this.seed % n;
  }
  override visitType<T>(t: IDL.Type<T>): unknown {
    throw new Error(`no random ${t.name}`);
  }
  override visitNull(): unknown {
    return null;
  }
  override visitReserved(): unknown {
    return null;
  }
  override visitBool(): unknown {
    return this.next(2) === 1;
  }
  override visitText(): unknown {
    const alphabet = ['a', 'Z', '"', '\\', '\n', 'é', '日', '😀', '\u0001', ' '];
    return Array.from({ length: this.next(40) }, () => alphabet[this.next(alphabet.length)]).join('');
  }
  override visitNat(): unknown {
    return [0n, 127n, 128n, 300n, 2n ** 64n + 5n, 2n ** 53n][this.next(6)];
  }
  override visitInt(): unknown {
    return [0n, -1n, 63n, 64n, -64n, -65n, -(2n ** 70n), 2n ** 70n][this.next(8)];
  }
  override visitFloat(): unknown {
    return [0, 1.5, -2.25, 1e300][this.next(4)];
  }
  override visitFixedNat(t: IDL.FixedNatClass): unknown {
    const max = 2n ** BigInt(t._bits) - 1n;
    const v = [0n, 1n, max, max / 3n][this.next(4)] ?? 0n;
    return t._bits > 32 ? v : Number(v);
  }
  override visitFixedInt(t: IDL.FixedIntClass): unknown {
    const max = 2n ** BigInt(t._bits - 1) - 1n;
    const v = [0n, -1n, max, -max - 1n][this.next(4)] ?? 0n;
    return t._bits > 32 ? v : Number(v);
  }
  override visitPrincipal(): unknown {
    return [Principal.anonymous(), Principal.fromText('aaaaa-aa'), Principal.fromUint8Array(Uint8Array.from({ length: 29 }, (_, i) => i))][
      this.next(3)
    ];
  }
  override visitFunc(): unknown {
    return [Principal.fromText('aaaaa-aa'), 'get_blocks'];
  }
  override visitService(): unknown {
    return Principal.fromText('aaaaa-aa');
  }
  override visitVec<T>(_t: IDL.VecClass<T>, ty: IDL.Type<T>, depth: number): unknown {
    const items = Array.from({ length: depth > 4 ? 0 : this.next(4) }, () => ty.accept(this, depth + 1));
    return ty instanceof IDL.FixedNatClass && ty._bits === 8 && this.next(2) === 1 ? Uint8Array.from(items as number[]) : items;
  }
  override visitOpt<T>(_t: IDL.OptClass<T>, ty: IDL.Type<T>, depth: number): unknown {
    return depth > 4 || this.next(3) === 0 ? [] : [ty.accept(this, depth + 1)];
  }
  override visitRecord(_t: IDL.RecordClass, fields: Array<[string, IDL.Type]>, depth: number): unknown {
    return Object.fromEntries(fields.map(([name, type]) => [name, type.accept(this, depth + 1)]));
  }
  override visitTuple<T extends unknown[]>(_t: IDL.TupleClass<T>, components: IDL.Type[], depth: number): unknown {
    return components.map((type) => type.accept(this, depth + 1));
  }
  override visitVariant(_t: IDL.VariantClass, fields: Array<[string, IDL.Type]>, depth: number): unknown {
    const [name, type] = fields[this.next(fields.length)] as [string, IDL.Type];
    return { [name]: type.accept(this, depth + 1) };
  }
  override visitRec<T>(_t: IDL.RecClass<T>, ty: IDL.ConstructType<T>, depth: number): unknown {
    return ty.accept(this, depth);
  }
}
