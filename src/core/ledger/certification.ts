import { concatBytes, hexToBytes, utf8ToBytes } from '@noble/hashes/utils';

import { digest, leb128 } from './value.js';

/** An IC hash tree in its CBOR shape: [0] empty, [1, l, r] fork, [2, label, t] labeled, [3, v] leaf, [4, h] pruned. */
export type HashTree = [0] | [1, HashTree, HashTree] | [2, Uint8Array, HashTree] | [3, Uint8Array] | [4, Uint8Array];

const separator = (name: string): Uint8Array => concatBytes(Uint8Array.of(name.length), utf8ToBytes(name));
const LEAF = separator('ic-hashtree-leaf');
const LABELED = separator('ic-hashtree-labeled');
const FORK = separator('ic-hashtree-fork');
const EMPTY = separator('ic-hashtree-empty');

/** The root hash of a hash tree (IC interface specification, "Certification"). */
export function treeRoot(tree: HashTree): Uint8Array {
  switch (tree[0]) {
    case 0:
      return digest(EMPTY);
    case 1:
      return digest(FORK, treeRoot(tree[1]), treeRoot(tree[2]));
    case 2:
      return digest(LABELED, tree[1], treeRoot(tree[2]));
    case 3:
      return digest(LEAF, tree[1]);
    case 4:
      return tree[1];
  }
}

/**
 * The ICRC-3 tip tree: `last_block_hash` and `last_block_index` (leb128), labels in sorted order. Its root is the
 * canister's certified data, so a client holding the certificate can verify the newest block and, through the
 * `phash` chain, every block before it.
 */
export function tipTree(lastIndex: bigint, lastHashHex: string): HashTree {
  return [
    1,
    [2, utf8ToBytes('last_block_hash'), [3, hexToBytes(lastHashHex)]],
    [2, utf8ToBytes('last_block_index'), [3, leb128(lastIndex)]]
  ];
}
