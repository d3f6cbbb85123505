import { IDL } from '@dfinity/candid';

/**
 * Reads a .did file back into IDL types: the subset of Candid that azle writes and renderDid writes (named types,
 * records, tuples, variants, opt, vec, blob, func, and a service with init arguments). Used by the build to compare
 * what azle generated from a canister's decorators with the interface's IDL, and by tests.
 */
export interface ParsedDid {
  service: IDL.ServiceClass;
  init: IDL.Type[];
  types: Map<string, IDL.Type>;
}

const PRIMITIVES: Record<string, IDL.Type> = {
  null: IDL.Null,
  bool: IDL.Bool,
  text: IDL.Text,
  nat: IDL.Nat,
  int: IDL.Int,
  nat8: IDL.Nat8,
  nat16: IDL.Nat16,
  nat32: IDL.Nat32,
  nat64: IDL.Nat64,
  int8: IDL.Int8,
  int16: IDL.Int16,
  int32: IDL.Int32,
  int64: IDL.Int64,
  float32: IDL.Float32,
  float64: IDL.Float64,
  principal: IDL.Principal,
  reserved: IDL.Reserved,
  empty: IDL.Empty
};

function tokenize(text: string): string[] {
  const withoutComments = text.replace(/\/\/[^\n]*/g, '');
  return [...withoutComments.matchAll(/"(?:[^"\\]|\\.)*"|->|[A-Za-z_][A-Za-z0-9_]*|\d+|[{}();:=,]/g)].map((m) => m[0]);
}

export function parseDid(text: string): ParsedDid {
  const tokens = tokenize(text);
  let at = 0;
  const peek = (): string | undefined => tokens[at];
  const next = (): string => {
    const token = tokens[at++];
    if (token === undefined) throw new Error('unexpected end of the .did');
    return token;
  };
  const expect = (token: string): void => {
    const got = next();
    if (got !== token) throw new Error(`expected "${token}" in the .did, found "${got}" (token ${at})`);
  };
  const name = (): string => {
    const token = next();
    return token.startsWith('"') ? (JSON.parse(token) as string) : token;
  };

  const named = new Map<string, IDL.RecClass>();
  const refOf = (id: string): IDL.RecClass => {
    let rec = named.get(id);
    if (rec === undefined) {
      rec = IDL.Rec();
      named.set(id, rec);
    }
    return rec;
  };

  function fields(positional: boolean): Array<[string, IDL.Type]> {
    expect('{');
    const out: Array<[string, IDL.Type]> = [];
    while (peek() !== '}') {
      const after = tokens[at + 1];
      if (after === ':') {
        const key = name();
        expect(':');
        out.push([key, type()]);
      } else if (positional) {
        out.push([String(out.length), type()]);
      } else {
        out.push([name(), IDL.Null]);
      }
      if (peek() === ';') next();
    }
    expect('}');
    return out;
  }

  function list(): IDL.Type[] {
    expect('(');
    const out: IDL.Type[] = [];
    while (peek() !== ')') {
      out.push(type());
      if (peek() === ',') next();
    }
    expect(')');
    return out;
  }

  function signature(): IDL.FuncClass {
    const args = list();
    expect('->');
    const rets = list();
    const modes: string[] = [];
    while (peek() === 'query' || peek() === 'oneway' || peek() === 'composite_query') modes.push(next());
    return IDL.Func(args as Parameters<typeof IDL.Func>[0], rets as Parameters<typeof IDL.Func>[1], modes);
  }

  function type(): IDL.Type {
    const token = next();
    const primitive = PRIMITIVES[token];
    if (primitive !== undefined) return primitive;
    if (token === 'opt') return IDL.Opt(type());
    if (token === 'vec') return IDL.Vec(type());
    if (token === 'blob') return IDL.Vec(IDL.Nat8);
    if (token === 'func') return signature();
    if (token === 'record') {
      const fs = fields(true);
      if (fs.length > 0 && fs.every(([key], i) => key === String(i))) return IDL.Tuple(...fs.map(([, t]) => t));
      return IDL.Record(Object.fromEntries(fs));
    }
    if (token === 'variant') return IDL.Variant(Object.fromEntries(fields(false)));
    if (/^[A-Za-z_]/.test(token)) return refOf(token);
    throw new Error(`unexpected "${token}" in the .did`);
  }

  const definitions = new Map<string, IDL.Type>();
  let service: IDL.ServiceClass | undefined;
  let init: IDL.Type[] = [];
  while (at < tokens.length) {
    const token = next();
    if (token === 'type') {
      const id = name();
      expect('=');
      definitions.set(id, type());
      expect(';');
    } else if (token === 'service') {
      if (peek() !== ':') next();
      expect(':');
      if (peek() === '(') {
        init = list();
        expect('->');
      }
      expect('{');
      const methods: Record<string, IDL.FuncClass> = {};
      while (peek() !== '}') {
        const method = name();
        expect(':');
        methods[method] = signature();
        if (peek() === ';') next();
      }
      expect('}');
      if (peek() === ';') next();
      service = IDL.Service(methods);
    } else throw new Error(`unexpected "${token}" at the top of the .did`);
  }
  if (service === undefined) throw new Error('the .did has no service');
  for (const [id, rec] of named) {
    const definition = definitions.get(id);
    if (definition === undefined) throw new Error(`the .did uses ${id} but does not define it`);
    rec.fill(definition);
  }
  return { service, init, types: definitions };
}
