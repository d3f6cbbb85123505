import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  InvalidDeltaError,
  StateCorruptError,
  StateDirLockedError,
  StateStore,
  StateStoreUnusableError,
  STABLE_PAGE_BYTES,
  type PersistedCanister,
  type PersistedState,
  type RoundDelta
} from '../../../src/localnet/persistence/index.ts';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deai-persistence-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

// Most cases test the format, not the disk; fsync is exercised by the crash test and the benchmark.
const open = (options: Parameters<typeof StateStore.open>[1] = {}): StateStore => StateStore.open(dir, { fsync: false, ...options });

function page(fill: number): Uint8Array {
  return new Uint8Array(STABLE_PAGE_BYTES).fill(fill);
}
function pattern(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 1) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}
function blob(text: string): { hash: string; bytes: Uint8Array } {
  const bytes = new TextEncoder().encode(text);
  return { hash: createHash('sha256').update(bytes).digest('hex'), bytes };
}
function logFile(generation = 0): string {
  return path.join(dir, `wal-${generation}.log`);
}
function sha(bytes: Uint8Array | null | undefined): string | null {
  return bytes == null ? null : `${bytes.byteLength}:${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}`;
}
/**
 * A comparable summary of a state. vitest's toEqual walks typed arrays element by element, which takes
 * seconds for the heaps here; hashes compare the same bytes in microseconds.
 */
function digest(state: PersistedState): unknown {
  return {
    host: state.host,
    canisters: [...state.canisters.values()]
      .sort((x, y) => (x.id < y.id ? -1 : 1))
      .map((c) => ({
        id: c.id,
        meta: c.meta,
        heap: sha(c.heap),
        pages: [...c.stablePages].sort(([x], [y]) => x - y).map(([i, p]) => [i, sha(p)])
      })),
    blobs: [...state.blobs].sort(([x], [y]) => (x < y ? -1 : 1)).map(([h, b]) => [h, sha(b)])
  };
}
function expectSameState(actual: PersistedState, expected: PersistedState): void {
  expect(digest(actual)).toEqual(digest(expected));
}
function expectBytes(actual: Uint8Array | null | undefined, expected: Uint8Array): void {
  expect(sha(actual)).toBe(sha(expected));
}

/** Reopens the directory as a fresh process would after a crash: no checkpoint on the way out. */
function crashAndReopen(store: StateStore, options: Parameters<typeof StateStore.open>[1] = {}): StateStore {
  store.close({ checkpoint: false });
  return open(options);
}

const KIB = 1024;
const moduleBlob = blob('wasm module bytes');
const rounds: RoundDelta[] = [
  {
    host: { nextCanister: 5n, clockOffsetNs: -3n, nested: { $weird: [1n, '$bigint'], ['__proto__']: 'data', $$: { $bigint: '1' } } },
    canisters: [
      {
        id: 'rrkah-fqaaa-aaaaa-aaaaq-cai',
        meta: { controllers: ['aaaaa-aa'], cycles: 10n ** 30n, status: 'running', ratio: 0.5, flag: true, none: null },
        heap: { size: 128 * KIB, full: pattern(128 * KIB, 1) },
        stable: {
          pages: [
            { index: 0, bytes: page(1) },
            { index: 3, bytes: page(3) }
          ]
        }
      }
    ],
    blobs: [moduleBlob]
  },
  {
    canisters: [
      {
        id: 'rrkah-fqaaa-aaaaa-aaaaq-cai',
        heap: {
          size: 192 * KIB,
          chunks: [
            { offset: 4 * KIB, bytes: pattern(4 * KIB, 9) },
            { offset: 128 * KIB + 100, bytes: pattern(4 * KIB, 7) }
          ]
        },
        // null and an all-zero page both mean "page is zero now".
        stable: {
          pages: [
            { index: 3, bytes: null },
            { index: 5, bytes: page(5) },
            { index: 0, bytes: page(0) }
          ]
        }
      }
    ]
  },
  {
    canisters: [
      { id: 'b', meta: 'b-meta', heap: { size: 8 * KIB, chunks: [{ offset: 100, bytes: pattern(50, 3) }] } },
      {
        id: 'odd id/with:chars',
        meta: [1, 2n],
        heap: { size: 4 * KIB, full: pattern(1 * KIB, 4) },
        stable: { pages: [{ index: 70000, bytes: page(9) }] }
      }
    ]
  },
  {
    host: { nextCanister: 6n },
    canisters: [
      { id: 'odd id/with:chars', deleted: true },
      { id: 'b', heap: { clear: true } },
      { id: 'rrkah-fqaaa-aaaaa-aaaaq-cai', stable: { clear: true } },
      { id: 'rrkah-fqaaa-aaaaa-aaaaq-cai', stable: { pages: [{ index: 7, bytes: page(7) }] } }
    ]
  },
  { canisters: [{ id: 'rrkah-fqaaa-aaaaa-aaaaq-cai', heap: { size: 64 * KIB, full: pattern(64 * KIB, 2) } }] }
];

