import { Principal } from '@dfinity/principal';
import { z } from 'zod';

import { fromHex, toHex } from '../ids.js';
import type { CanisterDelta, Json, PersistedCanister, PersistedState, RoundDelta } from '../persistence/index.js';
import type { DirtyPlacement } from '../wasm/heap-dirty.js';
import { HeapShadow } from '../wasm/heap-shadow.js';
import { StableMemory } from '../wasm/stable-memory.js';
import { Canister } from './canister.js';
import type { Engine, RoundSummary } from './engine.js';
import { costCall } from './limits.js';
import type { LogVisibility } from './settings.js';

/** Engine-owned metadata of one canister as it is written to the state directory. */
const visibilitySchema = z.union([
  z.object({ controllers: z.null() }),
  z.object({ public: z.null() }),
  z.object({ allowed_viewers: z.array(z.string()) })
]);
const metaSchema = z.object({
  status: z.enum(['running', 'stopping', 'stopped']),
  controllers: z.array(z.string()),
  settings: z.object({
    computeAllocation: z.bigint(),
    memoryAllocation: z.bigint(),
    freezingThreshold: z.bigint(),
    reservedCyclesLimit: z.bigint(),
    wasmMemoryLimit: z.bigint(),
    wasmMemoryThreshold: z.bigint(),
    logMemoryLimit: z.bigint(),
    minimumIncomingCanisterCallCycles: z.bigint(),
    logVisibility: visibilitySchema,
    snapshotVisibility: visibilitySchema,
    statusVisibility: visibilitySchema,
    environmentVariables: z.array(z.object({ name: z.string(), value: z.string() }))
  }),
  cycles: z.bigint(),
  version: z.bigint(),
  certifiedData: z.string(),
  globalTimer: z.bigint(),
  lastTimeNs: z.bigint(),
  moduleBlob: z.string().nullable(),
  globals: z.array(z.union([z.number(), z.bigint()])),
  stablePages: z.bigint(),
  chunks: z.array(z.string()),
  codeEpoch: z.number(),
  /** where the dirty bitmap sits in the heap; absent in states written before dirty tracking (it stays off) */
  dirtyBitmap: z.object({ base: z.number().int().nonnegative(), chunks: z.number().int().positive() }).nullable().optional()
});
const hostSchema = z.object({ nextCanisterIndex: z.bigint(), timeOffsetNs: z.bigint() });

function visibilityToJson(v: LogVisibility): Json {
  if ('allowed_viewers' in v) return { allowed_viewers: v.allowed_viewers.map((p) => p.toText()) };
  return 'public' in v ? { public: null } : { controllers: null };
}
function visibilityFromJson(v: z.infer<typeof visibilitySchema>): LogVisibility {
  if ('allowed_viewers' in v) return { allowed_viewers: v.allowed_viewers.map((p) => Principal.fromText(p)) };
  return 'public' in v ? { public: null } : { controllers: null };
}

export function canisterMeta(canister: Canister): Json {
  const s = canister.settings;
  return {
    status: canister.status,
    controllers: s.controllers.map((c) => c.toText()),
    settings: {
      computeAllocation: s.computeAllocation,
      memoryAllocation: s.memoryAllocation,
      freezingThreshold: s.freezingThreshold,
      reservedCyclesLimit: s.reservedCyclesLimit,
      wasmMemoryLimit: s.wasmMemoryLimit,
      wasmMemoryThreshold: s.wasmMemoryThreshold,
      logMemoryLimit: s.logMemoryLimit,
      minimumIncomingCanisterCallCycles: s.minimumIncomingCanisterCallCycles,
      logVisibility: visibilityToJson(s.logVisibility),
      snapshotVisibility: visibilityToJson(s.snapshotVisibility),
      statusVisibility: visibilityToJson(s.statusVisibility),
      environmentVariables: s.environmentVariables.map((e) => ({ name: e.name, value: e.value }))
    },
    cycles: canister.cycles,
    version: canister.versionNumber,
    certifiedData: toHex(canister.certifiedData),
    globalTimer: canister.globalTimer,
    lastTimeNs: canister.lastTimeNs,
    moduleBlob: canister.moduleBlobHash ?? null,
    globals: canister.loaded?.globals.map((g) => globalValue(g.value)) ?? [],
    stablePages: canister.stable.size,
    chunks: [...canister.chunkStore.keys()],
    codeEpoch: canister.codeEpoch,
    dirtyBitmap: placementToJson(canister.loaded?.dirty.placement)
  };
}

