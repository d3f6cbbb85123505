/**
 * Lossless JSON for engine metadata: bigint becomes {"$bigint":"<decimal>"}; a user key that starts with
 * "$" gets one more "$" so that no user object can be mistaken for a tag.
 */
import type { Json } from './types.ts';
import { InvalidDeltaError, StateCorruptError, type StateCorruptCode } from './errors.ts';

const BIGINT_TAG = '$bigint';

export type WireJson = null | boolean | number | string | WireJson[] | { [k: string]: WireJson };

/** Json -> a value JSON.stringify writes exactly. Throws InvalidDeltaError on values JSON cannot hold. */
export function encodeJson(value: Json, where = 'value'): WireJson {
  switch (typeof value) {
    case 'bigint':
      return { [BIGINT_TAG]: value.toString() };
    case 'number':
      // JSON.stringify would silently write NaN/Infinity as null.
      if (!Number.isFinite(value)) throw new InvalidDeltaError(`${where} is the non-finite number ${value}`);
      return value;
    case 'string':
    case 'boolean':
      return value;
    case 'object': {
      if (value === null) return null;
      if (Array.isArray(value)) {
        return value.map((item, i) => {
          if (item === undefined) throw new InvalidDeltaError(`${where}[${i}] is undefined`);
          return encodeJson(item, `${where}[${i}]`);
        });
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new InvalidDeltaError(`${where} is a ${value.constructor?.name ?? 'non-plain'} object, not JSON`);
      }
      const entries: Array<[string, WireJson]> = [];
      for (const [key, item] of Object.entries(value)) {
        // Json objects may carry optional fields; like JSON, an undefined field is simply absent.
        if (item === undefined) continue;
        entries.push([key.startsWith('$') ? `$${key}` : key, encodeJson(item, `${where}.${key}`)]);
      }
      return Object.fromEntries(entries);
    }
    default:
      throw new InvalidDeltaError(`${where} has type ${typeof value}, which is not JSON`);
  }
}

/** Inverse of encodeJson for data read back from disk; malformed input is reported as corruption. */
export function decodeJson(wire: unknown, code: StateCorruptCode, path: string): Json {
  const fail = (detail: string): never => {
    throw new StateCorruptError(code, path, detail);
  };
  const walk = (value: unknown): Json => {
    if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
    if (typeof value === 'number') return Number.isFinite(value) ? value : fail('non-finite number');
    if (Array.isArray(value)) return value.map(walk);
    if (typeof value !== 'object') return fail(`unexpected ${typeof value} in metadata`);
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === BIGINT_TAG) {
      const digits: unknown = Object.values(value)[0];
      if (typeof digits !== 'string' || !/^-?\d+$/.test(digits)) return fail('malformed bigint tag');
      return BigInt(digits);
    }
    // Object.fromEntries defines own properties, so a "__proto__" key stays data, not a prototype.
    return Object.fromEntries(
      Object.entries(value).map(([key, item]): [string, Json] => {
        if (key.startsWith('$$')) return [key.slice(1), walk(item)];
        if (key.startsWith('$')) return fail(`unknown tag ${key}`);
        return [key, walk(item)];
      })
    );
  };
  return walk(wire);
}
