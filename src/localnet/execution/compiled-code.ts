import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

import { instrumentModule } from '../wasm/instrument.js';
import { CodedError } from '../../core/errors/coded-error.js';

/** Bump when instrumentation changes so stale cache entries are not reused. */
const INSTRUMENTATION_VERSION = 3;
const MAX_MODULE_BYTES = 100 * 1024 * 1024;

export interface MetadataSection {
  visibility: 'public' | 'private';
  content: Uint8Array;
}

/** A canister module after validation and instrumentation, shared by every canister that installs the same bytes. */
export interface CompiledCode {
  /** SHA-256 of the module as submitted (gzip bytes if gzipped): the IC's module_hash. */
  moduleHash: Uint8Array;
  module: WebAssembly.Module;
  mutableGlobalExports: string[];
  exports: Set<string>;
  metadata: Map<string, MetadataSection>;
  /** Size of the (uncompressed) Wasm binary, for canister_status. */
  binaryBytes: number;
}

export class InvalidModuleError extends CodedError<'InvalidModule'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('InvalidModule', message, options);
    this.name = 'InvalidModuleError';
  }
}

/** Compiles modules once per hash; instrumented bytes are cached on disk so a restart or a second test run is fast. */
export class CodeCache {
  private readonly compiled = new Map<string, CompiledCode>();

  constructor(private readonly cacheDir: string | undefined) {}

  compile(submitted: Uint8Array): CompiledCode {
    const moduleHash = new Uint8Array(createHash('sha256').update(submitted).digest());
    const key = Buffer.from(moduleHash).toString('hex');
    const hit = this.compiled.get(key);
    if (hit !== undefined) return hit;
    const raw = decompress(submitted);
    if (raw.length < 8 || raw[0] !== 0x00 || raw[1] !== 0x61 || raw[2] !== 0x73 || raw[3] !== 0x6d) {
      throw new InvalidModuleError('Wasm module is neither a raw module (\\0asm) nor gzip-compressed');
    }
    let bytes: Uint8Array;
    let mutableGlobalExports: string[];
    const cached = this.readCache(key);
    if (cached !== undefined) {
      ({ bytes, mutableGlobalExports } = cached);
    } else {
      try {
        ({ bytes, mutableGlobalExports } = instrumentModule(raw));
      } catch (error) {
        throw new InvalidModuleError(`Wasm module could not be instrumented: ${String(error)}`, { cause: error });
      }
      this.writeCache(key, bytes, mutableGlobalExports);
    }
    let module: WebAssembly.Module;
    try {
      module = new WebAssembly.Module(new Uint8Array(bytes));
    } catch (error) {
      throw new InvalidModuleError(`Wasm module failed to compile: ${String(error)}`, { cause: error });
    }
    for (const imported of WebAssembly.Module.imports(module)) {
      if (imported.module !== 'ic0' && imported.module !== '__deai') {
        throw new InvalidModuleError(`Wasm module imports ${imported.module}.${imported.name}; only ic0 imports are allowed`);
      }
    }
    const code: CompiledCode = {
      moduleHash,
      module,
      mutableGlobalExports,
      exports: new Set(WebAssembly.Module.exports(module).map((e) => e.name)),
      metadata: readMetadataSections(raw),
      binaryBytes: raw.length
    };
    this.compiled.set(key, code);
    return code;
  }

  private readCache(key: string): { bytes: Uint8Array; mutableGlobalExports: string[] } | undefined {
    if (this.cacheDir === undefined) return undefined;
    const base = join(this.cacheDir, `${key}-v${INSTRUMENTATION_VERSION}`);
    if (!existsSync(`${base}.wasm`) || !existsSync(`${base}.json`)) return undefined;
    try {
      const globals: unknown = JSON.parse(readFileSync(`${base}.json`, 'utf8'));
      if (!Array.isArray(globals) || !globals.every((g): g is string => typeof g === 'string')) return undefined;
      return { bytes: new Uint8Array(readFileSync(`${base}.wasm`)), mutableGlobalExports: globals };
    } catch {
      return undefined; // a damaged cache entry is rebuilt
    }
  }

  private writeCache(key: string, bytes: Uint8Array, globals: string[]): void {
    if (this.cacheDir === undefined) return;
    try {
      mkdirSync(this.cacheDir, { recursive: true });
      const base = join(this.cacheDir, `${key}-v${INSTRUMENTATION_VERSION}`);
      const tmp = `${base}.${process.pid}.tmp`;
      writeFileSync(`${tmp}.json`, JSON.stringify(globals));
      renameSync(`${tmp}.json`, `${base}.json`);
      writeFileSync(`${tmp}.wasm`, bytes);
      renameSync(`${tmp}.wasm`, `${base}.wasm`);
    } catch {
      // The cache is an optimisation; a read-only disk only costs time.
    }
  }
}

function decompress(bytes: Uint8Array): Uint8Array {
  if (bytes.length > MAX_MODULE_BYTES) throw new InvalidModuleError(`Wasm module exceeds ${MAX_MODULE_BYTES} bytes`);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b && bytes[2] === 0x08) {
    try {
      return new Uint8Array(gunzipSync(bytes, { maxOutputLength: MAX_MODULE_BYTES }));
    } catch (error) {
      throw new InvalidModuleError(`gzip-compressed Wasm module could not be decompressed: ${String(error)}`, { cause: error });
    }
  }
  return bytes;
}

/** `icp:public <name>` / `icp:private <name>` custom sections (the canister's metadata, served by read_state). */
export function readMetadataSections(wasm: Uint8Array): Map<string, MetadataSection> {
  const sections = new Map<string, MetadataSection>();
  let p = 8;
  const leb = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = wasm[p++];
      if (byte === undefined) throw new InvalidModuleError('truncated Wasm section header');
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7;
    }
  };
  while (p < wasm.length) {
    const id = wasm[p++];
    const size = leb();
    const end = p + size;
    if (id === 0) {
      const nameLength = leb();
      const name = new TextDecoder().decode(wasm.subarray(p, p + nameLength));
      const content = wasm.slice(p + nameLength, end);
      const match = /^icp:(public|private) (.+)$/.exec(name);
      if (match !== null && match[1] !== undefined && match[2] !== undefined) {
        sections.set(match[2], { visibility: match[1] === 'public' ? 'public' : 'private', content });
      }
    }
    p = end;
  }
  return sections;
}
