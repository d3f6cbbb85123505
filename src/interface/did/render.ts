import { IDL } from '@dfinity/candid';

import type { CandidInterface } from '../candid.js';

/**
 * Writes a Candid interface as a .did file that names its types: `type Task = record { … };`, one field per line
 * for named records and variants, one method per line, and a reference to a named type by its name. Lines stay
 * under MAX_LINE characters (a nested type too long for one line is broken over several).
 */
export const MAX_LINE = 160;
const INDENT = '  ';

const KEYWORDS = new Set(
  'blob bool composite_query empty float32 float64 func import int int16 int32 int64 int8 nat nat16 nat32 nat64 nat8 null oneway opt principal query record reserved service text type variant vec'.split(
    ' '
  )
);

function label(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !KEYWORDS.has(name) ? name : JSON.stringify(name);
}

/** A record whose fields are `_0_`, `_1_`, …: a tuple, written without labels. */
const isTuple = (type: IDL.Type): boolean => type instanceof IDL.TupleClass;

class Writer {
  private readonly names = new Map<IDL.Type, string>();

  constructor(types: Record<string, IDL.Type>) {
    for (const [name, type] of Object.entries(types)) {
      if (this.names.has(type)) throw new Error(`${name} and ${this.names.get(type) ?? ''} name the same IDL type`);
      this.names.set(type, name);
    }
  }

  /** A reference: the type's name if it has one, its definition otherwise. */
  ref(type: IDL.Type, indent: string): string {
    return this.names.get(type) ?? this.body(type, indent, false);
  }

  /** The definition of `type`, on one line if it fits in `MAX_LINE - indent` and `multiline` is not asked for. */
  body(type: IDL.Type, indent: string, multiline: boolean): string {
    if (type instanceof IDL.RecClass) {
      const inner = (type as unknown as { _type: IDL.Type | undefined })._type;
      if (inner === undefined) throw new Error('an unfilled IDL.Rec');
      if (!this.names.has(type)) throw new Error(`a recursive type needs a name in the .did (${type.display().slice(0, 80)})`);
      return this.body(inner, indent, multiline);
    }
    if (type instanceof IDL.OptClass) return `opt ${this.ref(type._type, indent)}`;
    if (type instanceof IDL.VecClass)
      return type._type instanceof IDL.FixedNatClass && type._type._bits === 8 ? 'blob' : `vec ${this.ref(type._type, indent)}`;
    if (type instanceof IDL.RecordClass) {
      const tuple = isTuple(type);
      const fields = type._fields.map(
        ([name, t]) =>
          (inner: string) =>
            tuple ? this.ref(t, inner) : `${label(name)} : ${this.ref(t, inner)}`
      );
      return this.block('record', fields, indent, multiline);
    }
    if (type instanceof IDL.VariantClass) {
      const fields = type._fields.map(
        ([name, t]) =>
          (inner: string) =>
            t instanceof IDL.NullClass ? label(name) : `${label(name)} : ${this.ref(t, inner)}`
      );
      return this.block('variant', fields, indent, multiline);
    }
    if (type instanceof IDL.FuncClass) return `func ${this.signature(type, indent)}`;
    return type.display();
  }

  /** `keyword { a; b }` on one line, or one field per line. */
  private block(keyword: string, fields: Array<(indent: string) => string>, indent: string, multiline: boolean): string {
    if (fields.length === 0) return `${keyword} {}`;
    const inner = indent + INDENT;
    if (!multiline) {
      const line = `${keyword} { ${fields.map((f) => f(inner)).join('; ')} }`;
      if (!line.includes('\n') && indent.length + line.length <= MAX_LINE - 20) return line;
    }
    return `${keyword} {\n${fields.map((f) => `${inner}${f(inner)};`).join('\n')}\n${indent}}`;
  }

  signature(func: IDL.FuncClass, indent: string): string {
    const list = (types: IDL.Type[]): string => `(${types.map((t) => this.ref(t, indent)).join(', ')})`;
    const modes = func.annotations.length > 0 ? ` ${func.annotations.join(' ')}` : '';
    return `${list(func.argTypes)} -> ${list(func.retTypes)}${modes}`;
  }
}

function fieldCount(type: IDL.Type): number {
  const inner = type instanceof IDL.RecClass ? (type as unknown as { _type: IDL.Type })._type : type;
  return (inner instanceof IDL.RecordClass && !isTuple(inner)) || inner instanceof IDL.VariantClass ? inner._fields.length : 0;
}

/** The .did text of an interface. */
export function renderDid(iface: CandidInterface, header = ''): string {
  const writer = new Writer(iface.types);
  const lines: string[] = header === '' ? [] : header.split('\n').map((l) => `// ${l}`.trimEnd());
  for (const [name, type] of Object.entries(iface.types)) {
    lines.push(`type ${name} = ${writer.body(type, '', fieldCount(type) > 3)};`);
  }
  const init = iface.init.length === 0 ? '' : `(${iface.init.map((t) => writer.ref(t, '')).join(', ')}) -> `;
  lines.push('', `service : ${init}{`);
  for (const [name, func] of iface.service._fields) lines.push(`${INDENT}${label(name)} : ${writer.signature(func, INDENT)};`);
  lines.push('}');
  const text = `${lines.join('\n')}\n`;
  const long = text.split('\n').find((line) => line.length > MAX_LINE);
  if (long !== undefined) throw new Error(`a .did line is longer than ${MAX_LINE} characters: ${long.slice(0, 80)}…`);
  return text;
}