function expectedAfterAllRounds(): PersistedState {
  return {
    host: { nextCanister: 6n },
    canisters: new Map([
      [
        'rrkah-fqaaa-aaaaa-aaaaq-cai',
        {
          id: 'rrkah-fqaaa-aaaaa-aaaaq-cai',
          meta: { controllers: ['aaaaa-aa'], cycles: 10n ** 30n, status: 'running', ratio: 0.5, flag: true, none: null },
          heap: pattern(64 * KIB, 2),
          stablePages: new Map([[7, page(7)]])
        }
      ],
      ['b', { id: 'b', meta: 'b-meta', heap: null, stablePages: new Map() }]
    ]),
    blobs: new Map([[moduleBlob.hash, moduleBlob.bytes]])
  };
}

describe('StateStore round trip', () => {
  it('applies every delta kind in memory, after log replay, and after a checkpoint', () => {
    let store = open();
    store.commit(rounds[0]!);
    const a = (): PersistedCanister | undefined => store.state.canisters.get('rrkah-fqaaa-aaaaa-aaaaq-cai');
    expectBytes(a()?.heap, pattern(128 * KIB, 1));
    expect([...(a()?.stablePages.keys() ?? [])].sort()).toEqual([0, 3]);
    expect(store.state.host).toEqual(rounds[0]!.host);
    store = crashAndReopen(store);
    const host = store.state.host;
    expect(host).toEqual(rounds[0]!.host);
    // "__proto__" stays a plain data key, and user objects shaped like tags stay objects.
    expect(typeof host === 'object' && host !== null && !Array.isArray(host) ? Object.keys(host.nested ?? {}) : []).toEqual([
      '$weird',
      '__proto__',
      '$$'
    ]);
    expect(Object.getPrototypeOf(host)).toBe(Object.prototype);

    store.commit(rounds[1]!);
    const grown = new Uint8Array(192 * KIB);
    grown.set(pattern(128 * KIB, 1));
    grown.set(pattern(4 * KIB, 9), 4 * KIB);
    grown.set(pattern(4 * KIB, 7), 128 * KIB + 100);
    expectBytes(a()?.heap, grown);
    expect([...(a()?.stablePages.keys() ?? [])]).toEqual([5]);
    expectBytes(a()?.stablePages.get(5), page(5));

    store.commit(rounds[2]!);
    const odd = store.state.canisters.get('odd id/with:chars');
    expect(odd?.heap?.byteLength).toBe(4 * KIB);
    expectBytes(odd?.heap?.subarray(0, KIB), pattern(KIB, 4));
    expectBytes(odd?.heap?.subarray(KIB), new Uint8Array(3 * KIB));
    expect(odd?.meta).toEqual([1, 2n]);
    expect(store.state.canisters.get('b')?.heap?.byteLength).toBe(8 * KIB);

    // Log replay of the first three rounds gives the same state (with the odd-named canister and page 70000).
    const afterThree = structuredClone(store.state);
    store = crashAndReopen(store);
    expectSameState(store.state, afterThree);

    store.commit(rounds[3]!);
    store.commit(rounds[4]!);
    expectSameState(store.state, expectedAfterAllRounds());

    store = crashAndReopen(store);
    expectSameState(store.state, expectedAfterAllRounds());

    store.checkpoint();
    expect(fs.statSync(logFile(1)).size).toBe(0);
    expect(fs.existsSync(logFile(0))).toBe(false);
    store = crashAndReopen(store);
    expectSameState(store.state, expectedAfterAllRounds());

    // Checkpoint plus a log on top of it.
    store.commit({ canisters: [{ id: 'b', meta: { after: 'checkpoint' } }] });
    store = crashAndReopen(store);
    expect(store.state.canisters.get('b')?.meta).toEqual({ after: 'checkpoint' });
    store.close();
    store = open();
    expect(store.state.canisters.get('b')?.meta).toEqual({ after: 'checkpoint' });
    store.close();
  });

  it('copies committed bytes, so the engine may reuse its buffers', () => {
    const store = open();
    const chunk = pattern(4 * KIB, 1);
    const stablePage = page(1);
    store.commit({
      canisters: [
        { id: 'c', heap: { size: 8 * KIB, chunks: [{ offset: 0, bytes: chunk }] }, stable: { pages: [{ index: 1, bytes: stablePage }] } }
      ]
    });
    chunk.fill(0xee);
    stablePage.fill(0xee);
    expectBytes(store.state.canisters.get('c')?.heap?.subarray(0, 4 * KIB), pattern(4 * KIB, 1));
    expectBytes(store.state.canisters.get('c')?.stablePages.get(1), page(1));
    store.close();
  });

  it('stops after close and keeps everything across a normal stop/start', () => {
    let store = open();
    for (const round of rounds) store.commit(round);
    store.close();
    store.close();
    expect(() => store.commit({ canisters: [] })).toThrow(StateStoreUnusableError);
    store = open();
    expectSameState(store.state, expectedAfterAllRounds());
    expect(store.logBytes).toBe(0);
    store.close();
  });

  it('starts empty with clean: true', () => {
    let store = open();
    for (const round of rounds) store.commit(round);
    store.close();
    store = open({ clean: true });
    expect(store.state.canisters.size).toBe(0);
    expect(store.state.blobs.size).toBe(0);
    expect(store.state.host).toBeNull();
    expect(fs.existsSync(path.join(dir, 'manifest.json'))).toBe(false);
    store.close();
  });
});

