/** Granularity of linear-memory change tracking: small enough that a typical message dirties a few chunks. */
export const HEAP_CHUNK_BYTES = 4096;
/** Memory is first compared in blocks this large (few native memcmp calls), then changed blocks chunk by chunk. */
const BLOCK_BYTES = 64 * 1024;

/** Calls `visit` for every HEAP_CHUNK_BYTES chunk below `length` whose bytes differ between `a` and `b`. */
function forEachChangedChunk(a: Buffer, b: Buffer, length: number, visit: (offset: number, end: number) => void): void {
  for (let block = 0; block < length; block += BLOCK_BYTES) {
    const blockEnd = Math.min(block + BLOCK_BYTES, length);
    if (a.compare(b, block, blockEnd, block, blockEnd) === 0) continue;
    for (let offset = block; offset < blockEnd; offset += HEAP_CHUNK_BYTES) {
      const end = Math.min(offset + HEAP_CHUNK_BYTES, blockEnd);
      if (a.compare(b, offset, end, offset, end) !== 0) visit(offset, end);
    }
  }
}

/**
 * The committed copy of a canister's linear memory. After each message the chunks the message wrote are either
 * kept (commit, and remembered for persistence) or copied back (trap, and every query). Which chunks those are
 * comes from the instrumented module's dirty bitmap (heap-dirty.ts) when it is on; otherwise (V8 cannot tell
 * which pages were written) memory is compared with this copy chunk by chunk, at memcmp speed.
 */
export class HeapShadow {
  private shadow: Buffer;
  private readonly dirty = new Set<number>();
  private replaced = true;

  constructor(initial: Uint8Array) {
    this.shadow = Buffer.from(initial);
  }

  get byteLength(): number {
    return this.shadow.length;
  }

  /** Accepts the current memory as committed. Returns how many chunks changed. */
  commit(memory: WebAssembly.Memory): number {
    const current = Buffer.from(memory.buffer);
    this.grow(current.length);
    let changed = 0;
    forEachChangedChunk(current, this.shadow, current.length, (offset, end) => {
      current.copy(this.shadow, offset, offset, end);
      this.dirty.add(offset / HEAP_CHUNK_BYTES);
      changed++;
    });
    return changed;
  }

  /** commit() for a message that wrote only `chunks` (any order; a chunk past the end of memory is skipped). */
  commitChunks(memory: WebAssembly.Memory, chunks: readonly number[]): number {
    const current = Buffer.from(memory.buffer);
    this.grow(current.length);
    let changed = 0;
    for (const index of chunks) {
      const offset = index * HEAP_CHUNK_BYTES;
      if (offset >= current.length) continue;
      const end = Math.min(offset + HEAP_CHUNK_BYTES, current.length);
      if (current.compare(this.shadow, offset, end, offset, end) === 0) continue;
      current.copy(this.shadow, offset, offset, end);
      this.dirty.add(index);
      changed++;
    }
    return changed;
  }

  /** restore() for a message that wrote only `chunks`. */
  restoreChunks(memory: WebAssembly.Memory, chunks: readonly number[]): void {
    const current = Buffer.from(memory.buffer);
    const committed = this.shadow.length;
    for (const index of chunks) {
      const offset = index * HEAP_CHUNK_BYTES;
      if (offset >= committed) continue; // zeroed below
      const end = Math.min(offset + HEAP_CHUNK_BYTES, committed);
      this.shadow.copy(current, offset, offset, end);
    }
    if (current.length > committed) current.fill(0, committed);
  }

  /** Puts the committed content back (memory cannot shrink: bytes past the committed size become zero). */
  restore(memory: WebAssembly.Memory): void {
    const current = Buffer.from(memory.buffer);
    const committed = this.shadow.length;
    forEachChangedChunk(current, this.shadow, committed, (offset, end) => {
      this.shadow.copy(current, offset, offset, end);
    });
    if (current.length > committed) current.fill(0, committed);
  }

  /** Writes the committed content into a fresh memory (after a restart). */
  copyInto(memory: WebAssembly.Memory): void {
    const pages = Math.ceil(this.shadow.length / 65_536);
    const have = memory.buffer.byteLength / 65_536;
    if (pages > have) memory.grow(pages - have);
    Buffer.from(memory.buffer).set(this.shadow);
  }

  /** Changes since the last call, for the write-ahead log. */
  takeDirty(): { size: number; full?: Uint8Array; chunks: Array<{ offset: number; bytes: Uint8Array }> } {
    const size = this.shadow.length;
    if (this.replaced) {
      this.replaced = false;
      this.dirty.clear();
      return { size, full: new Uint8Array(this.shadow), chunks: [] };
    }
    const chunks = [...this.dirty]
      .sort((a, b) => a - b)
      .map((index) => {
        const offset = index * HEAP_CHUNK_BYTES;
        return { offset, bytes: new Uint8Array(this.shadow.subarray(offset, Math.min(offset + HEAP_CHUNK_BYTES, size))) };
      });
    this.dirty.clear();
    return { size, chunks };
  }

  /** Memory grew: the new bytes are zero in memory, and so in the copy until a message writes them. */
  private grow(length: number): void {
    if (length <= this.shadow.length) return;
    const grown = Buffer.alloc(length);
    this.shadow.copy(grown);
    this.shadow = grown;
  }

  /** A view of the committed bytes (not a copy). */
  bytes(): Uint8Array {
    return this.shadow;
  }

  /** The next takeDirty() reports the whole memory (after install, or when loaded without a base on disk). */
  markReplaced(): void {
    this.replaced = true;
  }

  /** Loaded from disk: nothing to persist until something changes. */
  markPersisted(): void {
    this.replaced = false;
    this.dirty.clear();
  }
}
