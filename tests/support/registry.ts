import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { HttpAgent } from '@dfinity/agent';
import type { Principal } from '@dfinity/principal';

import { registryClient, type RegistryActor } from '../../src/ic/registry.ts';
import type { FindRequest, HeartbeatArgs, RegistryError, Result } from '../../src/interface/registry/index.ts';

export type { RegistryActor };
export type RegistryErr = RegistryError;
export type R<T> = Result<T>;

export function registryWasm(): Uint8Array {
  return new Uint8Array(readFileSync(join(import.meta.dirname, '..', '..', '.azle', 'registry', 'registry.wasm')));
}

export function registryActor(agent: HttpAgent, canisterId: Principal): RegistryActor {
  return registryClient(agent, canisterId);
}

export function findRequest(overrides: Partial<FindRequest> = {}): FindRequest {
  return {
    model: [],
    family: [],
    min_context: [],
    quantizations: [],
    min_bits: [],
    input_modality: [],
    output_modality: [],
    capabilities: [],
    engine: [],
    accelerator_class: [],
    region: [],
    max_input_price_per_million: [],
    max_output_price_per_million: [],
    endpoint_required: [],
    confidential_required: [],
    affinity_key: [],
    limit: [],
    digests: [],
    ...overrides
  };
}

export function heartbeatArgs(overrides: Partial<HeartbeatArgs> = {}): HeartbeatArgs {
  return { state: 'ready', busy_slots: 0, queue_depth: 0, tokens_per_second: 40, kv_cache_usage: 0.1, ...overrides };
}

/** The Ok value, or a failed expectation that shows the Err. */
export function okOf<T, E = RegistryErr>(result: { Ok: T } | { Err: E }): T {
  if ('Err' in result)
    throw new Error(`expected Ok, got Err ${JSON.stringify(result.Err, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);
  return result.Ok;
}

export function errOf<T, E = RegistryErr>(result: { Ok: T } | { Err: E }): E {
  if ('Ok' in result) throw new Error('expected Err, got Ok');
  return result.Err;
}
