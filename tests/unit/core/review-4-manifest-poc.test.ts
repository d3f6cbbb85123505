import { describe, expect, it } from 'vitest';

import { safeValidateRunnerManifest } from '../../../src/core/manifest/index.ts';
import { parseManifestJson } from '../../support/manifests.ts';

/*
 * Review 4 (adversarial): runner manifests bounded on their bytes before decoding (43c894d). Each test is a manifest
 * that off-chain validation (CLI `deai runner validate`, the runner) accepts, that the canister accepted before
 * 43c894d (64 KiB, depth 32), and that parseManifestBytes now refuses. They failed on main at 4c9905a (R4-M1 is now a documented limit for escaped, pretty-printed JSON).
 */

const parse = parseManifestJson;
const DIGEST = `sha256:${'a'.repeat(64)}`;

function manifest(over: { vendor?: string; model?: string; endpoint?: string; accelerators?: number; deployments?: number }) {
  const accelerator = {
    class: 'gpu',
    vendor: over.vendor ?? 'NVIDIA',
    model: over.model ?? 'H100',
    memoryGiB: 80,
    count: 1,
    peakTops: 1979,
    watts: 700
  };
  const deployment = (i: number) => ({
    model: { id: `${'o'.repeat(64)}/${'n'.repeat(91)}${String(i).padStart(4, '0')}`, digest: DIGEST },
    engine: 'llama.cpp',
    engineVersion: 'b'.repeat(64),
    apiDialect: 'openai',
    image: `registry.example.org/${'a'.repeat(300)}:${'t'.repeat(100)}@${DIGEST}`,
    servedContext: 8192,
    slots: 4,
    price: { inputPerMillion: '100', outputPerMillion: '200' },
    evidenceDigest: DIGEST
  });
  return {
    apiVersion: 'deai.dev/v1',
    kind: 'RunnerManifest',
    operator: 'aaaaa-aa',
    endpoint: over.endpoint ?? 'https://runner.example.org',
    region: 'eu-west',
    hardware: {
      accelerators: Array.from({ length: over.accelerators ?? 1 }, () => accelerator),
      cpu: { cores: 64, architecture: 'x86_64' },
      ramGiB: 512
    },
    confidential: { kind: 'none' },
    deployments: Array.from({ length: over.deployments ?? 1 }, (_, i) => deployment(i))
  };
}

/** JSON as Python's json.dumps writes it by default (ensure_ascii): every non-ASCII UTF-16 unit as \uXXXX. */
const asciiJson = (value: unknown) =>
  JSON.stringify(value, null, 2).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

describe('R4-M: valid runner manifests refused by the byte bounds', () => {
  it('R4-M1: a valid manifest with non-ASCII accelerator names fits compact, or as Python json.dumps(indent=2) writes it', () => {
    const m = manifest({ vendor: '英伟达'.repeat(21), model: '图形处理器'.repeat(12), accelerators: 16, deployments: 16 });
    expect(safeValidateRunnerManifest(m)).toMatchObject({ ok: true });
    // What deai and the runner send: compact JSON, UTF-8.
    expect(parse(JSON.stringify(m))).toEqual({ Ok: m });
    // Pretty-printed with every non-ASCII character escaped (6 bytes each) it is over 32 KiB: refused with the bound
    // named, a documented limit (the bound keeps decoding an invalid manifest cheap; README, Manifests).
    const text = asciiJson(m);
    expect(JSON.parse(text)).toEqual(m);
    expect(parse(text)).toEqual({ Err: { LimitExceeded: { what: 'manifest bytes', limit: 32_768n } } });
  });

  it('R4-M2: a valid endpoint URL whose path holds commas (allowed by the URL pattern) exceeds the comma count', () => {
    const endpoint = `https://runner.example.org/${','.repeat(229)}`;
    const m = manifest({ endpoint, accelerators: 16, deployments: 16 });
    expect(endpoint.length).toBeLessThanOrEqual(256);
    expect(safeValidateRunnerManifest(m)).toMatchObject({ ok: true });
    expect(parse(JSON.stringify(m))).toEqual({ Ok: m });
  });

  it('R4-M3: brackets inside free-text accelerator names count as nesting (a valid manifest refused)', () => {
    const m = manifest({ vendor: 'NVIDIA [SXM5] {rev 2}', model: 'H100 [80GB] {HBM3}', accelerators: 16, deployments: 16 });
    expect(safeValidateRunnerManifest(m)).toMatchObject({ ok: true });
    expect(parse(JSON.stringify(m))).toEqual({ Ok: m });
  });

  it('R4-M4: a manifest valid before 43c894d (a 40-emoji accelerator vendor: 40 code points, 80 UTF-16 units) stays valid', () => {
    // zod's .max counted code points, so this manifest registered before; the runner that holds it can no longer
    // update_runner, and its node's reconcile (safeValidateRunnerManifest) now refuses the same file.
    const m = manifest({ vendor: '\u{1F680}'.repeat(40) });
    expect(safeValidateRunnerManifest(m)).toMatchObject({ ok: true });
  });
});
