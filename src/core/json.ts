/**
 * JSON that keeps bigints exact ({"$bigint":"123"}), for stable storage in canisters and for state files.
 * Pure: runs in the canister (QuickJS) and in Node.
 */
export function stringifyJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? { $bigint: v.toString() } : v));
}

export function parseJson(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const keys = Object.keys(v);
      if (keys.length === 1 && keys[0] === '$bigint') {
        const digits = (v as { $bigint: unknown }).$bigint;
        if (typeof digits === 'string' && /^-?\d+$/.test(digits)) return BigInt(digits);
      }
    }
    return v;
  });
}
