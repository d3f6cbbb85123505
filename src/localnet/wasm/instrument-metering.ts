import binaryen from 'binaryen';
import { ExprId, operandShapes, raw, type Ref } from './instrument-binaryen.js';
import { MeteringCode, type MeteringNames } from './instrument-code.js';
import type { DirtyMarking } from './instrument-dirty.js';
import { CodedError } from '../../core/errors/coded-error.js';

/**
 * Per-basic-block instruction metering of one function, in place, the way the IC meters canisters.
 *
 * The walk replays the order in which Wasm executes a function (operands before their operator) and cuts
 * it into straight-line segments. A segment ends where control can split or merge: on entering a loop
 * body or an if arm, and after every loop, if and named block ends (a branch lands there). Each segment's
 * instruction count is charged once, at the segment's first insertion point: the function entry, a loop
 * body or if arm start, or just before the next statement of the enclosing block. The limit is checked
 * at every loop header and at the entry of every function that calls out, so every unbounded execution
 * (a loop, or a cycle of calls) passes a check; between two checks only straight-line code runs, which
 * bounds the overshoot. Leaf functions without loops are not checked: they always finish quickly.
 *
 * Cost model: every expression is one instruction, except `block` and `loop`, which are only structure.
 * `br_if`, `br_table` and calls do not end a segment, so a taken `br_if` is charged for the rest of its
 * segment. The size operand of memory.copy/fill/init is charged too, one instruction per byte.
 *
 * Charges go to a local of the function, which is added to the global counter before every statement
 * that calls out (so callees and ic0.performance_counter see an up-to-date count) and when the function
 * returns; checks compare `counter + local` with the limit. Updating a global per segment instead made
 * QuickJS's interpreter loop 2.5 times slower in V8 (a load/store chain through memory per segment).
 * Functions whose exits cannot be wrapped (multi-value results, tail calls) charge the global directly.
 */

export class UnsupportedExpressionError extends CodedError<'UNSUPPORTED_EXPRESSION', { expressionId: number }> {
  constructor(readonly expressionId: number) {
    super('UNSUPPORTED_EXPRESSION', `cannot meter expression id ${expressionId} (exception handling, GC and strings are unsupported)`, {
      details: { expressionId }
    });
    this.name = 'UnsupportedExpressionError';
  }
}

// Work items of the explicit stack (deep expression trees would overflow JS recursion).
const VISIT = 0;
const COUNT = 1;
const AFTER_CHILD = 2;
const BLOCK_END = 3;
const LOOP_END = 4;
const IF_THEN = 5;
const IF_ELSE = 6;
const IF_END = 7;

// Insertion points ("places"): before a block child, or at the start of a body or if arm.
const PLACE_BEFORE = 0;
const PLACE_FUNCTION = 1;
const PLACE_LOOP = 2;
const PLACE_IF_TRUE = 3;
const PLACE_IF_FALSE = 4;

const NONE = -1;

const CALL_IDS: ReadonlyMap<number, (expr: Ref) => number> = new Map([
  [ExprId.Call, raw.callIsReturn],
  [ExprId.CallIndirect, raw.callIndirectIsReturn],
  [ExprId.CallRef, raw.callRefIsReturn]
]);

export class FunctionMeterer {
  private readonly code: MeteringCode;
  // Work stack: parallel arrays, reused across functions.
  private readonly ops: number[] = [];
  private readonly argA: number[] = [];
  private readonly argB: number[] = [];
  private readonly ifEntries: number[] = [];
  // Places of the current function, by index.
  private readonly placeKinds: number[] = [];
  private readonly placeRefs: number[] = [];
  private readonly placeCharges: number[] = [];
  private readonly placeFlushes: boolean[] = [];
  // Segments of the current function, by index.
  private readonly counts: number[] = [];
  private readonly segmentPlaces: number[] = [];
  private readonly fallbacks: number[] = [];
  private readonly valueReturns: Ref[] = [];
  // Every block of the current function, with the place of its first child.
  private readonly blocks: Ref[] = [];
  private readonly blockFirstPlaces: number[] = [];
  private current = NONE;
  private hasTailCall = false;
  private hasCall = false;

  /** `dirty`: also rewrite memory writes to mark the chunks they touch (see instrument-dirty.ts) */
  constructor(
    module: binaryen.Module,
    names: MeteringNames,
    private readonly dirty: DirtyMarking | null = null
  ) {
    this.code = new MeteringCode(module, names);
  }

