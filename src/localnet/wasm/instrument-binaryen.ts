import binaryen from 'binaryen';

/**
 * Typed access to the parts of binaryen's C API that its TypeScript declarations leave out.
 *
 * The metering walk visits every expression of a ~3.5 MB module (over a million nodes), so it calls the
 * raw `_Binaryen*` getters directly: `binaryen.getExpressionInfo` would build an object per node.
 * Every function is looked up once, at import time, and checked to exist, so a binaryen upgrade that
 * renames one fails loudly here instead of deep inside a walk.
 */

/** A pointer into binaryen's heap (an expression, function, ...); 0 means "none". */
export type Ref = number;
type RawFn = (...args: number[]) => number;

function isRawFn(value: unknown): value is RawFn {
  return typeof value === 'function';
}

function exportedFn(name: string): RawFn {
  const value: unknown = Reflect.get(binaryen, name);
  if (!isRawFn(value)) throw new Error(`binaryen is missing ${name}; the instrumenter expects binaryen 116`);
  return value;
}

function rawFn(name: string): RawFn {
  return exportedFn(`_Binaryen${name}`);
}

function expressionId(name: string): number {
  const value: unknown = Reflect.get(binaryen, `${name}Id`);
  if (typeof value !== 'number') throw new Error(`binaryen is missing ${name}Id; the instrumenter expects binaryen 116`);
  return value;
}

export const ExprId = {
  Block: expressionId('Block'),
  If: expressionId('If'),
  Loop: expressionId('Loop'),
  Try: expressionId('Try'),
  Call: expressionId('Call'),
  CallIndirect: expressionId('CallIndirect'),
  CallRef: expressionId('CallRef'),
  Return: expressionId('Return'),
  Store: expressionId('Store'),
  AtomicRMW: expressionId('AtomicRMW'),
  AtomicCmpxchg: expressionId('AtomicCmpxchg'),
  SIMDLoadStoreLane: expressionId('SIMDLoadStoreLane'),
  MemoryCopy: expressionId('MemoryCopy'),
  MemoryFill: expressionId('MemoryFill'),
  MemoryInit: expressionId('MemoryInit')
} as const;

export const raw = {
  expressionGetId: rawFn('ExpressionGetId'),
  blockGetName: rawFn('BlockGetName'),
  blockGetNumChildren: rawFn('BlockGetNumChildren'),
  blockGetChildAt: rawFn('BlockGetChildAt'),
  blockRemoveChildAt: rawFn('BlockRemoveChildAt'),
  blockAppendChild: rawFn('BlockAppendChild'),
  ifGetCondition: rawFn('IfGetCondition'),
  ifGetIfTrue: rawFn('IfGetIfTrue'),
  ifGetIfFalse: rawFn('IfGetIfFalse'),
  ifSetIfTrue: rawFn('IfSetIfTrue'),
  ifSetIfFalse: rawFn('IfSetIfFalse'),
  loopGetBody: rawFn('LoopGetBody'),
  loopSetBody: rawFn('LoopSetBody'),
  globalGet: rawFn('GlobalGet'),
  globalSet: rawFn('GlobalSet'),
  callIsReturn: rawFn('CallIsReturn'),
  callIndirectIsReturn: rawFn('CallIndirectIsReturn'),
  callRefIsReturn: rawFn('CallRefIsReturn'),
  returnGetValue: rawFn('ReturnGetValue'),
  returnSetValue: rawFn('ReturnSetValue'),
  functionGetBody: rawFn('FunctionGetBody'),
  functionSetBody: rawFn('FunctionSetBody'),
  storeGetPtr: rawFn('StoreGetPtr'),
  storeSetPtr: rawFn('StoreSetPtr'),
  storeGetOffset: rawFn('StoreGetOffset'),
  atomicRMWGetPtr: rawFn('AtomicRMWGetPtr'),
  atomicRMWSetPtr: rawFn('AtomicRMWSetPtr'),
  atomicRMWGetOffset: rawFn('AtomicRMWGetOffset'),
  atomicCmpxchgGetPtr: rawFn('AtomicCmpxchgGetPtr'),
  atomicCmpxchgSetPtr: rawFn('AtomicCmpxchgSetPtr'),
  atomicCmpxchgGetOffset: rawFn('AtomicCmpxchgGetOffset'),
  simdLoadStoreLaneIsStore: rawFn('SIMDLoadStoreLaneIsStore'),
  simdLoadStoreLaneGetPtr: rawFn('SIMDLoadStoreLaneGetPtr'),
  simdLoadStoreLaneSetPtr: rawFn('SIMDLoadStoreLaneSetPtr'),
  simdLoadStoreLaneGetOffset: rawFn('SIMDLoadStoreLaneGetOffset'),
  memoryCopyGetDest: rawFn('MemoryCopyGetDest'),
  memoryCopySetDest: rawFn('MemoryCopySetDest'),
  memoryFillGetDest: rawFn('MemoryFillGetDest'),
  memoryFillSetDest: rawFn('MemoryFillSetDest'),
  memoryInitGetDest: rawFn('MemoryInitGetDest'),
  memoryInitSetDest: rawFn('MemoryInitSetDest'),
  memoryCopyGetSize: rawFn('MemoryCopyGetSize'),
  memoryCopySetSize: rawFn('MemoryCopySetSize'),
  memoryFillGetSize: rawFn('MemoryFillGetSize'),
  memoryFillSetSize: rawFn('MemoryFillSetSize'),
  memoryInitGetSize: rawFn('MemoryInitGetSize'),
  memoryInitSetSize: rawFn('MemoryInitSetSize')
} as const;

