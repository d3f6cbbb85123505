import { IDL, idlLabelToId } from '@dfinity/candid';

import { fail, mismatch, Op } from './candid-wire.js';

/**
 * Plans: what a value of an expected type decodes through, built once per type (planOf), and the allowances a message
 * for those types gets (values visited, type-table items) whatever its type table claims.
 */

/** What a value of an expected type decodes through. */
export type Plan =
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
export function absent(plan: Plan, what: string): unknown {
  if (plan.kind === 'opt') return [];
  if (plan.kind === 'prim' && (plan.op === Op.Null || plan.op === Op.Reserved)) return null;
  return mismatch(`missing ${what}`);
}

const plans = new Map<IDL.Type, Plan | null>();

export function planOf(type: IDL.Type): Plan | null {
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

export function tableAllowanceFor(plans: Plan[]): number {
  let n = 0;
  for (const plan of plans) n += tableItems(plan);
  return 2 * n + TABLE_SLACK;
}

export function allowanceFor(plans: Plan[], bytes: number): number {
  let fixed = 0;
  for (const plan of plans) {
    const n = fixedVisits(plan);
    if (n === null) return maxVisitsFor(bytes);
    fixed += n;
  }
  return Math.min(2 * fixed + FIXED_SLACK, maxVisitsFor(bytes));
}