describe('StateStore checkpoints', () => {
  it('checkpoints automatically once the log passes checkpointAfterLogBytes', () => {
    let store = open({ checkpointAfterLogBytes: 200_000 });
    for (let i = 0; i < 3; i += 1) store.commit({ canisters: [{ id: 'c', stable: { pages: [{ index: i, bytes: page(i + 1) }] } }] });
    expect(store.logBytes).toBeGreaterThan(190_000);
    expect(fs.existsSync(path.join(dir, 'manifest.json'))).toBe(false);
    store.commit({ canisters: [{ id: 'c', stable: { pages: [{ index: 3, bytes: page(4) }] } }] });
    expect(store.logBytes).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'))).toMatchObject({ generation: 1, lastSeq: '4' });
    expect(fs.existsSync(logFile(0))).toBe(false);
    const before = structuredClone(store.state);
    store = crashAndReopen(store);
    expectSameState(store.state, before);
    store.close();
  });

  it('refuses a checkpoint threshold that is not positive', () => {
    expect(() => open({ checkpointAfterLogBytes: 0 })).toThrow(RangeError);
    open().close();
  });

  it('rewrites only the files of canisters that changed', () => {
    let store = open();
    store.commit({
      canisters: [
        { id: 'a', heap: { size: 64 * KIB, full: pattern(64 * KIB, 1) }, stable: { pages: [{ index: 0, bytes: page(1) }] } },
        { id: 'b', heap: { size: 64 * KIB, full: pattern(64 * KIB, 2) } }
      ]
    });
    store.checkpoint();
    store.commit({
      canisters: [
        { id: 'a', meta: 'only meta' },
        { id: 'b', heap: { size: 64 * KIB, chunks: [{ offset: 0, bytes: page(9).subarray(0, 4 * KIB) }] } }
      ]
    });
    store.checkpoint();
    const files = fs.readdirSync(path.join(dir, 'canisters')).sort();
    expect(files).toEqual(['a.g1.heap', 'a.g1.stable', 'b.g2.heap']);
    store = crashAndReopen(store);
    expect(store.state.canisters.get('a')?.meta).toBe('only meta');
    expectBytes(store.state.canisters.get('b')?.heap?.subarray(0, 4 * KIB), page(9).subarray(0, 4 * KIB));
    store.close();
  });

  it('recovers the old checkpoint when a checkpoint was cut off before its manifest was renamed', () => {
    let store = open();
    store.commit(rounds[0]!);
    store.checkpoint();
    store.commit(rounds[1]!);
    const expected = structuredClone(store.state);
    store.close({ checkpoint: false });
    // What an interrupted generation-2 checkpoint leaves: new data files, a new log, a temp manifest.
    fs.writeFileSync(path.join(dir, 'canisters', 'rrkah-fqaaa-aaaaa-aaaaq-cai.g2.heap'), 'partial');
    fs.writeFileSync(logFile(2), '');
    fs.writeFileSync(path.join(dir, 'manifest.json.tmp'), '{"format":');
    store = open();
    expectSameState(store.state, expected);
    expect(fs.existsSync(logFile(2))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'manifest.json.tmp'))).toBe(false);
    expect(fs.readdirSync(path.join(dir, 'canisters'))).toEqual([
      'rrkah-fqaaa-aaaaa-aaaaq-cai.g1.heap',
      'rrkah-fqaaa-aaaaa-aaaaq-cai.g1.stable'
    ]);
    store.close();
  });

  it('ignores the superseded log when a checkpoint was cut off after its manifest was renamed', () => {
    let store = open();
    store.commit(rounds[0]!);
    const oldLog = fs.readFileSync(logFile(0));
    store.checkpoint();
    store.commit(rounds[1]!);
    const expected = structuredClone(store.state);
    store.close({ checkpoint: false });
    fs.writeFileSync(logFile(0), oldLog);
    store = open();
    expectSameState(store.state, expected);
    expect(fs.existsSync(logFile(0))).toBe(false);
    store.close();
  });
});

