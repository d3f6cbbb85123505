import binaryen from 'binaryen';
import { ExprId, internName, raw, type Ref } from './instrument-binaryen.js';

/**
 * Dirty-chunk marking: every write of the canister to linear memory sets one byte per 4 KiB chunk it
 * touches in a bitmap that the host placed in that same memory, so that after a message the host copies
 * (commit) or puts back (rollback) only those chunks instead of comparing the whole memory.
 *
 * The bitmap starts at the byte address in `__deai_dirty_base` and covers `__deai_dirty_chunks` chunks.
 * Both start at 0: with no coverage every write only sets `__deai_dirty_overflow`, which tells the host to
 * fall back to a full compare; a write past the coverage does the same. Nothing of this is metered: it is
 * host bookkeeping, inserted after the metering walk has counted the original code.
 *
 * Plain, atomic and lane stores get their address operand wrapped (`ptr` -> a block that saves it in a
 * scratch local, marks the chunk of its first byte, and yields it), so evaluation order and the number of
 * evaluations stay the same; the host adds the following chunk for stores that straddle into it.
 * memory.fill/copy/init keep their destination in a local and pass their (already charged) size through
 * `markRange(dst, len) -> len`, which marks every chunk in between with one memory.fill on the bitmap; the
 * call runs after all operands and just before the operation. A function of the module rather than a host
 * import: bulk copies are frequent (Rust's and libc's memcpy), and a call into JS costs far more.
 */

export const DIRTY_BASE_EXPORT = '__deai_dirty_base';
export const DIRTY_CHUNKS_EXPORT = '__deai_dirty_chunks';
export const DIRTY_OVERFLOW_EXPORT = '__deai_dirty_overflow';
/** log2 of the bytes one bitmap entry stands for (4 KiB, the host's HEAP_CHUNK_BYTES) */
export const DIRTY_CHUNK_SHIFT = 12;

export interface DirtyNames {
  base: string;
  chunks: string;
  overflow: string;
  /** `(i32 dst, i32 len) -> i32 len`: marks the chunks of [dst, dst + len) */
  markRange: string;
}

interface PointerAccess {
  getPtr: (expr: Ref) => Ref;
  setPtr: (expr: Ref, ptr: Ref) => void;
  getOffset: (expr: Ref) => number;
}

interface BulkAccess {
  getDest: (expr: Ref) => Ref;
  setDest: (expr: Ref, dest: Ref) => void;
  getSize: (expr: Ref) => Ref;
  setSize: (expr: Ref, size: Ref) => void;
}

const POINTER_WRITES: ReadonlyMap<number, PointerAccess> = new Map<number, PointerAccess>([
  [ExprId.Store, { getPtr: raw.storeGetPtr, setPtr: raw.storeSetPtr, getOffset: raw.storeGetOffset }],
  [ExprId.AtomicRMW, { getPtr: raw.atomicRMWGetPtr, setPtr: raw.atomicRMWSetPtr, getOffset: raw.atomicRMWGetOffset }],
  [ExprId.AtomicCmpxchg, { getPtr: raw.atomicCmpxchgGetPtr, setPtr: raw.atomicCmpxchgSetPtr, getOffset: raw.atomicCmpxchgGetOffset }],
  [
    ExprId.SIMDLoadStoreLane,
    { getPtr: raw.simdLoadStoreLaneGetPtr, setPtr: raw.simdLoadStoreLaneSetPtr, getOffset: raw.simdLoadStoreLaneGetOffset }
  ]
]);

const BULK_WRITES: ReadonlyMap<number, BulkAccess> = new Map<number, BulkAccess>([
  [
    ExprId.MemoryFill,
    { getDest: raw.memoryFillGetDest, setDest: raw.memoryFillSetDest, getSize: raw.memoryFillGetSize, setSize: raw.memoryFillSetSize }
  ],
  [
    ExprId.MemoryCopy,
    { getDest: raw.memoryCopyGetDest, setDest: raw.memoryCopySetDest, getSize: raw.memoryCopyGetSize, setSize: raw.memoryCopySetSize }
  ],
  [
    ExprId.MemoryInit,
    { getDest: raw.memoryInitGetDest, setDest: raw.memoryInitSetDest, getSize: raw.memoryInitGetSize, setSize: raw.memoryInitSetSize }
  ]
]);

/** Collects the memory writes of one function during the metering walk, then rewrites them. */
export class DirtyMarking {
  private readonly stores: Ref[] = [];
  private readonly bulk: Ref[] = [];
  private readonly base: number;
  private readonly chunks: number;
  private readonly overflow: number;

  constructor(
    private readonly module: binaryen.Module,
    private readonly names: DirtyNames
  ) {
    this.base = internName(names.base);
    this.chunks = internName(names.chunks);
    this.overflow = internName(names.overflow);
  }

  reset(): void {
    this.stores.length = 0;
    this.bulk.length = 0;
  }

