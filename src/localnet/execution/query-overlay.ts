import { HEAP_CHUNK_BYTES, type HeapShadow } from '../wasm/heap-shadow.js';
import { WASM_PAGE_BYTES, type StableMemory } from '../wasm/stable-memory.js';

/** The parts of a canister's loaded code an overlay touches (canister.ts's LoadedCode). */
interface Instance {
  memory: WebAssembly.Memory;
  globals: WebAssembly.Global[];
  dirty: { mark(offset: number, length: number): void };
}

/**
 * The uncommitted state of one composite-query call context. On the replica a composite query's changes
 * (heap, globals, stable memory) stay with its call context while its callbacks run, and are dropped when the
 * context ends; other call contexts, including queries of the same canister in the same call graph, see the
 * committed state. The localnet has one instance per canister, so each execution of the context starts by
 * laying this overlay over committed state and ends by taking its changes back into it; the canister's memory
 * is then restored as after any query.
 */
export class QueryOverlay {
  private readonly chunks = new Map<number, Uint8Array>();
  private memoryBytes = 0;
  private globals: unknown[] | undefined;
  private readonly stablePages = new Map<number, Uint8Array>();
  private stableSizePages: bigint | undefined;

  /** Writes the context's state over committed state (stable writes go to the open journal and roll back). */
  apply(loaded: Instance, stable: StableMemory): void {
    const have = loaded.memory.buffer.byteLength;
    if (this.memoryBytes > have) loaded.memory.grow((this.memoryBytes - have) / WASM_PAGE_BYTES);
    const memory = new Uint8Array(loaded.memory.buffer);
    for (const [index, bytes] of this.chunks) {
      memory.set(bytes, index * HEAP_CHUNK_BYTES);
      loaded.dirty.mark(index * HEAP_CHUNK_BYTES, bytes.length); // so that the restore afterwards covers it
    }
    if (this.globals !== undefined) loaded.globals.forEach((g, i) => (g.value = this.globals?.[i]));
    if (this.stableSizePages !== undefined && this.stableSizePages > stable.size) stable.grow(this.stableSizePages - stable.size);
    for (const [index, page] of this.stablePages) stable.write(BigInt(index * WASM_PAGE_BYTES), page);
  }

  /** Takes the state an execution left (before it is restored): `written` are its chunks, undefined = compare all. */
  capture(loaded: Instance, shadow: HeapShadow, stable: StableMemory, written: readonly number[] | undefined): void {
    const memory = new Uint8Array(loaded.memory.buffer);
    const committed = shadow.bytes();
    this.memoryBytes = memory.length;
    const chunkCount = Math.ceil(memory.length / HEAP_CHUNK_BYTES);
    if (written === undefined) this.chunks.clear();
    const candidates = written ?? Array.from({ length: chunkCount }, (_, i) => i);
    for (const index of candidates) {
      const offset = index * HEAP_CHUNK_BYTES;
      if (offset >= memory.length) continue;
      const current = memory.subarray(offset, Math.min(offset + HEAP_CHUNK_BYTES, memory.length));
      if (sameAsCommitted(current, committed, offset)) this.chunks.delete(index);
      else this.chunks.set(index, current.slice());
    }
    this.globals = loaded.globals.map((g) => g.value as unknown);
    for (const index of stable.journaledPages()) {
      const page = new Uint8Array(WASM_PAGE_BYTES);
      stable.read(BigInt(index * WASM_PAGE_BYTES), WASM_PAGE_BYTES, page, 0);
      this.stablePages.set(index, page);
    }
    this.stableSizePages = stable.size;
  }
}

function sameAsCommitted(current: Uint8Array, committed: Uint8Array, offset: number): boolean {
  if (offset + current.length > committed.length) return current.every((b) => b === 0);
  return Buffer.compare(current, committed.subarray(offset, offset + current.length)) === 0;
}
