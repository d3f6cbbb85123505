import binaryen from 'binaryen';
import { ExprId, internName, raw, type Ref } from './instrument-binaryen.js';

/** The code that metering inserts: charges, limit checks, flushes, and the rewrite of a function's exits. */

export interface MeteringNames {
  counter: string;
  limit: string;
  outOfInstructions: string;
  /** a `(i32) -> i32` function that charges its argument as bytes and returns it */
  chargeBytes: string;
}

/** Value types a result can be parked in while the counter local is flushed. */
const PARKABLE = new Set<number>([
  binaryen.i32,
  binaryen.i64,
  binaryen.f32,
  binaryen.f64,
  binaryen.v128,
  binaryen.funcref,
  binaryen.externref
]);

export class MeteringCode {
  private readonly counterName: number;
  private readonly limitName: number;

  constructor(
    private readonly module: binaryen.Module,
    private readonly names: MeteringNames
  ) {
    this.counterName = internName(names.counter);
    this.limitName = internName(names.limit);
  }

  /** `counter += count`, on the local when there is one. */
  charge(count: number, local: number | null): Ref {
    const m = this.module;
    const amount = m.i64.const(count, 0);
    if (local !== null) return m.local.set(local, m.i64.add(m.local.get(local, binaryen.i64), amount));
    return raw.globalSet(m.ptr, this.counterName, m.i64.add(this.counter(), amount));
  }

  /** `if (counter (+ local) > limit) out_of_instructions()` */
  limitCheck(local: number | null): Ref {
    const m = this.module;
    const used = local === null ? this.counter() : m.i64.add(this.counter(), m.local.get(local, binaryen.i64));
    const exceeded = m.i64.gt_u(used, raw.globalGet(m.ptr, this.limitName, binaryen.i64));
    const stop = m.call(this.names.outOfInstructions, [], binaryen.none);
    return m.if(exceeded, local === null ? stop : m.block(null, [...this.flush(local), stop], binaryen.none));
  }

  /** `counter += local; local = 0` */
  flush(local: number): Ref[] {
    const m = this.module;
    const sum = m.i64.add(this.counter(), m.local.get(local, binaryen.i64));
    return [raw.globalSet(m.ptr, this.counterName, sum), m.local.set(local, m.i64.const(0, 0))];
  }

  /** An unnamed block typed by its last child. */
  block(children: Ref[]): Ref {
    return this.module.block(null, children, binaryen.auto);
  }

  /** Wraps a bulk-memory size operand in a call that charges it. */
  chargeSize(id: number, expr: Ref): void {
    const [get, set] =
      id === ExprId.MemoryCopy
        ? [raw.memoryCopyGetSize, raw.memoryCopySetSize]
        : id === ExprId.MemoryFill
          ? [raw.memoryFillGetSize, raw.memoryFillSetSize]
          : [raw.memoryInitGetSize, raw.memoryInitSetSize];
    const size = get(expr);
    if (binaryen.getExpressionType(size) !== binaryen.i32) return; // memory64: left uncharged
    set(expr, this.module.call(this.names.chargeBytes, [size], binaryen.i32));
  }

  /**
   * Runs `inject` with the counter local of `func` (null: charge the global) and the index of the first of
   * `scratchI32` fresh i32 locals, and, with a counter local, flushes it on every exit: after the body, and
   * after each `return` value is computed. A function gets locals by being re-created under the same name
   * (binaryen 116 cannot add one in place); calls, exports and tables refer to it by name, so nothing else
   * changes. Returns the (new) function.
   */
  rewrite(func: Ref, hasTailCall: boolean, scratchI32: number, inject: (local: number | null, scratch: number) => Ref[]): Ref {
    const m = this.module;
    const info = binaryen.getFunctionInfo(func);
    const results = binaryen.expandType(info.results);
    const result = results[0];
    const firstNew = binaryen.expandType(info.params).length + info.vars.length;
    const scratch = (types: number[]): number[] => [...types, ...new Array<number>(scratchI32).fill(binaryen.i32)];
    let body: Ref;
    let added: number[];
    if (hasTailCall || results.length > 1 || (result !== undefined && !PARKABLE.has(result))) {
      inject(null, firstNew);
      if (scratchI32 === 0) return func;
      body = raw.functionGetBody(func);
      added = scratch([]);
    } else {
      const local = firstNew;
      const parked = local + 1;
      const counterLocals = result === undefined ? [binaryen.i64] : [binaryen.i64, result];
      const exit = (value: Ref): Ref =>
        result === undefined
          ? this.block([value, ...this.flush(local)])
          : this.block([m.local.set(parked, value), ...this.flush(local), m.local.get(parked, result)]);
      for (const ret of inject(local, firstNew + counterLocals.length)) raw.returnSetValue(ret, exit(raw.returnGetValue(ret)));
      body = exit(raw.functionGetBody(func));
      added = scratch(counterLocals);
    }
    m.removeFunction(info.name);
    return m.addFunction(info.name, info.params, info.results, [...info.vars, ...added], body);
  }

  private counter(): Ref {
    return raw.globalGet(this.module.ptr, this.counterName, binaryen.i64);
  }
}