  collect(id: number, expr: Ref): void {
    if (POINTER_WRITES.has(id)) {
      if (id !== ExprId.SIMDLoadStoreLane || raw.simdLoadStoreLaneIsStore(expr) !== 0) this.stores.push(expr);
    } else if (BULK_WRITES.has(id)) {
      this.bulk.push(expr);
    }
  }

  /** i32 scratch locals the collected writes need: address and chunk for stores, one destination per bulk write. */
  get localsNeeded(): number {
    return (this.stores.length > 0 ? 2 : 0) + this.bulk.length;
  }

  /** Rewrites the collected writes; `firstLocal` is the index of the first of `localsNeeded` fresh i32 locals. */
  apply(firstLocal: number): void {
    const m = this.module;
    const address = firstLocal;
    const chunk = firstLocal + 1;
    for (const expr of this.stores) {
      const access = POINTER_WRITES.get(raw.expressionGetId(expr));
      if (access === undefined) continue;
      access.setPtr(expr, this.markedPointer(access.getPtr(expr), access.getOffset(expr) >>> 0, address, chunk));
    }
    let local = firstLocal + (this.stores.length > 0 ? 2 : 0);
    for (const expr of this.bulk) {
      const access = BULK_WRITES.get(raw.expressionGetId(expr));
      if (access === undefined) continue;
      access.setDest(expr, m.local.tee(local, access.getDest(expr), binaryen.i32));
      access.setSize(expr, m.call(this.names.markRange, [m.local.get(local, binaryen.i32), access.getSize(expr)], binaryen.i32));
      local++;
    }
  }

  /**
   * `{ a = ptr; c = (a + offset) >> 12; if (c < chunks) bitmap[c] = 1 else overflow = 1; a }`. Only the chunk of
   * the first byte is marked: a store of up to 16 bytes that straddles into the next chunk is covered by the
   * host, which treats every marked chunk as "this one and the next" (one extra compare per run of marked
   * chunks, instead of a second mark in every store). The sum wraps only for addresses the store traps on.
   */
  private markedPointer(ptr: Ref, offset: number, address: number, chunk: number): Ref {
    const m = this.module;
    const a = m.local.get(address, binaryen.i32);
    const start = offset === 0 ? a : m.i32.add(a, m.i32.const(offset | 0));
    const inRange = m.i32.lt_u(
      m.local.tee(chunk, m.i32.shr_u(start, m.i32.const(DIRTY_CHUNK_SHIFT)), binaryen.i32),
      this.global(this.chunks)
    );
    const mark = m.i32.store8(0, 1, m.i32.add(this.global(this.base), m.local.get(chunk, binaryen.i32)), m.i32.const(1));
    return m.block(
      null,
      [
        m.local.set(address, ptr),
        m.if(inRange, mark, raw.globalSet(m.ptr, this.overflow, m.i32.const(1))),
        m.local.get(address, binaryen.i32)
      ],
      binaryen.i32
    );
  }

  private global(name: number): Ref {
    return raw.globalGet(this.module.ptr, name, binaryen.i32);
  }
}

/** Adds the bitmap globals (all 0: tracking off) and `markRange`; call after the metering walk so it stays unmetered. */
export function addDirtyRuntime(module: binaryen.Module, names: DirtyNames): void {
  const m = module;
  for (const name of [names.base, names.chunks, names.overflow]) m.addGlobal(name, binaryen.i32, true, m.i32.const(0));
  const base = internName(names.base);
  const chunks = internName(names.chunks);
  const overflow = internName(names.overflow);
  const dst = (): Ref => m.local.get(0, binaryen.i32);
  const len = (): Ref => m.local.get(1, binaryen.i32);
  const first = (): Ref => m.local.get(2, binaryen.i32);
  const last = (): Ref => m.local.get(3, binaryen.i32);
  const shift = m.i32.const(DIRTY_CHUNK_SHIFT);
  // len == 0 writes nothing; last < first means dst + len wrapped, which the operation traps on.
  const computeBounds = [
    m.local.set(2, m.i32.shr_u(dst(), shift)),
    m.local.set(3, m.i32.shr_u(m.i32.add(dst(), m.i32.sub(len(), m.i32.const(1))), m.i32.const(DIRTY_CHUNK_SHIFT)))
  ];
  const fill = m.memory.fill(
    m.i32.add(raw.globalGet(m.ptr, base, binaryen.i32), first()),
    m.i32.const(1),
    m.i32.add(m.i32.sub(last(), first()), m.i32.const(1))
  );
  const markOrOverflow = m.if(
    m.i32.lt_u(last(), raw.globalGet(m.ptr, chunks, binaryen.i32)),
    m.if(m.i32.ge_u(last(), first()), fill),
    raw.globalSet(m.ptr, overflow, m.i32.const(1))
  );
  const body = m.block(null, [m.if(len(), m.block(null, [...computeBounds, markOrOverflow], binaryen.none)), len()], binaryen.i32);
  m.addFunction(names.markRange, binaryen.createType([binaryen.i32, binaryen.i32]), binaryen.i32, [binaryen.i32, binaryen.i32], body);
}