function placementToJson(placement: DirtyPlacement | undefined): Json {
  return placement === undefined ? null : { base: placement.base, chunks: placement.chunks };
}

function globalValue(value: unknown): number | bigint {
  if (typeof value === 'number' || typeof value === 'bigint') return value;
  throw new Error(`unsupported global value ${String(value)}`);
}

/** The changes of one round, in the form the state store appends to its log. */
export function roundDelta(engine: Engine, summary: RoundSummary): RoundDelta {
  const canisters: CanisterDelta[] = summary.deleted.map((id) => ({ id, deleted: true }));
  for (const canister of summary.touched) {
    if (engine.getCanister(canister.id) !== canister) continue;
    const delta: CanisterDelta = { id: canister.text, meta: canisterMeta(canister) };
    const loaded = canister.loaded;
    if (loaded === undefined) {
      delta.heap = { clear: true };
    } else {
      const heap = loaded.shadow.takeDirty();
      delta.heap = heap.full !== undefined ? { size: heap.size, full: heap.full } : { size: heap.size, chunks: heap.chunks };
    }
    const stable = canister.stable.takeDirty();
    delta.stable = stable.cleared && stable.pages.length === 0 ? { clear: true } : { pages: stable.pages };
    if (stable.cleared && stable.pages.length > 0) canisters.push({ id: canister.text, stable: { clear: true } });
    canisters.push(delta);
  }
  return {
    host: { nextCanisterIndex: engine.nextCanisterIndex, timeOffsetNs: engine.timeOffsetNs },
    canisters,
    blobs: [...summary.blobs].map(([hash, bytes]) => ({ hash, bytes }))
  };
}

/** Rebuilds every canister from the state directory: module, heap, globals, stable memory, settings. */
export function restoreEngine(engine: Engine, state: PersistedState): void {
  const host = hostSchema.safeParse(state.host);
  if (host.success) {
    engine.nextCanisterIndex = host.data.nextCanisterIndex;
    engine.timeOffsetNs = host.data.timeOffsetNs;
  }
  for (const persisted of state.canisters.values()) {
    engine.canisters.set(persisted.id, restoreCanister(engine, persisted, state.blobs));
  }
}

function restoreCanister(engine: Engine, persisted: PersistedCanister, blobs: Map<string, Uint8Array>): Canister {
  const meta = metaSchema.parse(persisted.meta);
  const canister = new Canister(
    Principal.fromText(persisted.id),
    meta.controllers.map((c) => Principal.fromText(c)),
    meta.cycles,
    costCall
  );
  canister.status = meta.status;
  canister.settings = {
    ...canister.settings,
    ...meta.settings,
    logVisibility: visibilityFromJson(meta.settings.logVisibility),
    snapshotVisibility: visibilityFromJson(meta.settings.snapshotVisibility),
    statusVisibility: visibilityFromJson(meta.settings.statusVisibility)
  };
  canister.versionNumber = meta.version;
  canister.certifiedData = fromHex(meta.certifiedData);
  canister.globalTimer = meta.globalTimer;
  canister.lastTimeNs = meta.lastTimeNs;
  canister.codeEpoch = meta.codeEpoch;
  canister.stable = StableMemory.fromPages(meta.stablePages, persisted.stablePages);
  for (const hash of meta.chunks) {
    const chunk = blobs.get(hash);
    if (chunk !== undefined) canister.chunkStore.set(hash, chunk);
  }
  if (meta.moduleBlob !== null && persisted.heap !== null) {
    const wasm = blobs.get(meta.moduleBlob);
    if (wasm === undefined) throw new Error(`state directory lacks module ${meta.moduleBlob} of canister ${persisted.id}`);
    // The persisted heap already holds the bitmap pages: resume them instead of growing memory again.
    const loaded = canister.instantiate(engine.codeCache.compile(wasm), { placeDirtyBitmap: false });
    const shadow = new HeapShadow(persisted.heap);
    shadow.copyInto(loaded.memory);
    if (meta.dirtyBitmap !== undefined && meta.dirtyBitmap !== null) loaded.dirty.resume(meta.dirtyBitmap);
    loaded.shadow = new HeapShadow(new Uint8Array(loaded.memory.buffer));
    loaded.shadow.markPersisted();
    loaded.globals.forEach((global, i) => {
      const value = meta.globals[i];
      if (value !== undefined) global.value = value;
    });
    canister.loaded = loaded;
    canister.moduleBlobHash = meta.moduleBlob;
  }
  return canister;
}
