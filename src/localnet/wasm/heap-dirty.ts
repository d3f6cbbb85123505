import { HEAP_CHUNK_BYTES } from './heap-shadow.js';
import { DIRTY_BASE_EXPORT, DIRTY_CHUNKS_EXPORT, DIRTY_CHUNK_SHIFT, DIRTY_OVERFLOW_EXPORT } from './instrument.js';

const WASM_PAGE_BYTES = 65_536;
/** One bitmap byte per chunk of the whole 4 GiB wasm32 address space: 1 MiB, 16 pages. */
export const DIRTY_BITMAP_CHUNKS = 2 ** 32 / HEAP_CHUNK_BYTES;

if (HEAP_CHUNK_BYTES !== 2 ** DIRTY_CHUNK_SHIFT) throw new Error('heap chunk size and dirty-bitmap chunk size differ');

/** Where a canister's bitmap lives; persisted with the canister, since its pages are part of the heap. */
export interface DirtyPlacement {
  /** byte address of the bitmap in linear memory (page-aligned) */
  base: number;
  /** chunks it covers (bytes it occupies) */
  chunks: number;
}

/**
 * The host side of dirty-chunk tracking (see instrument-dirty.ts): places the bitmap, marks the host's own
 * writes (system API copies into memory), and after each message hands over and clears the marked chunks.
 *
 * The bitmap sits in pages the host grows before the canister's first instruction. The canister's allocator
 * (wasi-libc dlmalloc over sbrk in azle) only hands out memory it obtained from its own memory.grow, and the
 * first sbrk starts at the then-current end of memory, so those pages are never allocated to the canister.
 * Its bytes are bookkeeping: all zero at every commit point (so the committed heap and every persisted
 * snapshot hold zeros there), never part of a diff. Should the canister write into them anyway, its own mark
 * lands on a bitmap chunk and the host turns tracking off for that instance (full compares from then on).
 */
export class DirtyBitmap {
  private at: DirtyPlacement | undefined;