describe('StateStore crash recovery of the log', () => {
  it('drops a torn final record at every cut point and keeps appending after the last good record', () => {
    let store = open();
    store.commit(rounds[0]!);
    store.commit({ host: { round: 1n }, canisters: [{ id: 'b', meta: { n: 1 } }] });
    const previous = structuredClone(store.state);
    const goodBytes = store.logBytes;
    store.commit({
      host: { round: 2n },
      canisters: [{ id: 'b', meta: { n: 2 }, heap: { size: 256, chunks: [{ offset: 8, bytes: pattern(16, 5) }] } }]
    });
    const fullBytes = store.logBytes;
    store.close({ checkpoint: false });
    const log = fs.readFileSync(logFile());
    expect(fullBytes - goodBytes).toBeLessThan(1000);

    for (let cut = goodBytes; cut < fullBytes; cut += 1) {
      fs.writeFileSync(logFile(), log.subarray(0, cut));
      store = open();
      expectSameState(store.state, previous);
      expect(fs.statSync(logFile()).size).toBe(goodBytes);
      store.close({ checkpoint: false });
    }

    // A zero-filled tail (what a power loss can leave after a file-size update) is a torn tail too.
    fs.writeFileSync(logFile(), Buffer.concat([log.subarray(0, goodBytes), Buffer.alloc(5000)]));
    store = open();
    expectSameState(store.state, previous);
    store.commit({ host: { round: 3n }, canisters: [] });
    store = crashAndReopen(store);
    expect(store.state.host).toEqual({ round: 3n });
    expect(store.state.canisters.get('b')?.meta).toEqual({ n: 1 });
    store.close();
  });

  it('drops a torn record that carries whole stable pages (sampled cut points)', () => {
    let store = open();
    store.commit({ canisters: [{ id: 'c', meta: 1 }] });
    const goodBytes = store.logBytes;
    store.commit({
      canisters: [
        {
          id: 'c',
          meta: 2,
          stable: {
            pages: [
              { index: 1, bytes: page(1) },
              { index: 2, bytes: page(2) }
            ]
          }
        }
      ]
    });
    const fullBytes = store.logBytes;
    store.close({ checkpoint: false });
    const log = fs.readFileSync(logFile());
    for (let cut = goodBytes; cut < fullBytes; cut += 4093) {
      for (const at of [cut, Math.min(cut + 1, fullBytes - 1), fullBytes - 1]) {
        fs.writeFileSync(logFile(), log.subarray(0, at));
        store = open();
        expect(store.state.canisters.get('c')?.meta).toBe(1);
        expect(store.state.canisters.get('c')?.stablePages.size).toBe(0);
        store.close({ checkpoint: false });
      }
    }
  });

  function flipByte(bytes: Buffer, at: number): Buffer {
    const copy = Buffer.from(bytes);
    copy.writeUInt8(copy.readUInt8(at) ^ 0xff, at);
    return copy;
  }

  function writeFiveRecords(): { log: Buffer; offsets: number[] } {
    const store = open();
    const offsets = [0];
    for (let n = 1; n <= 5; n += 1) {
      store.commit({ canisters: [{ id: 'c', meta: n, heap: { size: 4 * KIB, chunks: [{ offset: n * 100, bytes: pattern(64, n) }] } }] });
      offsets.push(store.logBytes);
    }
    store.close({ checkpoint: false });
    return { log: fs.readFileSync(logFile()), offsets };
  }

  it('refuses a damaged record that has valid records after it', () => {
    const { log, offsets } = writeFiveRecords();
    const damaged = flipByte(log, offsets[1]! + 40); // inside record 2's payload
    fs.writeFileSync(logFile(), damaged);
    expect(() => open()).toThrow(expect.objectContaining({ code: 'WAL_CORRUPT' }));

    const badLength = Buffer.from(log);
    badLength.writeUInt32LE(0xfffffff0, offsets[2]!); // record 3's length field
    fs.writeFileSync(logFile(), badLength);
    expect(() => open()).toThrow(StateCorruptError);

    // The directory is left as it was, and the lock is released for another attempt.
    expect(fs.readFileSync(logFile()).equals(badLength)).toBe(true);
    fs.writeFileSync(logFile(), log);
    const store = open();
    expect(store.state.canisters.get('c')?.meta).toBe(5);
    store.close();
  });

  it('treats damage in the final record as a torn tail', () => {
    const { log, offsets } = writeFiveRecords();
    const damaged = flipByte(log, offsets[4]! + 30);
    fs.writeFileSync(logFile(), damaged);
    const store = open();
    expect(store.state.canisters.get('c')?.meta).toBe(4);
    store.close();
  });

  it('reports damaged checkpoint files instead of loading partial state', () => {
    let store = open();
    store.commit({ canisters: [{ id: 'c', heap: { size: 4 * KIB, full: pattern(4 * KIB, 1) } }], blobs: [moduleBlob] });
    store.close();

    const heapFile = path.join(dir, 'canisters', 'c.g1.heap');
    const heap = fs.readFileSync(heapFile);
    fs.writeFileSync(heapFile, Buffer.concat([heap.subarray(0, 10), Buffer.from([heap[10]! ^ 1]), heap.subarray(11)]));
    expect(() => open()).toThrow(expect.objectContaining({ code: 'CHECKPOINT_FILE_INVALID' }));
    fs.writeFileSync(heapFile, heap);

    const blobFile = path.join(dir, 'blobs', moduleBlob.hash);
    fs.writeFileSync(blobFile, 'tampered');
    expect(() => open()).toThrow(expect.objectContaining({ code: 'BLOB_INVALID' }));
    fs.writeFileSync(blobFile, moduleBlob.bytes);

    fs.rmSync(logFile(1));
    expect(() => open()).toThrow(expect.objectContaining({ code: 'WAL_MISSING' }));
    fs.writeFileSync(logFile(1), '');

    const manifest = fs.readFileSync(path.join(dir, 'manifest.json'));
    fs.writeFileSync(path.join(dir, 'manifest.json'), '{"format":"something else"}');
    expect(() => open()).toThrow(expect.objectContaining({ code: 'MANIFEST_INVALID' }));
    fs.writeFileSync(path.join(dir, 'manifest.json'), manifest);

    store = open();
    expectBytes(store.state.canisters.get('c')?.heap, pattern(4 * KIB, 1));
    store.close();
  });
});

