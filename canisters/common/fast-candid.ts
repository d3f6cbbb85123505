import { IDL } from '@dfinity/candid';
import { msgArgData, msgReply, Principal } from 'azle';

import type { Method } from '../../src/interface/candid.js';
import { decodeArgs } from './candid-decoder.js';
import { encodeValue } from './candid-encoder.js';

/**
 * Candid replies without re-encoding the type table on every call. @dfinity/candid rebuilds the type table
 * (and renders each type's name) per encode, which under QuickJS costs ~30M instructions for our Result types —
 * more than the method itself. The table depends only on the type, so we keep the bytes before the value from the
 * first encode and afterwards encode only the value, with the compiled encoder of candid-encoder.ts.
 */
const prefixes = new Map<IDL.Type, Uint8Array>();

export function encodeReply(type: IDL.Type, value: unknown): Uint8Array {
  const valueBytes = encodeValue(type, value);
  let prefix = prefixes.get(type);
  if (prefix === undefined) {
    const full = new Uint8Array(IDL.encode([type], [value]));
    prefix = full.slice(0, full.length - valueBytes.length);
    prefixes.set(type, prefix);
  }
  const out = new Uint8Array(prefix.length + valueBytes.length);
  out.set(prefix, 0);
  out.set(valueBytes, prefix.length);
  return out;
}

/** The smallest value of a Candid type, built through @dfinity/candid's public Visitor. */
class ZeroValue extends IDL.Visitor<null, unknown> {
  override visitType<T>(): unknown {
    return null;
  }
  override visitBool(): unknown {
    return false;
  }
  override visitText(): unknown {
    return '';
  }
  override visitNumber<T>(): unknown {
    return 0;
  }
  override visitFloat(): unknown {
    return 0;
  }
  override visitInt(): unknown {
    return 0n;
  }
  override visitNat(): unknown {
    return 0n;
  }
  override visitFixedInt(t: IDL.FixedIntClass): unknown {
    return t._bits > 32 ? 0n : 0;
  }
  override visitFixedNat(t: IDL.FixedNatClass): unknown {
    return t._bits > 32 ? 0n : 0;
  }
  override visitPrincipal(): unknown {
    return Principal.anonymous();
  }
  override visitVec<T>(): unknown {
    return [];
  }
  override visitOpt<T>(): unknown {
    return [];
  }
  override visitRecord(_t: IDL.RecordClass, fields: Array<[string, IDL.Type]>): unknown {
    return Object.fromEntries(fields.map(([name, type]) => [name, type.accept(this, null)]));
  }
  override visitTuple<T extends unknown[]>(_t: IDL.TupleClass<T>, components: IDL.Type[]): unknown {
    return components.map((type) => type.accept(this, null));
  }
  override visitRec<T>(_t: IDL.RecClass<T>, ty: IDL.ConstructType<T>): unknown {
    return ty.accept(this, null);
  }
  override visitFunc(): unknown {
    return [Principal.anonymous(), ''];
  }
  override visitVariant(_t: IDL.VariantClass, fields: Array<[string, IDL.Type]>): unknown {
    const [first] = fields;
    return first === undefined ? null : { [first[0]]: first[1].accept(this, null) };
  }
}

/**
 * Computes and keeps the type-table prefix of each reply type. Call it from init/post_upgrade: queries cannot keep
 * what they compute, so without warming every query would pay for the table again.
 */
export function warmReplyTypes(types: IDL.Type[]): void {
  for (const type of types) if (!prefixes.has(type)) encodeReply(type, type.accept(new ZeroValue(), null));
}

/** Replies to the current message (methods declared with `manual: true`). */
export function reply(type: IDL.Type, value: unknown): void {
  msgReply(encodeReply(type, value));
}

/**
 * Decodes the arguments of a `manual: true` method (candid-decoder.ts: ~20 times cheaper than IDL.decode under
 * QuickJS); a malformed argument traps, as azle's own decoding does.
 */
export function args(types: IDL.Type[]): unknown[] {
  return decodeArgs(types, msgArgData());
}

/** The arguments of the current message, decoded with the method's declared types. */
export function argsOf<A extends unknown[], R>(method: Method<A, R>): A {
  // decodeArgs has checked the bytes against the method's argument types, so the values have the types of A.
  return args(method.args) as A;
}

/** Replies to the current message with a value of the method's declared reply type. */
export function replyOf<A extends unknown[], R>(method: Method<A, R>, value: R): void {
  if (method.ret === undefined) msgReply(new Uint8Array(IDL.encode([], [])));
  else reply(method.ret, value);
}

/** Decodes the arguments, runs `body` on them, and replies with a cached-type-table encoding of its result. */
export function handle<A extends unknown[], R>(method: Method<A, R>, body: (...decoded: NoInfer<A>) => NoInfer<R>): void {
  replyOf(method, body(...argsOf(method)));
}