const malloc = exportedFn('_malloc');
const internedNames = new Map<string, number>();

/**
 * A NUL-terminated copy of `name` in binaryen's heap, allocated once per process and never freed.
 *
 * binaryen.js 116's `module.global.get/set` copy their name argument onto the C stack without restoring
 * it, so some 100k calls (one module's worth of counter updates) overflow the stack and corrupt the
 * heap. The metering calls the C functions with these long-lived names instead.
 */
export function internName(name: string): number {
  const known = internedNames.get(name);
  if (known !== undefined) return known;
  if (!/^[\x20-\x7e]*$/.test(name)) throw new Error(`internName expects a printable ASCII name, got ${JSON.stringify(name)}`);
  const pointer = malloc(name.length + 1);
  const heap: unknown = Reflect.get(binaryen, 'HEAPU8'); // re-read: the view is replaced when the heap grows
  if (pointer === 0 || !(heap instanceof Uint8Array)) throw new Error('binaryen heap is unavailable');
  for (let i = 0; i < name.length; i++) heap[pointer + i] = name.charCodeAt(i);
  heap[pointer + name.length] = 0;
  internedNames.set(name, pointer);
  return pointer;
}

/** How to reach the operands of one kind of expression, in evaluation order. */
export interface OperandShape {
  /** getters of the fixed operands; a getter may return 0 for an absent optional operand */
  fixed: RawFn[];
  /** for calls and tuples: operand count and getter, visited before `after` */
  numVariadic?: RawFn;
  variadicAt?: RawFn;
  /** fixed operands evaluated after the variadic ones (call_indirect's table index, call_ref's target) */
  after?: RawFn[];
}

function shape(fixed: string[], variadic?: string, after: string[] = []): OperandShape {
  const result: OperandShape = { fixed: fixed.map(rawFn) };
  if (variadic !== undefined) {
    result.numVariadic = rawFn(`${variadic}GetNumOperands`);
    result.variadicAt = rawFn(`${variadic}GetOperandAt`);
  }
  if (after.length > 0) result.after = after.map(rawFn);
  return result;
}

/**
 * Operand shapes of every non-control expression the metering supports, keyed by expression id.
 * Control flow (block, if, loop) is handled by the walk itself; `try` and GC/string expressions are
 * absent on purpose, so the walk rejects them instead of miscounting.
 */
