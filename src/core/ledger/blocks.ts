import { MAX_BLOCK_RANGES, MAX_BLOCKS_PER_RESPONSE } from './limits.js';
import type { LedgerStore } from './store.js';
import type { Block } from './types.js';
import { blockHash } from './value.js';

export interface BlockRange {
  start: bigint;
  length: bigint;
}

/**
 * Hashes the blocks appended since the last call, in order, at most `max` of them, and returns the new tip
 * (index and hash of the newest hashed block) for certification, or undefined when the log is empty.
 */
export function certifyPending(store: LedgerStore, max: number): { lastIndex: bigint; lastHash: string; pending: bigint } | undefined {
  const tip = store.tip();
  let { hashedCount, lastHash } = tip;
  const end = tip.blockCount < hashedCount + BigInt(max) ? tip.blockCount : hashedCount + BigInt(max);
  for (; hashedCount < end; hashedCount++) {
    const stored = store.blocks.get(hashedCount);
    if (stored === undefined) throw new Error(`invariant broken: block ${hashedCount} missing`);
    lastHash = blockHash(lastHash === undefined ? stored : { ...stored, phash: lastHash });
    store.blocks.putHash(hashedCount, lastHash);
  }
  if (hashedCount !== tip.hashedCount) store.setTip({ ...tip, hashedCount, lastHash });
  return lastHash === undefined ? undefined : { lastIndex: hashedCount - 1n, lastHash, pending: tip.blockCount - hashedCount };
}

/** A block with its `phash`; blocks not yet hashed get their parent's hash computed here (nothing is stored). */
function blockAt(store: LedgerStore, index: bigint, pendingHashes: Map<bigint, string>): Block | undefined {
  const stored = store.blocks.get(index);
  if (stored === undefined || index === 0n) return stored;
  const phash = store.blocks.getHash(index - 1n) ?? pendingHash(store, index - 1n, pendingHashes);
  return { ...stored, phash };
}

function pendingHash(store: LedgerStore, index: bigint, pendingHashes: Map<bigint, string>): string {
  const known = store.blocks.getHash(index) ?? pendingHashes.get(index);
  if (known !== undefined) return known;
  // Walk forward from the last hashed block; only blocks of the current round are ever unhashed.
  const { hashedCount } = store.tip();
  for (let i = hashedCount; i <= index; i++) {
    if (pendingHashes.has(i)) continue;
    const block = blockAt(store, i, pendingHashes);
    if (block === undefined) throw new Error(`invariant broken: block ${i} missing`);
    pendingHashes.set(i, blockHash(block));
  }
  const hash = pendingHashes.get(index);
  if (hash === undefined) throw new Error(`invariant broken: no hash for block ${index}`);
  return hash;
}

/**
 * `icrc3_get_blocks`: the requested blocks that exist, in request order, at most MAX_BLOCKS_PER_RESPONSE in all
 * (ICRC-3 lets a ledger return fewer blocks than asked; clients continue from the last id they got).
 */
export function getBlocks(store: LedgerStore, ranges: BlockRange[]): { logLength: bigint; blocks: Array<{ id: bigint; block: Block }> } {
  const logLength = store.tip().blockCount;
  const blocks: Array<{ id: bigint; block: Block }> = [];
  const pendingHashes = new Map<bigint, string>();
  for (const range of ranges.slice(0, MAX_BLOCK_RANGES)) {
    const end = range.start + range.length < logLength ? range.start + range.length : logLength;
    for (let id = range.start; id < end && blocks.length < MAX_BLOCKS_PER_RESPONSE; id++) {
      const block = blockAt(store, id, pendingHashes);
      if (block !== undefined) blocks.push({ id, block });
    }
  }
  return { logLength, blocks };
}
