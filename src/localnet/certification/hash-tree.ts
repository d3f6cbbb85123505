import { createHash } from 'node:crypto';

import { bytesToHex, concatBytes, utf8ToBytes } from '@noble/hashes/utils';
import { lebEncode } from '@dfinity/candid';
import { CodedError } from '../../core/errors/coded-error.js';

/** SHA-256 through OpenSSL: the tree is rehashed every round and for every certified reply (noble was ~5% of host time). */
function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

/**
 * IC hash trees (S-CERT) in the CBOR array form agent-js and ic-agent decode:
 * `[0]` empty, `[1, l, r]` fork, `[2, label, t]` labeled, `[3, value]` leaf, `[4, hash]` pruned.
 */
export type HashTree =
  | readonly [0]
  | readonly [1, HashTree, HashTree]
  | readonly [2, Uint8Array, HashTree]
  | readonly [3, Uint8Array]
  | readonly [4, Uint8Array];

export type TreeLabel = string | Uint8Array;

/** A labeled tree before hashing: each node maps labels to a subtree or to a leaf value. */
export type LabeledTree = ReadonlyMap<TreeLabel, LabeledTree | Uint8Array>;

export type TreePath = readonly TreeLabel[];

export type TreeLookupResult =
  { status: 'found'; value: Uint8Array } | { status: 'absent' } | { status: 'unknown' } | { status: 'error'; message: string };

export class HashTreeError extends CodedError<'HASH_TREE_INVALID'> {
  constructor(message: string) {
    super('HASH_TREE_INVALID', message);
    this.name = 'HashTreeError';
  }
}

/** Shortest unsigned LEB128 of a nat (tree values such as `/time`, `reject_code`). */
export function leb128(n: bigint): Uint8Array {
  if (n < 0n) throw new RangeError(`leb128 expects a natural number, got ${n}`);
  return lebEncode(n);
}

export function labelBytes(label: TreeLabel): Uint8Array {
  return typeof label === 'string' ? utf8ToBytes(label) : label;
}