export const operandShapes: ReadonlyMap<number, OperandShape> = new Map<number, OperandShape>([
  [expressionId('Break'), shape(['BreakGetValue', 'BreakGetCondition'])],
  [expressionId('Switch'), shape(['SwitchGetValue', 'SwitchGetCondition'])],
  [expressionId('Call'), shape([], 'Call')],
  [expressionId('CallIndirect'), shape([], 'CallIndirect', ['CallIndirectGetTarget'])],
  [expressionId('CallRef'), shape([], 'CallRef', ['CallRefGetTarget'])],
  [expressionId('LocalGet'), shape([])],
  [expressionId('LocalSet'), shape(['LocalSetGetValue'])],
  [expressionId('GlobalGet'), shape([])],
  [expressionId('GlobalSet'), shape(['GlobalSetGetValue'])],
  [expressionId('Load'), shape(['LoadGetPtr'])],
  [expressionId('Store'), shape(['StoreGetPtr', 'StoreGetValue'])],
  [expressionId('Const'), shape([])],
  [expressionId('Unary'), shape(['UnaryGetValue'])],
  [expressionId('Binary'), shape(['BinaryGetLeft', 'BinaryGetRight'])],
  [expressionId('Select'), shape(['SelectGetIfTrue', 'SelectGetIfFalse', 'SelectGetCondition'])],
  [expressionId('Drop'), shape(['DropGetValue'])],
  [expressionId('Return'), shape(['ReturnGetValue'])],
  [expressionId('MemorySize'), shape([])],
  [expressionId('MemoryGrow'), shape(['MemoryGrowGetDelta'])],
  [expressionId('Nop'), shape([])],
  [expressionId('Unreachable'), shape([])],
  [expressionId('AtomicRMW'), shape(['AtomicRMWGetPtr', 'AtomicRMWGetValue'])],
  [expressionId('AtomicCmpxchg'), shape(['AtomicCmpxchgGetPtr', 'AtomicCmpxchgGetExpected', 'AtomicCmpxchgGetReplacement'])],
  [expressionId('AtomicWait'), shape(['AtomicWaitGetPtr', 'AtomicWaitGetExpected', 'AtomicWaitGetTimeout'])],
  [expressionId('AtomicNotify'), shape(['AtomicNotifyGetPtr', 'AtomicNotifyGetNotifyCount'])],
  [expressionId('AtomicFence'), shape([])],
  [expressionId('SIMDExtract'), shape(['SIMDExtractGetVec'])],
  [expressionId('SIMDReplace'), shape(['SIMDReplaceGetVec', 'SIMDReplaceGetValue'])],
  [expressionId('SIMDShuffle'), shape(['SIMDShuffleGetLeft', 'SIMDShuffleGetRight'])],
  [expressionId('SIMDTernary'), shape(['SIMDTernaryGetA', 'SIMDTernaryGetB', 'SIMDTernaryGetC'])],
  [expressionId('SIMDShift'), shape(['SIMDShiftGetVec', 'SIMDShiftGetShift'])],
  [expressionId('SIMDLoad'), shape(['SIMDLoadGetPtr'])],
  [expressionId('SIMDLoadStoreLane'), shape(['SIMDLoadStoreLaneGetPtr', 'SIMDLoadStoreLaneGetVec'])],
  [expressionId('MemoryInit'), shape(['MemoryInitGetDest', 'MemoryInitGetOffset', 'MemoryInitGetSize'])],
  [expressionId('DataDrop'), shape([])],
  [expressionId('MemoryCopy'), shape(['MemoryCopyGetDest', 'MemoryCopyGetSource', 'MemoryCopyGetSize'])],
  [expressionId('MemoryFill'), shape(['MemoryFillGetDest', 'MemoryFillGetValue', 'MemoryFillGetSize'])],
  [expressionId('RefNull'), shape([])],
  [expressionId('RefIsNull'), shape(['RefIsNullGetValue'])],
  [expressionId('RefAs'), shape(['RefAsGetValue'])],
  [expressionId('RefFunc'), shape([])],
  [expressionId('RefEq'), shape(['RefEqGetLeft', 'RefEqGetRight'])],
  [expressionId('TableGet'), shape(['TableGetGetIndex'])],
  [expressionId('TableSet'), shape(['TableSetGetIndex', 'TableSetGetValue'])],
  [expressionId('TableSize'), shape([])],
  [expressionId('TableGrow'), shape(['TableGrowGetValue', 'TableGrowGetDelta'])],
  [expressionId('Throw'), shape([], 'Throw')],
  [expressionId('TupleMake'), shape([], 'TupleMake')],
  [expressionId('TupleExtract'), shape(['TupleExtractGetTuple'])]
]);
