import { describe, expect, it } from 'vitest';
import {
  ACCELERATORS_MAX,
  DEPLOYMENTS_MAX,
  PRICE_PER_MILLION_MAX,
  safeValidateManifest,
  safeValidateRunnerManifest,
  type ManifestIssue
} from '../../../src/core/manifest/index.ts';
import { DIGEST_A, DIGEST_B, example, runner, rejectFrom } from './manifest-fixtures.ts';

const reject = (mutate: (manifest: Record<string, any>) => void): ManifestIssue[] => rejectFrom(runner, mutate);

function accept(mutate: (manifest: Record<string, any>) => void) {
  const manifest = runner();
  mutate(manifest);
  const result = safeValidateRunnerManifest(manifest);
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.manifest;
}

const deployment = (modelDigest: string, engine = 'llama.cpp') => ({
  model: { id: 'org/model', digest: modelDigest },
  engine,
  engineVersion: 'b1',
  apiDialect: 'openai',
  servedContext: 4096,
  slots: 1,
  price: { inputPerMillion: 1, outputPerMillion: 1 }
});

const accelerator = { class: 'gpu', vendor: 'nvidia', model: 'L4', memoryGiB: 24, count: 1 };

describe('RunnerManifest: identity and place', () => {
  it.each(['aaaaa-aa', '2vxsx-fae'])('accepts operator %s', (operator) => {
    expect(accept((m) => (m.operator = operator)).operator).toBe(operator);
  });

  it.each(['AAAAA-AA', 'aaaaaa-aa', 'aaaaa--aa', 'aaaaa-a1'])('rejects operator %s', (operator) => {
    expect(reject((m) => (m.operator = operator))).toEqual([
      { path: 'operator', message: expect.stringMatching(/^expected a textual principal .*, got "/) }
    ]);
  });

  it.each(['http://10.0.0.7:8080', 'https://[::1]:8443/v1', 'https://runner.example.org/api/'])('accepts endpoint %s', (endpoint) => {
    expect(accept((m) => (m.endpoint = endpoint)).endpoint).toBe(endpoint);
  });

  it.each(['ftp://runner.example.org', 'https://', 'https://runner .org', 'runner.example.org', 'https://a.org?x=1'])(
    'rejects endpoint %s',
    (endpoint) => {
      expect(reject((m) => (m.endpoint = endpoint))).toEqual([
        { path: 'endpoint', message: `expected an http(s) URL such as "https://runner.example.org", got ${JSON.stringify(endpoint)}` }
      ]);
    }
  );

  it('accepts a runner without endpoint', () => {
    expect(accept((m) => delete m.endpoint).endpoint).toBeUndefined();
  });

  it('rejects a region with uppercase letters', () => {
    expect(reject((m) => (m.region = 'EU-West'))).toEqual([
      { path: 'region', message: 'expected a region of a-z 0-9 and "-", e.g. "eu-west", got "EU-West"' }
    ]);
  });
});

describe('RunnerManifest: hardware', () => {
  it('rejects an unknown accelerator class at the exact index', () => {
    expect(reject((m) => (m.hardware.accelerators[0].class = 'tpu'))).toEqual([
      { path: 'hardware.accelerators[0].class', message: 'expected one of gpu | npu | analog | cpu, got "tpu"' }
    ]);
  });

  it('rejects too many accelerators', () => {
    expect(reject((m) => (m.hardware.accelerators = Array(ACCELERATORS_MAX + 1).fill(accelerator)))).toEqual([
      { path: 'hardware.accelerators', message: 'expected at most 16 entries, got 17' }
    ]);
  });

  it.each([
    ['memoryGiB', -1, 'expected a number ≥ 0, got -1'],
    ['memoryGiB', 1_025, 'expected a number ≤ 1024, got 1025'],
    ['memoryGiB', 10_000, 'expected a number ≤ 1024, got 10000'],
    ['count', 0, 'expected an integer ≥ 1, got 0'],
    ['count', 17, 'expected an integer ≤ 16, got 17'],
    ['peakTops', 0, 'expected a number > 0, got 0'],
    ['peakTops', 40_001, 'expected a number ≤ 40000, got 40001'],
    ['watts', -450, 'expected a number ≥ 1, got -450'],
    ['watts', 1e-300, 'expected a number ≥ 1, got 1e-300'],
    ['watts', 3_001, 'expected a number ≤ 3000, got 3001']
  ])('rejects accelerator %s %j', (field, value, message) => {
    expect(reject((m) => (m.hardware.accelerators[0][field] = value))).toEqual([{ path: `hardware.accelerators[0].${field}`, message }]);
  });

  it('rejects more TOPS per watt than any accelerator reaches, and accepts a real one', () => {
    expect(reject((m) => Object.assign(m.hardware.accelerators[0], { peakTops: 1000, watts: 1 }))).toEqual([
      { path: 'hardware.accelerators[0].peakTops', message: 'implausible: 1000 TOPS at 1 W is more than 50 TOPS per watt' }
    ]);
    expect(accept((m) => Object.assign(m.hardware.accelerators[0], { peakTops: 1321, watts: 450 })).hardware.accelerators[0]?.watts).toBe(
      450
    );
  });

  it('rejects more accelerator devices than one runner holds', () => {
    const many = { ...accelerator, count: 16 };
    expect(reject((m) => (m.hardware.accelerators = Array(5).fill(many)))).toEqual([
      { path: 'hardware.accelerators', message: 'implausible: 80 accelerator devices in one runner (at most 64)' }
    ]);
    expect(accept((m) => (m.hardware.accelerators = Array(4).fill(many))).hardware.accelerators).toHaveLength(4);
  });

  it('rejects a vendor name longer than 64 characters', () => {
    expect(reject((m) => (m.hardware.accelerators[0].vendor = 'n'.repeat(65)))).toEqual([
      { path: 'hardware.accelerators[0].vendor', message: 'expected at most 64 characters, got 65' }
    ]);
  });

  it.each([
    ['cores', 0, 'hardware.cpu.cores', 'expected an integer ≥ 1, got 0'],
    ['cores', 1025, 'hardware.cpu.cores', 'expected an integer ≤ 1024, got 1025'],
    ['architecture', 'arm64', 'hardware.cpu.architecture', 'expected one of x86_64 | aarch64 | riscv64 | other, got "arm64"']
  ])('rejects cpu %s %j', (field, value, path, message) => {
    expect(reject((m) => (m.hardware.cpu[field] = value))).toEqual([{ path, message }]);
  });

  it('rejects zero RAM', () => {
    expect(reject((m) => (m.hardware.ramGiB = 0))).toEqual([{ path: 'hardware.ramGiB', message: 'expected a number > 0, got 0' }]);
  });

  it('rejects more RAM than a machine holds', () => {
    expect(reject((m) => (m.hardware.ramGiB = 32_769))).toEqual([
      { path: 'hardware.ramGiB', message: 'expected a number ≤ 32768, got 32769' }
    ]);
  });
});

describe('RunnerManifest: confidential computing', () => {
  it('requires evidence unless kind is none', () => {
    expect(reject((m) => (m.confidential = { kind: 'tdx' }))).toEqual([
      {
        path: 'confidential.evidenceDigest',
        message: 'missing required field: kind tdx needs the sha256 digest of its attestation evidence'
      }
    ]);
  });

  it('forbids evidence when kind is none', () => {
    expect(reject((m) => (m.confidential = { kind: 'none', evidenceDigest: DIGEST_A }))).toEqual([
      {
        path: 'confidential.evidenceDigest',
        message: 'expected no evidenceDigest when kind is none (set kind to sgx | sev-snp | tdx | gpu-cc)'
      }
    ]);
  });

  it('accepts sev-snp with evidence', () => {
    expect(safeValidateManifest(example('runner-analog.runner.yaml')).ok).toBe(true);
    expect(accept((m) => (m.confidential = { kind: 'gpu-cc', evidenceDigest: DIGEST_A })).confidential.kind).toBe('gpu-cc');
  });

  it('rejects an unknown kind', () => {
    expect(reject((m) => (m.confidential.kind = 'nitro'))).toEqual([
      { path: 'confidential.kind', message: 'expected one of none | sgx | sev-snp | tdx | gpu-cc, got "nitro"' }
    ]);
  });
});

describe('RunnerManifest: deployments', () => {
  it('rejects more slots than one runner serves, all deployments together', () => {
    const five = ['a', 'b', 'c', 'd', 'e'].map((c) => ({ ...deployment(`sha256:${c.repeat(64)}`), slots: 256 }));
    expect(reject((m) => (m.deployments = five))).toEqual([
      { path: 'deployments', message: 'implausible: 1280 slots in one runner (at most 1024)' }
    ]);
    expect(accept((m) => (m.deployments = five.slice(0, 4))).deployments).toHaveLength(4);
  });

  it('rejects the same model and engine twice, at the second one', () => {
    expect(reject((m) => m.deployments.push({ ...m.deployments[0], slots: 1 }))).toEqual([
      {
        path: 'deployments[2]',
        message:
          'duplicate deployment: model bartowski/Meta-Llama-3.1-8B-Instruct-GGUF (sha256:998047698c1ab66c134590d2166fdf4ebeaf3295ef4ad84be0046e0a496ccefa) on llama.cpp is already declared at deployments[0]'
      }
    ]);
  });

  it('accepts the same model on two engines, and two digests of one id', () => {
    const ok = accept((m) => (m.deployments = [deployment(DIGEST_A), deployment(DIGEST_A, 'vllm'), deployment(DIGEST_B)]));
    expect(ok.deployments).toHaveLength(3);
  });

  it('rejects an empty list and too many deployments', () => {
    expect(reject((m) => (m.deployments = []))).toEqual([{ path: 'deployments', message: 'expected at least 1 entry, got 0' }]);
    const many = Array.from({ length: DEPLOYMENTS_MAX + 1 }, (_, i) => deployment(`sha256:${i.toString(16).padStart(64, '0')}`));
    expect(reject((m) => (m.deployments = many))).toEqual([{ path: 'deployments', message: 'expected at most 16 entries, got 17' }]);
  });

  it('rejects an unknown engine and API dialect', () => {
    expect(
      reject((m) => {
        m.deployments[0].engine = 'llamacpp';
        m.deployments[1].apiDialect = 'anthropic';
      })
    ).toEqual([
      {
        path: 'deployments[0].engine',
        message:
          'expected one of vllm | llama.cpp | tgi | sglang | lmdeploy | mlx | mlc | ollama | transformers | onnxruntime | other, got "llamacpp" (did you mean llama.cpp?)'
      },
      { path: 'deployments[1].apiDialect', message: 'expected one of openai | llama.cpp | tgi | ollama | other, got "anthropic"' }
    ]);
  });

  it('rejects a bad model reference in a deployment', () => {
    expect(reject((m) => (m.deployments[0].model = { id: 'llama', digest: DIGEST_A }))).toEqual([
      { path: 'deployments[0].model.id', message: expect.stringMatching(/^expected a model id "org\/name" .*, got "llama"$/) }
    ]);
  });

  it.each(['ghcr.io/ggml-org/llama.cpp:server-cuda', 'ghcr.io/ggml-org/llama.cpp@sha256:abc', 'llama.cpp:latest'])(
    'rejects image %s that does not pin a digest',
    (image) => {
      expect(reject((m) => (m.deployments[0].image = image))).toEqual([
        {
          path: 'deployments[0].image',
          message: `expected an OCI image reference pinned by digest ("name[:tag]@sha256:<64 hex>"), got ${JSON.stringify(image)}`
        }
      ]);
    }
  );

  it.each([`vllm/vllm-openai@${DIGEST_A}`, `localhost:5000/team/engine:v1.2_rc@${DIGEST_A}`])('accepts image %s', (image) => {
    expect(accept((m) => (m.deployments[0].image = image)).deployments[0]?.image).toBe(image);
  });

  it.each([
    ['servedContext', 0, 'expected an integer ≥ 1, got 0'],
    ['servedContext', 10_000_001, 'expected an integer ≤ 10000000, got 10000001'],
    ['slots', 257, 'expected an integer ≤ 256, got 257'],
    ['slots', 2.5, 'expected an integer, got number 2.5'],
    ['engineVersion', '', 'expected a non-empty string, got ""']
  ])('rejects deployment %s %j', (field, value, message) => {
    expect(reject((m) => (m.deployments[0][field] = value))).toEqual([{ path: `deployments[0].${field}`, message }]);
  });
});

describe('RunnerManifest: prices', () => {
  const price = (value: unknown) =>
    safeValidateRunnerManifest({
      ...runner(),
      deployments: [{ ...deployment(DIGEST_A), price: { inputPerMillion: value, outputPerMillion: 0 } }]
    });

  it.each([
    [0, 0n],
    [1000, 1000n],
    ['1000', 1000n],
    ['100000000000000', PRICE_PER_MILLION_MAX],
    [5n, 5n]
  ])('parses %s as the bigint %s', (value, expected) => {
    const result = price(value);
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(result.manifest.deployments[0]?.price).toEqual({ inputPerMillion: expected, outputPerMillion: 0n });
  });

  it.each([
    [-1, 'expected a non-negative integer, got -1'],
    [1.5, 'expected a non-negative integer, got 1.5'],
    ['1.5', 'expected a non-negative integer as a decimal string of at most 20 digits, got "1.5"'],
    ['-7', 'expected a non-negative integer as a decimal string of at most 20 digits, got "-7"'],
    ['1e3', 'expected a non-negative integer as a decimal string of at most 20 digits, got "1e3"'],
    ['18446744073709551616', 'expected an integer ≤ 18446744073709551615, got "18446744073709551616"'],
    ['18446744073709551615', 'expected a price per million tokens between 0 and 100000000000000, got 18446744073709551615'],
    ['100000000000001', 'expected a price per million tokens between 0 and 100000000000000, got 100000000000001'],
    [
      2 ** 60,
      'expected a non-negative integer ≤ 9007199254740991 as a number (write larger amounts as a decimal string), got 1152921504606847000'
    ],
    [true, 'expected a non-negative integer (number or decimal string), got true'],
    [undefined, 'expected a non-negative integer (number or decimal string), got nothing']
  ])('rejects %j', (value, message) => {
    const result = price(value);
    expect(result.ok ? [] : result.issues).toEqual([{ path: 'deployments[0].price.inputPerMillion', message }]);
  });
});
