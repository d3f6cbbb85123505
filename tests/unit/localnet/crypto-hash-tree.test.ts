import { describe, expect, it } from 'vitest';
import {
  Cbor,
  lookup_path as agentLookupPath,
  reconstruct as agentReconstruct,
  LookupPathStatus,
  type HashTree as AgentHashTree
} from '@dfinity/agent';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils';
import {
  buildTree,
  compareLabels,
  leb128,
  lookupPath,
  prune,
  reconstruct,
  HashTreeError,
  type HashTree,
  type LabeledTree
} from '../../../src/localnet/certification/hash-tree.js';
import { decodeCbor, encodeCbor } from '../../../src/localnet/crypto/cbor.js';

// S-CERT "Example" and the pruned witness prune(tree, [["a","y"],["ax"],["d"]]) from the reference
// implementation (ic-hs IC.Test.HashTree), whose CBOR the spec also prints.
const SPEC_TREE_CBOR =
  '8301830183024161830183018302417882034568656c6c6f810083024179820345776f726c6483024162820344676f6f648301830241638100830241648203476d6f726e696e67';
const SPEC_PRUNED_CBOR =
  '83018301830241618301820458201b4feff9bef8131788b0c9dc6dbad6e81e524249c879e9f10f71ce3749f5a63883024179820345776f726c6483024162820458207b32ac0c6ba8ce35ac82c255fc7906f7fc130dab2a090f80fe12f9c2cae83ba6830182045820ec8324b8a1f1ac16bd2e806edba78006479c9877fed4eb464a25485465af601d830241648203476d6f726e696e67';
const SPEC_ROOT = 'eb5c5b2195e62d996b84c9bcc8259d19a83786a2f59e0878cec84c811f669aa0';

const TAG = 'd9d9f7';
const u = utf8ToBytes;
const specTree = (): HashTree => parseTree(decodeCbor(hexToBytes(SPEC_TREE_CBOR)));

/** Test-side decoder: CBOR arrays → HashTree, checked node by node. */
function parseTree(value: unknown): HashTree {
  if (!Array.isArray(value)) throw new Error('not a tree');
  const [tag, a, b] = value;
  if (tag === 0) return [0];
  if (tag === 1) return [1, parseTree(a), parseTree(b)];
  if (tag === 2 && a instanceof Uint8Array) return [2, a, parseTree(b)];
  if (tag === 3 && a instanceof Uint8Array) return [3, a];
  if (tag === 4 && a instanceof Uint8Array) return [4, a];
  throw new Error(`bad node ${String(tag)}`);
}

/** What agent-js sees: our CBOR decoded by the agent's own decoder. */
function asAgentTree(tree: HashTree): AgentHashTree {
  return Cbor.decode<AgentHashTree>(encodeCbor(tree));
}

const hexOfTree = (tree: HashTree) => bytesToHex(encodeCbor(tree));

describe('reconstruct', () => {
  it('reproduces the spec example root hash, like agent-js', async () => {
    const tree = specTree();
    expect(bytesToHex(reconstruct(tree))).toBe(SPEC_ROOT);
    expect(bytesToHex(await agentReconstruct(asAgentTree(tree)))).toBe(SPEC_ROOT);
    expect(hexOfTree(tree)).toBe(TAG + SPEC_TREE_CBOR);
  });

  it('gives the pruned spec witness the same root', () => {
    expect(bytesToHex(reconstruct(parseTree(decodeCbor(hexToBytes(SPEC_PRUNED_CBOR)))))).toBe(SPEC_ROOT);
  });
});

describe('prune', () => {
  it('produces exactly the reference witness for [[a,y],[ax],[d]]', () => {
    const pruned = prune(specTree(), [[u('a'), u('y')], [u('ax')], [u('d')]]);
    expect(hexOfTree(pruned)).toBe(TAG + SPEC_PRUNED_CBOR);
  });

  it('answers lookups on the witness like the reference implementation', () => {
    const pruned = parseTree(decodeCbor(hexToBytes(SPEC_PRUNED_CBOR)));
    const status = (...path: string[]) => lookupPath(pruned, path).status;
    expect(status('a', 'a')).toBe('unknown');
    expect(lookupPath(pruned, ['a', 'y'])).toEqual({ status: 'found', value: u('world') });
    expect(status('aa')).toBe('absent');
    expect(status('ax')).toBe('absent');
    expect(status('b')).toBe('unknown');
    expect(status('bb')).toBe('unknown');
    expect(lookupPath(pruned, ['d'])).toEqual({ status: 'found', value: u('morning') });
    expect(status('e')).toBe('absent');
  });

  it('keeps the root, reveals requested subtrees and proves absence to agent-js', () => {
    const labeled: LabeledTree = new Map<string, LabeledTree | Uint8Array>([
      ['time', leb128(1_700_000_000_000_000_000n)],
      [
        'request_status',
        new Map([
          [
            new Uint8Array(32).fill(1),
            new Map([
              ['status', u('replied')],
              ['reply', u('DIDL')]
            ])
          ],
          [new Uint8Array(32).fill(2), new Map([['status', u('processing')]])]
        ])
      ],
      ['subnet', new Map([['x', u('secret')]])]
    ]);
    const full = buildTree(labeled);
    const witness = prune(full, [[u('time')], [u('request_status'), new Uint8Array(32).fill(1)], [u('zzz')]]);
    expect(reconstruct(witness)).toEqual(reconstruct(full));
    const agentTree = asAgentTree(witness);
    const id1 = new Uint8Array(32).fill(1);
    const found = agentLookupPath(['request_status', id1, 'reply'], agentTree);
    expect(found).toEqual({ status: LookupPathStatus.Found, value: u('DIDL') });
    expect(agentLookupPath(['time'], agentTree).status).toBe(LookupPathStatus.Found);
    expect(agentLookupPath(['request_status', new Uint8Array(32).fill(2), 'status'], agentTree).status).toBe(LookupPathStatus.Unknown);
    expect(agentLookupPath(['zzz'], agentTree).status).toBe(LookupPathStatus.Absent);
    expect(lookupPath(witness, ['subnet', 'x']).status).toBe('unknown');
    expect(bytesToHex(encodeCbor(witness))).not.toContain(bytesToHex(u('secret')));
  });

  it('returns the whole tree for an empty path and a single pruned node for no paths', () => {
    const tree = specTree();
    expect(prune(tree, [[]])).toBe(tree);
    expect(prune(tree, [])).toEqual([4, hexToBytes(SPEC_ROOT)]);
  });
});

