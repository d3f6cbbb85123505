import { IDL } from '@dfinity/candid';

/** Follows IDL.Rec wrappers to the type they stand for. */
function unwrap(type: IDL.Type): IDL.Type {
  let t = type;
  while (t instanceof IDL.RecClass) {
    const inner = (t as unknown as { _type: IDL.Type | undefined })._type;
    if (inner === undefined) throw new Error('an unfilled IDL.Rec');
    t = inner;
  }
  return t;
}

/**
 * Whether two IDL types describe the same Candid type (names and IDL.Rec wrappers aside). Returns a path to the
 * first difference, or undefined when they are equal.
 */
export function idlDifference(a: IDL.Type, b: IDL.Type, path = '', assumed = new Map<IDL.Type, Set<IDL.Type>>()): string | undefined {
  const x = unwrap(a);
  const y = unwrap(b);
  if (x === y) return undefined;
  // A pair already under comparison is equal unless shown otherwise (recursive types).
  if (assumed.get(x)?.has(y) === true) return undefined;
  assumed.set(x, (assumed.get(x) ?? new Set()).add(y));
  const here = (what: string): string => `${path || 'the type'}: ${what}`;
  if (x.constructor !== y.constructor) return here(`${x.display()} ≠ ${y.display()}`);
  if (x instanceof IDL.OptClass || x instanceof IDL.VecClass)
    return idlDifference(x._type, (y as typeof x)._type, `${path}${x instanceof IDL.OptClass ? '?' : '[]'}`, assumed);
  if (x instanceof IDL.RecordClass || x instanceof IDL.VariantClass) {
    const fy = new Map((y as typeof x)._fields);
    const names = (fs: Array<[string, IDL.Type]>): string => fs.map(([n]) => n).join(', ');
    if (x._fields.length !== fy.size || x._fields.some(([n]) => !fy.has(n)))
      return here(`fields {${names(x._fields)}} ≠ {${names((y as typeof x)._fields)}}`);
    for (const [n, t] of x._fields) {
      const d = idlDifference(t, fy.get(n) as IDL.Type, `${path}.${n}`, assumed);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  if (x instanceof IDL.FuncClass) {
    const fy = y as IDL.FuncClass;
    if (x.annotations.join(' ') !== fy.annotations.join(' '))
      return here(`modes (${x.annotations.join(' ')}) ≠ (${fy.annotations.join(' ')})`);
    return (
      listDifference(x.argTypes, fy.argTypes, `${path}(args)`, assumed) ??
      listDifference(x.retTypes, fy.retTypes, `${path}(reply)`, assumed)
    );
  }
  if (x instanceof IDL.ServiceClass) {
    const fy = new Map((y as IDL.ServiceClass)._fields);
    for (const [n, f] of x._fields) {
      const other = fy.get(n);
      if (other === undefined) return `method ${n}: missing`;
      const d = idlDifference(f, other, `method ${n}`, assumed);
      if (d !== undefined) return d;
    }
    const extra = [...fy.keys()].filter((n) => !x._fields.some(([m]) => m === n));
    return extra.length > 0 ? `method ${extra.join(', ')}: not in the interface` : undefined;
  }
  return x.display() === y.display() ? undefined : here(`${x.display()} ≠ ${y.display()}`);
}

export function listDifference(
  a: IDL.Type[],
  b: IDL.Type[],
  path: string,
  assumed = new Map<IDL.Type, Set<IDL.Type>>()
): string | undefined {
  if (a.length !== b.length) return `${path}: ${a.length} types ≠ ${b.length}`;
  for (let i = 0; i < a.length; i++) {
    const d = idlDifference(a[i] as IDL.Type, b[i] as IDL.Type, `${path}[${i}]`, assumed);
    if (d !== undefined) return d;
  }
  return undefined;
}
