import { createHash } from 'node:crypto';

import { parseManifestBytes } from '../../src/core/registry/index.ts';

/** Valid manifests for tests; each call can override fields. Digests are derived from a seed so they are unique. */
export function digestOf(seed: string): string {
  return `sha256:${createHash('sha256').update(seed).digest('hex')}`;
}

export function modelCard(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'deai.dev/v1',
    kind: 'ModelCard',
    id: 'meta-llama/Llama-3.1-8B-Instruct',
    version: '1.0.0',
    family: 'llama',
    architecture: 'llama',
    base: { id: 'meta-llama/Llama-3.1-8B', relation: 'quantized' },
    parameters: { total: 8030261248 },
    format: 'gguf',
    quantization: { method: 'Q4_K_M', bits: 4.5, label: 'Q4_K_M' },
    contextLength: 131072,
    modalities: { input: ['text'], output: ['text'] },
    capabilities: ['tools', 'json_schema'],
    license: 'llama3.1',
    digest: digestOf('llama-3.1-8b-q4km'),
    ...overrides
  };
}

export function deployment(card: Record<string, unknown>, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: { id: card.id, digest: card.digest },
    engine: 'llama.cpp',
    engineVersion: 'b4567',
    apiDialect: 'openai',
    servedContext: 8192,
    slots: 4,
    price: { inputPerMillion: 1000, outputPerMillion: 3000 },
    ...overrides
  };
}

export function runnerManifest(
  operator: string,
  deployments: Array<Record<string, unknown>>,
  overrides: Record<string, unknown> = {}
): Record<string, unknown> {
  return {
    apiVersion: 'deai.dev/v1',
    kind: 'RunnerManifest',
    operator,
    endpoint: 'https://runner.example.org',
    region: 'eu-west',
    hardware: {
      accelerators: [{ class: 'gpu', vendor: 'nvidia', model: 'RTX 4090', memoryGiB: 24, count: 1, peakTops: 1321, watts: 450 }],
      cpu: { cores: 16, architecture: 'x86_64' },
      ramGiB: 64
    },
    confidential: { kind: 'none' },
    deployments,
    ...overrides
  };
}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A manifest's JSON text as the registry reads it: UTF-8 bytes, bounded, decoded (undefined when not UTF-8), parsed. */
export function parseManifestJson(text: string | Uint8Array): ReturnType<typeof parseManifestBytes> {
  const bytes = typeof text === 'string' ? new TextEncoder().encode(text) : text;
  return parseManifestBytes(bytes, (raw) => {
    try {
      return fatalUtf8.decode(raw);
    } catch {
      return undefined;
    }
  });
}