  /** Instruments one defined function; returns it (possibly re-created with an extra local). */
  meter(func: Ref): Ref {
    for (const list of [this.placeKinds, this.placeRefs, this.placeCharges, this.placeFlushes]) list.length = 0;
    for (const list of [this.counts, this.segmentPlaces, this.fallbacks, this.ifEntries, this.valueReturns]) list.length = 0;
    this.blocks.length = 0;
    this.blockFirstPlaces.length = 0;
    this.hasTailCall = false;
    this.hasCall = false;
    this.dirty?.reset();
    const entry = this.newPlace(PLACE_FUNCTION, func);
    this.current = this.newSegment(entry, NONE);
    this.walk(raw.functionGetBody(func), entry);
    this.close(this.current);
    // Writes are marked after the walk, so the marking code is not counted.
    return this.code.rewrite(func, this.hasTailCall, this.dirty?.localsNeeded ?? 0, (local, scratch) => {
      this.dirty?.apply(scratch);
      return this.inject(local);
    });
  }

  private walk(body: Ref, place: number): void {
    const { ops, argA, argB, counts } = this;
    this.push(VISIT, body, place);
    while (ops.length > 0) {
      const op = ops.pop() ?? VISIT;
      const a = argA.pop() ?? 0;
      const b = argB.pop() ?? 0;
      switch (op) {
        case VISIT:
          this.visit(a, b);
          break;
        case COUNT:
          counts[this.current] = (counts[this.current] ?? 0) + 1;
          break;
        case AFTER_CHILD:
          // Code that follows a nested structure in this statement, and the next statements, run
          // only after that structure ends: charge them just before the next statement.
          if (this.segmentPlaces[this.current] === NONE) this.segmentPlaces[this.current] = b;
          break;
        case BLOCK_END:
          if (raw.blockGetName(a) !== 0) this.split(b);
          break;
        case LOOP_END:
          this.split(b);
          break;
        case IF_THEN:
          counts[this.current] = (counts[this.current] ?? 0) + 1;
          this.close(this.current);
          this.ifEntries.push(this.current);
          this.current = this.newSegment(b, NONE);
          break;
        case IF_ELSE:
          this.close(this.current);
          this.current = this.newSegment(b, NONE);
          break;
        case IF_END:
          this.split(this.ifEntries.pop() ?? NONE);
          break;
      }
    }
  }

  private visit(expr: Ref, place: number): void {
    const id = raw.expressionGetId(expr);
    if (id === ExprId.Block) {
      const n = raw.blockGetNumChildren(expr);
      const first = this.placeKinds.length;
      for (let i = 0; i < n; i++) this.newPlace(PLACE_BEFORE, expr);
      this.blocks.push(expr);
      this.blockFirstPlaces.push(first);
      this.push(BLOCK_END, expr, this.current);
      for (let i = n - 1; i >= 0; i--) {
        this.push(VISIT, raw.blockGetChildAt(expr, i), first + i);
        if (i > 0) this.push(AFTER_CHILD, expr, first + i);
      }
    } else if (id === ExprId.Loop) {
      this.close(this.current);
      const entry = this.current;
      const head = this.newPlace(PLACE_LOOP, expr);
      this.current = this.newSegment(head, NONE);
      this.push(LOOP_END, expr, entry);
      this.push(VISIT, raw.loopGetBody(expr), head);
    } else if (id === ExprId.If) {
      const ifFalse = raw.ifGetIfFalse(expr);
      this.push(IF_END, expr, 0);
      if (ifFalse !== 0) {
        const elsePlace = this.newPlace(PLACE_IF_FALSE, expr);
        this.push(VISIT, ifFalse, elsePlace);
        this.push(IF_ELSE, expr, elsePlace);
      }
      const thenPlace = this.newPlace(PLACE_IF_TRUE, expr);
      this.push(VISIT, raw.ifGetIfTrue(expr), thenPlace);
      this.push(IF_THEN, expr, thenPlace);
      this.push(VISIT, raw.ifGetCondition(expr), place);
    } else {
      this.visitOperator(id, expr, place);
    }
  }

  private visitOperator(id: number, expr: Ref, place: number): void {
    const shape = operandShapes.get(id);
    if (shape === undefined) throw new UnsupportedExpressionError(id);
    const isReturnCall = CALL_IDS.get(id);
    if (isReturnCall !== undefined) {
      this.placeFlushes[place] = true;
      this.hasCall = true;
      if (isReturnCall(expr) !== 0) this.hasTailCall = true;
    } else if (id === ExprId.Return) {
      if (raw.returnGetValue(expr) === 0) this.placeFlushes[place] = true;
      else this.valueReturns.push(expr);
    }
    this.push(COUNT, 0, 0);
    // Operands are pushed last-first so that they are visited in evaluation order.
    if (shape.after !== undefined) {
      for (let i = shape.after.length - 1; i >= 0; i--) this.pushOperand(shape.after[i]?.(expr) ?? 0, place);
    }
    if (shape.numVariadic !== undefined && shape.variadicAt !== undefined) {
      for (let i = shape.numVariadic(expr) - 1; i >= 0; i--) this.pushOperand(shape.variadicAt(expr, i), place);
    }
    for (let i = shape.fixed.length - 1; i >= 0; i--) this.pushOperand(shape.fixed[i]?.(expr) ?? 0, place);
    if (id === ExprId.MemoryCopy || id === ExprId.MemoryFill || id === ExprId.MemoryInit) this.code.chargeSize(id, expr);
    this.dirty?.collect(id, expr);
  }