describe('StateStore rejects deltas that break the contract', () => {
  const cases: Array<[string, RoundDelta]> = [
    ['a stable page of the wrong size', { canisters: [{ id: 'c', stable: { pages: [{ index: 0, bytes: new Uint8Array(10) }] } }] }],
    ['a negative page index', { canisters: [{ id: 'c', stable: { pages: [{ index: -1, bytes: null }] } }] }],
    ['a heap shrinking through chunks', { canisters: [{ id: 'c', heap: { size: 4 * KIB, chunks: [] } }] }],
    [
      'a chunk past the heap end',
      { canisters: [{ id: 'c', heap: { size: 8 * KIB, chunks: [{ offset: 8 * KIB - 1, bytes: new Uint8Array(2) }] } }] }
    ],
    ['full bytes longer than size', { canisters: [{ id: 'c', heap: { size: 1, full: new Uint8Array(2) } }] }],
    ['a blob whose bytes do not hash to its name', { canisters: [], blobs: [{ hash: moduleBlob.hash, bytes: new Uint8Array(1) }] }],
    ['an uppercase blob hash', { canisters: [], blobs: [{ hash: moduleBlob.hash.toUpperCase(), bytes: moduleBlob.bytes }] }],
    ['a deletion that also sets meta', { canisters: [{ id: 'c', deleted: true, meta: 1 }] }],
    ['a non-finite number in meta', { canisters: [{ id: 'c', meta: { x: Number.NaN } }] }],
    ['an empty canister id', { canisters: [{ id: '' }] }]
  ];
  it.each(cases)('rejects %s without logging or changing state', (_name, delta) => {
    const store = open();
    store.commit({ canisters: [{ id: 'c', meta: 'kept', heap: { size: 8 * KIB, full: pattern(8 * KIB, 1) } }] });
    const before = structuredClone(store.state);
    const logBytes = store.logBytes;
    expect(() => store.commit(delta)).toThrow(InvalidDeltaError);
    expectSameState(store.state, before);
    expect(store.logBytes).toBe(logBytes);
    store.commit({ canisters: [{ id: 'c', meta: 'still usable' }] });
    store.close();
  });
});

