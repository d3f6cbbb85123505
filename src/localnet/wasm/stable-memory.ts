import { CanisterTrap, ErrorCode } from '../errors.js';

export const WASM_PAGE_BYTES = 65_536;
/** Stable memory is capped like a wasm64 canister's on the IC (500 GiB); we also cap it to keep the host sane. */
const MAX_STABLE_PAGES = 6_553_600n;

/**
 * Sparse stable memory: only pages that were ever written exist. Writes record the previous content of each
 * page once per transaction, so a trap rolls back in time proportional to what was written.
 */
export class StableMemory {
  private readonly pages = new Map<number, Uint8Array>();
  private sizePages = 0n;
  private journal: Map<number, Uint8Array | undefined> | null = null;
  private journalSize = 0n;
  /** Pages changed since the last `takeDirty()`, for persistence. */
  private readonly dirty = new Set<number>();
  private cleared = false;

  static fromPages(sizePages: bigint, pages: Map<number, Uint8Array>): StableMemory {
    const memory = new StableMemory();
    memory.sizePages = sizePages;
    for (const [index, bytes] of pages) memory.pages.set(index, bytes.slice());
    return memory;
  }

  get size(): bigint {
    return this.sizePages;
  }

  begin(): void {
    this.journal = new Map();
    this.journalSize = this.sizePages;
  }

  commit(): void {
    this.journal = null;
  }

  /** Pages written since begin() (a composite query's overlay keeps them). */
  journaledPages(): number[] {
    return this.journal === null ? [] : [...this.journal.keys()];
  }

  rollback(): void {
    if (this.journal === null) return;
    for (const [index, previous] of this.journal) {
      if (previous === undefined) this.pages.delete(index);
      else this.pages.set(index, previous);
    }
    this.sizePages = this.journalSize;
    this.journal = null;
  }

  /** Empties the memory (reinstall). Recorded for persistence as a clear. */
  clear(): void {
    this.pages.clear();
    this.sizePages = 0n;
    this.dirty.clear();
    this.cleared = true;
  }

  /** Persistence must drop every page stored before (a new memory replaced the old one); pages written since stay dirty. */
  markCleared(): void {
    this.cleared = true;
  }

  grow(deltaPages: bigint): bigint {
    const previous = this.sizePages;
    if (deltaPages < 0n || previous + deltaPages > MAX_STABLE_PAGES) return -1n;
    this.sizePages = previous + deltaPages;
    return previous;
  }

  read(offset: bigint, length: number, target: Uint8Array, targetOffset: number): void {
    this.checkBounds(offset, length);
    let done = 0;
    let position = Number(offset);
    while (done < length) {
      const index = Math.floor(position / WASM_PAGE_BYTES);
      const within = position - index * WASM_PAGE_BYTES;
      const n = Math.min(length - done, WASM_PAGE_BYTES - within);
      const page = this.pages.get(index);
      if (page === undefined) target.fill(0, targetOffset + done, targetOffset + done + n);
      else target.set(page.subarray(within, within + n), targetOffset + done);
      done += n;
      position += n;
    }
  }

  write(offset: bigint, source: Uint8Array): void {
    this.checkBounds(offset, source.length);
    let done = 0;
    let position = Number(offset);
    while (done < source.length) {
      const index = Math.floor(position / WASM_PAGE_BYTES);
      const within = position - index * WASM_PAGE_BYTES;
      const n = Math.min(source.length - done, WASM_PAGE_BYTES - within);
      let page = this.pages.get(index);
      if (this.journal !== null && !this.journal.has(index)) this.journal.set(index, page?.slice());
      if (page === undefined) {
        page = new Uint8Array(WASM_PAGE_BYTES);
        this.pages.set(index, page);
      }
      page.set(source.subarray(done, done + n), within);
      this.dirty.add(index);
      done += n;
      position += n;
    }
  }

  /** Pages changed since the last call (null = the page is all zeros now) and whether the memory was cleared. */
  takeDirty(): { cleared: boolean; pages: Array<{ index: number; bytes: Uint8Array | null }> } {
    const pages = [...this.dirty]
      .sort((a, b) => a - b)
      .map((index) => {
        const page = this.pages.get(index);
        return { index, bytes: page === undefined || isZero(page) ? null : page.slice() };
      });
    const cleared = this.cleared;
    this.dirty.clear();
    this.cleared = false;
    return { cleared, pages };
  }

  /** Non-zero pages, for checkpoints and status. */
  nonZeroPages(): Map<number, Uint8Array> {
    const result = new Map<number, Uint8Array>();
    for (const [index, page] of this.pages) if (!isZero(page)) result.set(index, page);
    return result;
  }

  private checkBounds(offset: bigint, length: number): void {
    const end = offset + BigInt(length);
    if (offset < 0n || end > this.sizePages * BigInt(WASM_PAGE_BYTES)) {
      throw new CanisterTrap(ErrorCode.CanisterTrapped, 'stable memory out of bounds');
    }
  }
}

function isZero(page: Uint8Array): boolean {
  const words = new BigUint64Array(page.buffer, page.byteOffset, page.byteLength / 8);
  for (let i = 0; i < words.length; i++) if (words[i] !== 0n) return false;
  return true;
}