describe('buildTree', () => {
  it('sorts labels by bytes and balances forks; agent-js finds every path', () => {
    const entries = ['zeta', 'alpha', 'mid', 'b', 'canister', 'canister_ranges'].map((l, i) => [l, leb128(BigInt(i))] as const);
    const tree = buildTree(new Map(entries));
    const agentTree = asAgentTree(tree);
    for (const [label, value] of entries) {
      expect(lookupPath(tree, [label])).toEqual({ status: 'found', value });
      if (label !== 'canister_ranges') {
        // agent-js 3.4.3 cannot find a label whose strict prefix is a sibling (ic-host-spec §5.3).
        expect(agentLookupPath([label], agentTree)).toEqual({ status: LookupPathStatus.Found, value });
      }
    }
    expect(lookupPath(tree, ['nope']).status).toBe('absent');
    expect(lookupPath(tree, ['mid', 'deeper']).status).toBe('error');
    expect(lookupPath(tree, []).status).toBe('error');
  });

  it('orders byte labels lexicographically with prefixes first', () => {
    expect(compareLabels(u('a'), u('ab'))).toBeLessThan(0);
    expect(compareLabels(Uint8Array.of(2), Uint8Array.of(1, 255))).toBeGreaterThan(0);
    expect(compareLabels(u('x'), u('x'))).toBe(0);
  });

  it('builds [0] for an empty map and rejects duplicate labels', () => {
    expect(buildTree(new Map())).toEqual([0]);
    const dup = new Map<string | Uint8Array, Uint8Array>([
      ['a', u('1')],
      [u('a'), u('2')]
    ]);
    expect(() => buildTree(dup)).toThrow(HashTreeError);
  });
});

describe('leb128', () => {
  it('encodes nats in shortest unsigned LEB128', () => {
    expect(bytesToHex(leb128(0n))).toBe('00');
    expect(bytesToHex(leb128(624485n))).toBe('e58e26');
    expect(bytesToHex(leb128(2n ** 64n - 1n))).toBe('ffffffffffffffffff01');
    expect(() => leb128(-1n)).toThrow(RangeError);
  });
});

describe('prune properties (as in ic-hs IC.Test.HashTree)', () => {
  // Deterministic xorshift so failures reproduce.
  let seed = 0x9e3779b9;
  const rand = (n: number) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const LABELS = ['', 'a', 'ab', 'b', 'hello', 'world', 'x', 'zz'].map((l) => u(l));
  const randomLabel = () => LABELS[rand(LABELS.length)] ?? u('a');
  function randomTree(depth: number): LabeledTree {
    const tree = new Map<string, LabeledTree | Uint8Array>();
    const width = rand(5);
    for (let i = 0; i < width; i++) {
      const label = randomLabel();
      tree.set(bytesToHex(label), depth > 0 && rand(2) === 0 ? randomTree(depth - 1) : Uint8Array.of(rand(256)));
    }
    return new Map([...tree].map(([k, v]) => [hexToBytes(k), v] as const));
  }
  const randomPath = () => Array.from({ length: 1 + rand(3) }, randomLabel);
  const isPrefix = (p: Uint8Array[], q: Uint8Array[]) =>
    p.length <= q.length && p.every((l, i) => compareLabels(l, q[i] ?? new Uint8Array()) === 0);

  it('preserves the root hash and every lookup under a requested path', () => {
    for (let round = 0; round < 300; round++) {
      const full = buildTree(randomTree(3));
      const paths = Array.from({ length: rand(4) }, randomPath);
      const pruned = prune(full, paths);
      expect(reconstruct(pruned)).toEqual(reconstruct(full));
      for (let probe = 0; probe < 10; probe++) {
        const p = randomPath();
        const expected = lookupPath(full, p);
        if (expected.status === 'error') continue;
        const got = lookupPath(pruned, p);
        if (paths.some((q) => isPrefix(q, p))) expect(got).toEqual(expected);
        else expect(['unknown', 'absent']).toContain(got.status);
      }
    }
  });
});