  private constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly globals: { base: WebAssembly.Global; chunks: WebAssembly.Global; overflow: WebAssembly.Global } | undefined
  ) {}

  /** Binds to an instance; tracking stays off until place() or resume(), and for modules instrumented without it. */
  static attach(exports: WebAssembly.Exports, memory: WebAssembly.Memory): DirtyBitmap {
    const base = exports[DIRTY_BASE_EXPORT];
    const chunks = exports[DIRTY_CHUNKS_EXPORT];
    const overflow = exports[DIRTY_OVERFLOW_EXPORT];
    if (base instanceof WebAssembly.Global && chunks instanceof WebAssembly.Global && overflow instanceof WebAssembly.Global) {
      return new DirtyBitmap(memory, { base, chunks, overflow });
    }
    return new DirtyBitmap(memory, undefined);
  }

  /** The bitmap's place while tracking is on. */
  get placement(): DirtyPlacement | undefined {
    return this.at === undefined ? undefined : { ...this.at };
  }

  /**
   * Grows memory by the bitmap's pages and turns tracking on. Call before any canister code runs (right after
   * instantiation). Returns false, leaving tracking off, when the module has no tracking or memory cannot grow.
   */
  place(): boolean {
    if (this.globals === undefined) return false;
    const pages = Math.ceil(DIRTY_BITMAP_CHUNKS / WASM_PAGE_BYTES);
    let previousPages: number;
    try {
      previousPages = this.memory.grow(pages);
    } catch (error) {
      if (error instanceof RangeError) return false; // the module's maximum memory leaves no room
      throw error;
    }
    return this.enable({ base: previousPages * WASM_PAGE_BYTES, chunks: DIRTY_BITMAP_CHUNKS });
  }

  /** Turns tracking back on after a restart, over a restored heap that already holds the bitmap pages. */
  resume(placement: DirtyPlacement): boolean {
    const { base, chunks } = placement;
    const valid = Number.isSafeInteger(base) && Number.isSafeInteger(chunks) && base % WASM_PAGE_BYTES === 0 && chunks > 0;
    if (this.globals === undefined || !valid || chunks > DIRTY_BITMAP_CHUNKS || base + chunks > this.memory.buffer.byteLength) return false;
    new Uint8Array(this.memory.buffer).fill(0, base, base + chunks);
    return this.enable(placement);
  }

  /** Marks [offset, offset + length) as written by the host (bounds already checked). */
  mark(offset: number, length: number): void {
    if (this.at === undefined || length <= 0) return;
    const first = Math.floor(offset / HEAP_CHUNK_BYTES);
    const last = Math.floor((offset + length - 1) / HEAP_CHUNK_BYTES);
    if (last >= this.at.chunks) {
      if (this.globals !== undefined) this.globals.overflow.value = 1;
      return;
    }
    new Uint8Array(this.memory.buffer).fill(1, this.at.base + first, this.at.base + last + 1);
  }

  /**
   * The chunks written since the last call, in ascending order; clears their marks. A store marks only the
   * chunk of its first byte, so the chunk after each marked one is included too (a store may straddle into
   * it). Undefined when the marks cannot be trusted: the caller then compares all of memory. That is the case
   * while tracking is off, after a write past the coverage (the bitmap is zeroed first, so that it does not
   * show up in the compare), and after a write into the bitmap itself (which turns tracking off for good).
   */
  take(): number[] | undefined {
    const at = this.at;
    const globals = this.globals;
    if (at === undefined || globals === undefined) return undefined;
    const bytes = new Uint8Array(this.memory.buffer);
    if (globals.overflow.value !== 0) return this.discard(bytes, at);
    // Only chunks inside memory can have been written; a mark further up (a store that trapped out of bounds)
    // stays behind harmlessly until memory grows that far.
    const inMemory = bytes.length / HEAP_CHUNK_BYTES;
    const scanned = Math.min(at.chunks, inMemory);
    const ownFirst = Math.floor(at.base / HEAP_CHUNK_BYTES);
    const ownEnd = Math.ceil((at.base + at.chunks) / HEAP_CHUNK_BYTES);
    const marked: number[] = [];
    const words = new Uint32Array(this.memory.buffer, at.base, scanned >>> 2);
    for (let w = 0; w < words.length; w++) {
      if (words[w] === 0) continue;
      for (let i = w * 4; i < w * 4 + 4; i++) if (bytes[at.base + i] !== 0) marked.push(i);
    }
    for (let i = words.length * 4; i < scanned; i++) if (bytes[at.base + i] !== 0) marked.push(i);
    // A mark on the bitmap's own chunks means the canister (or a system call on its behalf) wrote into it:
    // its allocator does not keep out of those pages after all. From now on they are ordinary memory, left
    // as they are (so checked before clearing anything), and every message is compared in full.
    if (marked.some((chunk) => chunk >= ownFirst && chunk < ownEnd)) {
      this.disable();
      return undefined;
    }
    const chunks: number[] = [];
    let next = -1; // the chunk after the last marked one, not yet added
    for (const chunk of marked) {
      bytes[at.base + chunk] = 0;
      if (next >= 0 && next !== chunk) chunks.push(next);
      chunks.push(chunk);
      next = chunk + 1 < inMemory && (chunk + 1 < ownFirst || chunk + 1 >= ownEnd) ? chunk + 1 : -1;
    }
    if (next >= 0) chunks.push(next);
    return chunks;
  }

  private disable(): void {
    if (this.globals !== undefined) {
      this.globals.chunks.value = 0;
      this.globals.base.value = 0;
    }
    this.at = undefined;
  }

  private discard(bytes: Uint8Array, at: DirtyPlacement): undefined {
    if (this.globals !== undefined) this.globals.overflow.value = 0;
    bytes.fill(0, at.base, at.base + at.chunks);
    return undefined;
  }

  private enable(placement: DirtyPlacement): boolean {
    if (this.globals === undefined) return false;
    this.globals.base.value = placement.base;
    this.globals.chunks.value = placement.chunks;
    this.globals.overflow.value = 0;
    this.at = { ...placement };
    return true;
  }
}
