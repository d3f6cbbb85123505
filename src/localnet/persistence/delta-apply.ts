/**
 * Checks a RoundDelta against the current state, then applies it. Validation runs completely before any
 * byte is logged or any field mutated, so a rejected delta leaves both the log and `state` untouched.
 */
import { InvalidDeltaError } from './errors.ts';
import { isZeroPage, SHA256_HEX, sha256Hex } from './bytes.ts';
import { STABLE_PAGE_BYTES, type PersistedState, type RoundDelta } from './types.ts';

/** Canisters whose heap or stable memory changed since the last checkpoint. */
export interface DirtySets {
  heap: Set<string>;
  stable: Set<string>;
}

const MAX_PAGE_INDEX = 0xffff_ffff;

function isSize(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** Throws InvalidDeltaError describing the first contract violation. */
export function validateDelta(state: PersistedState, delta: RoundDelta, options: { checkBlobHashes: boolean }): void {
  if (!Array.isArray(delta.canisters)) throw new InvalidDeltaError('canisters must be an array');
  // Heap length per canister as the round progresses (null = not installed), so repeated ids are checked in order.
  const heapLength = new Map<string, number | null>();
  for (const [i, c] of delta.canisters.entries()) {
    const where = `canisters[${i}] (${String(c.id)})`;
    if (typeof c.id !== 'string' || c.id.length === 0) throw new InvalidDeltaError(`${where}: id must be a non-empty string`);
    if (c.deleted !== undefined) {
      if (c.deleted !== true) throw new InvalidDeltaError(`${where}: deleted must be true when present`);
      if (c.meta !== undefined || c.heap !== undefined || c.stable !== undefined) {
        throw new InvalidDeltaError(`${where}: a deletion cannot also set meta, heap or stable`);
      }
      heapLength.set(c.id, null);
      continue;
    }
    const before = heapLength.has(c.id) ? (heapLength.get(c.id) ?? null) : (state.canisters.get(c.id)?.heap?.byteLength ?? null);
    if (c.heap !== undefined) heapLength.set(c.id, validateHeap(c.heap, before, where));
    if (c.stable !== undefined && !('clear' in c.stable)) {
      for (const [j, page] of c.stable.pages.entries()) {
        if (!isSize(page.index) || page.index > MAX_PAGE_INDEX) {
          throw new InvalidDeltaError(`${where}: stable.pages[${j}].index ${page.index} is not a page index`);
        }
        if (page.bytes !== null && (!(page.bytes instanceof Uint8Array) || page.bytes.byteLength !== STABLE_PAGE_BYTES)) {
          throw new InvalidDeltaError(`${where}: stable page ${page.index} must be null or ${STABLE_PAGE_BYTES} bytes`);
        }
      }
    } else if (c.stable !== undefined && c.stable.clear !== true) {
      throw new InvalidDeltaError(`${where}: stable.clear must be true`);
    }
  }
  for (const [i, blob] of (delta.blobs ?? []).entries()) {
    if (typeof blob.hash !== 'string' || !SHA256_HEX.test(blob.hash)) {
      throw new InvalidDeltaError(`blobs[${i}]: hash must be 64 lowercase hex digits`);
    }
    if (!(blob.bytes instanceof Uint8Array)) throw new InvalidDeltaError(`blobs[${i}]: bytes must be a Uint8Array`);
    if (options.checkBlobHashes && !state.blobs.has(blob.hash) && sha256Hex(blob.bytes) !== blob.hash) {
      throw new InvalidDeltaError(`blobs[${i}]: sha256 of the bytes is not ${blob.hash}`);
    }
  }
}

function validateHeap(heap: NonNullable<RoundDelta['canisters'][number]['heap']>, before: number | null, where: string): number | null {
  if ('clear' in heap) {
    if (heap.clear !== true) throw new InvalidDeltaError(`${where}: heap.clear must be true`);
    return null;
  }
  if (!isSize(heap.size)) throw new InvalidDeltaError(`${where}: heap.size ${heap.size} is not a byte length`);
  if ('full' in heap) {
    if (!(heap.full instanceof Uint8Array)) throw new InvalidDeltaError(`${where}: heap.full must be a Uint8Array`);
    if (heap.full.byteLength > heap.size) {
      throw new InvalidDeltaError(`${where}: heap.full has ${heap.full.byteLength} bytes, more than size ${heap.size}`);
    }
    return heap.size;
  }
  if (!Array.isArray(heap.chunks)) throw new InvalidDeltaError(`${where}: heap needs chunks, full or clear`);
  if (before !== null && heap.size < before) {
    throw new InvalidDeltaError(`${where}: heap shrinks from ${before} to ${heap.size} bytes; use full or clear after a reinstall`);
  }
  for (const [j, chunk] of heap.chunks.entries()) {
    if (!isSize(chunk.offset) || !(chunk.bytes instanceof Uint8Array) || chunk.offset + chunk.bytes.byteLength > heap.size) {
      throw new InvalidDeltaError(`${where}: heap.chunks[${j}] does not lie within the ${heap.size}-byte heap`);
    }
  }
  return heap.size;
}

/**
 * Applies a validated delta. Bytes are copied into plain Uint8Arrays (never `Buffer#slice`, which is a view),
 * so the engine may reuse its buffers after commit() returns.
 */
export function applyDelta(state: PersistedState, delta: RoundDelta, dirty: DirtySets): void {
  if (delta.host !== undefined) state.host = delta.host;
  for (const c of delta.canisters) {
    if (c.deleted) {
      state.canisters.delete(c.id);
      dirty.heap.add(c.id);
      dirty.stable.add(c.id);
      continue;
    }
    let canister = state.canisters.get(c.id);
    if (canister === undefined) {
      canister = { id: c.id, meta: null, heap: null, stablePages: new Map() };
      state.canisters.set(c.id, canister);
      dirty.heap.add(c.id);
      dirty.stable.add(c.id);
    }
    if (c.meta !== undefined) canister.meta = c.meta;
    if (c.heap !== undefined) {
      dirty.heap.add(c.id);
      if ('clear' in c.heap) {
        canister.heap = null;
      } else if ('full' in c.heap) {
        const heap = new Uint8Array(c.heap.size);
        heap.set(c.heap.full);
        canister.heap = heap;
      } else {
        let heap = canister.heap;
        if (heap === null || heap.byteLength < c.heap.size) {
          const grown = new Uint8Array(c.heap.size);
          if (heap !== null) grown.set(heap);
          heap = grown;
        }
        for (const chunk of c.heap.chunks) heap.set(chunk.bytes, chunk.offset);
        canister.heap = heap;
      }
    }
    if (c.stable !== undefined) {
      dirty.stable.add(c.id);
      if ('clear' in c.stable) {
        canister.stablePages.clear();
      } else {
        for (const page of c.stable.pages) {
          if (page.bytes === null || isZeroPage(page.bytes)) canister.stablePages.delete(page.index);
          else canister.stablePages.set(page.index, new Uint8Array(page.bytes));
        }
      }
    }
  }
  for (const blob of delta.blobs ?? []) {
    if (!state.blobs.has(blob.hash)) state.blobs.set(blob.hash, new Uint8Array(blob.bytes));
  }
}