  private push(op: number, a: number, b: number): void {
    this.ops.push(op);
    this.argA.push(a);
    this.argB.push(b);
  }

  private pushOperand(expr: Ref, place: number): void {
    if (expr !== 0) this.push(VISIT, expr, place);
  }

  private newPlace(kind: number, ref: Ref): number {
    this.placeKinds.push(kind);
    this.placeRefs.push(ref);
    this.placeCharges.push(0);
    this.placeFlushes.push(false);
    return this.placeKinds.length - 1;
  }

  private newSegment(place: number, fallback: number): number {
    this.counts.push(0);
    this.segmentPlaces.push(place);
    this.fallbacks.push(fallback);
    return this.counts.length - 1;
  }

  /** Ends the current segment where a branch may land; what follows is counted from a new one. */
  private split(fallback: number): void {
    this.close(this.current);
    this.current = this.newSegment(NONE, fallback);
  }

  /**
   * Adds a finished segment's count to its place. A segment that ended before reaching a place (code
   * after a nested structure inside an expression, at the end of a block) is charged to the segment in
   * which that structure started: it runs once per run of the structure, so the error is bounded to those
   * few instructions.
   */
  private close(segment: number): void {
    let target = segment;
    while (target !== NONE && this.segmentPlaces[target] === NONE) target = this.fallbacks[target] ?? NONE;
    const place = target === NONE ? NONE : (this.segmentPlaces[target] ?? NONE);
    if (place === NONE) throw new Error('metering: segment without a place');
    this.placeCharges[place] = (this.placeCharges[place] ?? 0) + (this.counts[segment] ?? 0);
    this.counts[segment] = 0;
  }

  /** Inserts charges, checks and flushes; `local` is the function's counter local, or null for the global. */
  private inject(local: number | null): Ref[] {
    // Heads first; the prologue of a body that is an unnamed block goes into that block's rebuild below.
    const prologues = new Map<Ref, Ref[]>();
    for (let p = 0; p < this.placeKinds.length; p++) {
      const kind = this.placeKinds[p];
      if (kind === PLACE_BEFORE) continue;
      const statements = this.statementsAt(p, local);
      if (statements.length === 0) continue;
      const ref = this.placeRefs[p] ?? 0;
      const [get, set] =
        kind === PLACE_FUNCTION
          ? [raw.functionGetBody, raw.functionSetBody]
          : kind === PLACE_LOOP
            ? [raw.loopGetBody, raw.loopSetBody]
            : kind === PLACE_IF_TRUE
              ? [raw.ifGetIfTrue, raw.ifSetIfTrue]
              : [raw.ifGetIfFalse, raw.ifSetIfFalse];
      const body = get(ref);
      if (raw.expressionGetId(body) === ExprId.Block && raw.blockGetName(body) === 0) prologues.set(body, statements);
      else set(ref, this.code.block([...statements, body]));
    }
    // Each block is rebuilt once: inserting one child at a time reallocates the whole list every time.
    for (let b = 0; b < this.blocks.length; b++) {
      const block = this.blocks[b] ?? 0;
      const first = this.blockFirstPlaces[b] ?? 0;
      const n = raw.blockGetNumChildren(block);
      const children = prologues.get(block) ?? [];
      let changed = children.length > 0;
      for (let i = 0; i < n; i++) {
        const statements = this.statementsAt(first + i, local);
        if (statements.length > 0) changed = true;
        children.push(...statements, raw.blockGetChildAt(block, i));
      }
      if (!changed) continue;
      for (let i = n - 1; i >= 0; i--) raw.blockRemoveChildAt(block, i);
      for (const child of children) raw.blockAppendChild(block, child);
    }
    return this.valueReturns;
  }

  private statementsAt(place: number, local: number | null): Ref[] {
    const { code } = this;
    const kind = this.placeKinds[place];
    const statements: Ref[] = [];
    const charge = this.placeCharges[place] ?? 0;
    if (charge > 0) statements.push(code.charge(charge, local));
    if (kind === PLACE_LOOP || (kind === PLACE_FUNCTION && this.hasCall)) statements.push(code.limitCheck(local));
    if (local !== null && this.placeFlushes[place] === true) statements.push(...code.flush(local));
    return statements;
  }
}