describe('StateStore directory lock', () => {
  const lockFile = (): string => path.join(dir, 'LOCK');

  it('refuses a second store on the same directory in this process', () => {
    const store = open();
    expect(() => open()).toThrow(StateDirLockedError);
    store.close();
    open().close();
  });

  it('refuses a lock held by a live process, with a clear message', () => {
    fs.writeFileSync(lockFile(), `${process.ppid}\nsomehost\n`);
    let error: unknown;
    try {
      open();
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(StateDirLockedError);
    expect(error).toMatchObject({ code: 'STATE_DIR_LOCKED', holderPid: process.ppid, retryable: true });
    expect(String(error)).toContain(`locked by process ${process.ppid}`);
    expect(fs.readFileSync(lockFile(), 'utf8')).toContain(String(process.ppid));
  });

  it('takes over a stale lock whose process is dead', () => {
    const exited = spawnSync(process.execPath, ['-e', '']);
    fs.writeFileSync(lockFile(), `${exited.pid}\nsomehost\n`);
    const store = open();
    expect(fs.readFileSync(lockFile(), 'utf8').split('\n')[0]).toBe(String(process.pid));
    store.close();
    expect(fs.existsSync(lockFile())).toBe(false);
  });

  it('uses the injected liveness check, and treats our own pid from an earlier incarnation as stale', () => {
    fs.writeFileSync(lockFile(), '4242\n');
    expect(() => open({ isProcessAlive: () => true })).toThrow(expect.objectContaining({ holderPid: 4242 }));
    open({ isProcessAlive: () => false }).close();
    fs.writeFileSync(lockFile(), `${process.pid}\n`);
    open().close();
    fs.writeFileSync(lockFile(), 'garbage');
    open().close();
  });
});

describe('StateStore commit latency (fsync on)', () => {
  function measureCommitsMs(store: StateStore, heapBytes: number, count: number): number[] {
    const samplesMs: number[] = [];
    for (let round = 0; round < count; round += 1) {
      const delta: RoundDelta = {
        canisters: [
          {
            id: 'bench',
            meta: { round },
            heap: {
              size: heapBytes,
              chunks: [0, 1, 2].map((i) => ({ offset: ((round * 3 + i) % 2816) * 4 * KIB, bytes: pattern(4 * KIB, round + i) }))
            },
            stable: {
              pages: [
                { index: round % 40, bytes: page((round % 250) + 1) },
                { index: 100 + (round % 7), bytes: page(3) }
              ]
            }
          }
        ]
      };
      const started = process.hrtime.bigint();
      store.commit(delta);
      samplesMs.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    return samplesMs.sort((x, y) => x - y);
  }
  const quantile = (sorted: number[], q: number): string => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(2);

  it('measures a typical round: 3 heap chunks of 4 KiB + 2 stable pages', () => {
    const heapBytes = 11 * 1024 * KIB;
    const unsynced = StateStore.open(path.join(dir, 'unsynced'), { fsync: false });
    unsynced.commit({ canisters: [{ id: 'bench', heap: { size: heapBytes, full: pattern(heapBytes, 1) } }] });
    const cpuMs = measureCommitsMs(unsynced, heapBytes, 200);
    unsynced.close({ checkpoint: false });

    const store = StateStore.open(dir, { fsync: true });
    store.commit({ canisters: [{ id: 'bench', heap: { size: heapBytes, full: pattern(heapBytes, 1) } }] });
    const samplesMs = measureCommitsMs(store, heapBytes, 200);
    const checkpointStarted = process.hrtime.bigint();
    store.checkpoint();
    const checkpointMs = Number(process.hrtime.bigint() - checkpointStarted) / 1e6;
    const at = (q: number): string => quantile(samplesMs, q);
    console.log(
      `[persistence bench] commit of 3x4KiB heap chunks + 2x64KiB stable pages, fsync on, ${samplesMs.length} rounds: ` +
        `p50 ${at(0.5)} ms, p90 ${at(0.9)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms; ` +
        `same without fsync (encode + write + apply): p50 ${quantile(cpuMs, 0.5)} ms; ` +
        `checkpoint of one 11 MiB heap + ${store.state.canisters.get('bench')?.stablePages.size} pages: ${checkpointMs.toFixed(1)} ms`
    );
    store.close();
    expect(samplesMs.length).toBe(200);
  });
});

describe('StateStore group commit (fdatasync off the main thread)', () => {
  it('commit() returns before the disk sync; durable() resolves once every committed round is on disk', async () => {
    const store = StateStore.open(dir, { fsync: true, groupCommit: true });
    await store.durable(); // nothing pending: resolves at once
    for (let i = 1; i <= 50; i += 1) store.commit({ host: { round: BigInt(i) }, canisters: [{ id: 'c', meta: { i } }] });
    const first = store.durable();
    store.commit({ host: { round: 51n }, canisters: [{ id: 'c', meta: { i: 51 } }] });
    await Promise.all([first, store.durable()]);
    const expected = digest(store.state);
    store.close();
    const reopened = open();
    expect(digest(reopened.state)).toEqual(expected);
    expect(reopened.state.host).toEqual({ round: 51n });
    reopened.close();
  });

  it('close() with a sync in flight makes everything durable first, and a checkpoint switches logs safely', async () => {
    const store = StateStore.open(dir, { fsync: true, groupCommit: true, checkpointAfterLogBytes: 4 * 1024 });
    const waits: Array<Promise<void>> = [];
    for (let i = 1; i <= 40; i += 1) {
      store.commit({
        host: { round: BigInt(i) },
        canisters: [{ id: 'c', heap: { size: 1024, chunks: [{ offset: 0, bytes: pattern(512, i) }] } }]
      });
      waits.push(store.durable()); // the log is replaced by checkpoints meanwhile
    }
    store.close();
    await Promise.all(waits);
    const reopened = open();
    expect(reopened.state.host).toEqual({ round: 40n });
    expectBytes(reopened.state.canisters.get('c')?.heap?.subarray(0, 512), pattern(512, 40));
    reopened.close();
  });
});
