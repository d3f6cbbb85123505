import { describe, expect, it } from 'vitest';

import { QueryOverlay } from '../../../src/localnet/execution/query-overlay.js';
import { HEAP_CHUNK_BYTES, HeapShadow } from '../../../src/localnet/wasm/heap-shadow.js';
import { StableMemory } from '../../../src/localnet/wasm/stable-memory.js';

/** A canister instance without dirty tracking (every capture compares all of memory with the committed copy). */
function instance() {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 4 });
  const global = new WebAssembly.Global({ value: 'i32', mutable: true }, 7);
  const globals = [global];
  const shadow = new HeapShadow(new Uint8Array(memory.buffer));
  const stable = new StableMemory();
  stable.grow(1n);
  return { memory, global, globals, shadow, stable, dirty: { mark: () => undefined } };
}

describe('QueryOverlay: a composite query call context’s uncommitted state', () => {
  it('lays heap, grown memory, globals and stable pages over committed state, and restore puts committed back', () => {
    const loaded = instance();
    const overlay = new QueryOverlay();
    // First execution of the context: writes a chunk, grows memory, sets a global and a stable page.
    loaded.stable.begin();
    overlay.apply(loaded, loaded.stable);
    new Uint8Array(loaded.memory.buffer)[10] = 42;
    loaded.memory.grow(1);
    new Uint8Array(loaded.memory.buffer)[65_536 + 3] = 9;
    loaded.global.value = 8;
    loaded.stable.write(5n, new Uint8Array([1, 2, 3]));
    overlay.capture(loaded, loaded.shadow, loaded.stable, undefined);
    loaded.shadow.restore(loaded.memory);
    loaded.global.value = 7;
    loaded.stable.rollback();
    expect(new Uint8Array(loaded.memory.buffer)[10]).toBe(0);
    // Its callback sees all of it again, and what it changes joins the overlay.
    loaded.stable.begin();
    overlay.apply(loaded, loaded.stable);
    const memory = new Uint8Array(loaded.memory.buffer);
    expect([memory[10], memory[65_536 + 3], loaded.global.value]).toEqual([42, 9, 8]);
    const page = new Uint8Array(3);
    loaded.stable.read(5n, 3, page, 0);
    expect([...page]).toEqual([1, 2, 3]);
    memory[10] = 0; // back to the committed byte: the chunk leaves the overlay
    memory[HEAP_CHUNK_BYTES * 2] = 5;
    overlay.capture(loaded, loaded.shadow, loaded.stable, undefined);
    loaded.shadow.restore(loaded.memory);
    loaded.stable.rollback();
    // A third execution: the latest state; committed state was never touched.
    loaded.stable.begin();
    overlay.apply(loaded, loaded.stable);
    const again = new Uint8Array(loaded.memory.buffer);
    expect([again[10], again[HEAP_CHUNK_BYTES * 2], again[65_536 + 3]]).toEqual([0, 5, 9]);
    loaded.shadow.restore(loaded.memory);
    loaded.stable.rollback();
    expect(new Uint8Array(loaded.memory.buffer).some((b) => b !== 0)).toBe(false);
    loaded.stable.read(5n, 3, page, 0);
    expect([...page]).toEqual([0, 0, 0]);
  });
});