/** Lexicographic byte order (a strict prefix sorts first), the order S-CERT requires for siblings. */
export function compareLabels(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

function domainSep(s: string): Uint8Array {
  return concatBytes(Uint8Array.of(s.length), utf8ToBytes(s));
}

const EMPTY_HASH = sha256(domainSep('ic-hashtree-empty'));
const FORK_SEP = domainSep('ic-hashtree-fork');
const LABELED_SEP = domainSep('ic-hashtree-labeled');
const LEAF_SEP = domainSep('ic-hashtree-leaf');

/** Root hash of a tree (S-CERT `reconstruct`). */
export function reconstruct(tree: HashTree): Uint8Array {
  switch (tree[0]) {
    case 0:
      return EMPTY_HASH;
    case 1:
      return sha256(concatBytes(FORK_SEP, reconstruct(tree[1]), reconstruct(tree[2])));
    case 2:
      return sha256(concatBytes(LABELED_SEP, tree[1], reconstruct(tree[2])));
    case 3:
      return sha256(concatBytes(LEAF_SEP, tree[1]));
    case 4:
      return tree[1];
  }
}

function balancedForks(nodes: readonly HashTree[]): HashTree {
  if (nodes.length === 0) return [0];
  if (nodes.length === 1) return nodes[0] ?? [0];
  const mid = Math.ceil(nodes.length / 2);
  return [1, balancedForks(nodes.slice(0, mid)), balancedForks(nodes.slice(mid))];
}

/**
 * Builds a well-formed hash tree: siblings sorted by label bytes (duplicates rejected), combined into
 * a balanced binary tree of forks; an empty map becomes `[0]`. Throws {@link HashTreeError}.
 */
export function buildTree(nested: LabeledTree): HashTree {
  const children = [...nested.entries()]
    .map(([label, sub]) => ({ label: labelBytes(label), sub }))
    .sort((a, b) => compareLabels(a.label, b.label));
  for (let i = 1; i < children.length; i++) {
    const prev = children[i - 1];
    const cur = children[i];
    if (prev && cur && compareLabels(prev.label, cur.label) === 0) {
      throw new HashTreeError(`duplicate label ${bytesToHex(cur.label)}`);
    }
  }
  const nodes = children.map(({ label, sub }): HashTree => [2, label, sub instanceof Uint8Array ? [3, sub] : buildTree(sub)]);
  return balancedForks(nodes);
}

/** The nodes of one level: the tree's forks flattened, in order. */
function flattenForks(tree: HashTree): HashTree[] {
  if (tree[0] === 1) return [...flattenForks(tree[1]), ...flattenForks(tree[2])];
  if (tree[0] === 0) return [];
  return [tree];
}

/** Looks up a path with S-CERT semantics (lexicographic search, pruned nodes make it unknown). */
export function lookupPath(tree: HashTree, path: TreePath): TreeLookupResult {
  const [first, ...rest] = path;
  if (first === undefined) {
    if (tree[0] === 3) return { status: 'found', value: tree[1] };
    if (tree[0] === 0) return { status: 'absent' };
    if (tree[0] === 4) return { status: 'unknown' };
    return { status: 'error', message: 'path ends at an inner node' };
  }
  const label = labelBytes(first);
  let unknownBefore = false;
  for (const node of flattenForks(tree)) {
    if (node[0] === 4) {
      unknownBefore = true;
      continue;
    }
    if (node[0] !== 2) return { status: 'error', message: 'found a leaf where a subtree was expected' };
    const cmp = compareLabels(node[1], label);
    if (cmp === 0) return lookupPath(node[2], rest);
    if (cmp > 0) return unknownBefore ? { status: 'unknown' } : { status: 'absent' };
    unknownBefore = false;
  }
  return unknownBefore ? { status: 'unknown' } : { status: 'absent' };
}

type Reveal = 'full' | 'label' | { paths: Uint8Array[][] };

function prunedOf(tree: HashTree): HashTree {
  return tree[0] === 4 ? tree : [4, reconstruct(tree)];
}

/**
 * Returns a witness of `tree` revealing exactly `paths` (with their whole subtrees); every other
 * subtree becomes `[4, hash]`, so `reconstruct` is unchanged. For an absent path the neighbouring
 * labels are kept (their subtrees pruned) so that clients can prove the absence.
 */
export function prune(tree: HashTree, paths: readonly (readonly Uint8Array[])[]): HashTree {
  if (paths.some((p) => p.length === 0)) return tree;
  if (paths.length === 0) return prunedOf(tree);
  if (tree[0] === 0) return tree;
  const nodes = flattenForks(tree);
  // Marks are keyed by position within the level, in flattenForks order.
  const marks = new Map<number, Reveal>();
  const mark = (index: number, reveal: Reveal) => {
    if (index < 0 || index >= nodes.length) return;
    const old = marks.get(index);
    if (old === 'full') return;
    if (typeof reveal === 'object' && typeof old === 'object') old.paths.push(...reveal.paths);
    else if (reveal === 'full' || old === undefined || old === 'label') marks.set(index, reveal);
  };
  for (const [label, ...rest] of paths) {
    if (label === undefined) continue;
    const at = nodes.findIndex((n) => n[0] === 2 && compareLabels(n[1], label) >= 0);
    const hit = nodes[at];
    if (hit?.[0] === 2 && compareLabels(hit[1], label) === 0) {
      mark(at, rest.length === 0 ? 'full' : { paths: [rest] });
    } else {
      // Absent here: keep the nearest labels on both sides so that the gap is provable.
      const before = nodes
        .slice(0, at < 0 ? nodes.length : at)
        .map((n) => n[0])
        .lastIndexOf(2);
      mark(before, 'label');
      mark(at, 'label');
    }
  }
  const cursor = { index: 0 };
  return rebuild(tree, marks, cursor);
}

function rebuild(tree: HashTree, marks: Map<number, Reveal>, cursor: { index: number }): HashTree {
  if (tree[0] === 0) return tree;
  if (tree[0] === 1) {
    const left = rebuild(tree[1], marks, cursor);
    const right = rebuild(tree[2], marks, cursor);
    // As the reference implementation (ic-hs `prune`): a fork of nothing revealed is pruned whole.
    if ((left[0] === 4 || left[0] === 0) && (right[0] === 4 || right[0] === 0)) {
      return [4, sha256(concatBytes(FORK_SEP, reconstruct(left), reconstruct(right)))];
    }
    return [1, left, right];
  }
  const reveal = marks.get(cursor.index++);
  if (reveal === undefined || tree[0] !== 2) return prunedOf(tree);
  if (reveal === 'full') return tree;
  if (reveal === 'label') return [2, tree[1], prunedOf(tree[2])];
  return [2, tree[1], prune(tree[2], reveal.paths)];
}
