import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RunnerError } from '../../../src/runner/errors.ts';
import { fileDigest, readGgufFacts } from '../../../src/runner/probes/gguf.ts';
import { probeHardware, type Hardware } from '../../../src/runner/probes/hardware.ts';
import { llamaCppProbe } from '../../../src/runner/probes/llamacpp.ts';
import type { ReadyProbe } from '../../../src/runner/probes/types.ts';
import { MEMORY_TOLERANCE, reconcileManifest, safeReconcileManifest, type ProbedFacts } from '../../../src/runner/reconcile.ts';
import { GGMLQuantizationType, llamaKv, writeGguf } from '../../support/gguf-file.ts';
import { startReplayServer, type ReplayServer } from '../../support/vllm-replay.ts';

const DIGEST_HEX = 'ab'.repeat(32);
const QWEN = 'Qwen/Qwen2.5-0.5B-Instruct';
const QWEN_DIGEST = `sha256:${'cd'.repeat(32)}`;
const PRICE = { inputPerMillion: 1000, outputPerMillion: 3000 };

const HARDWARE: Hardware = {
  accelerators: [{ class: 'gpu', vendor: 'nvidia', model: 'GeForce RTX 4090', memoryGiB: 23.99, count: 2 }],
  cpu: { cores: 16, architecture: 'x86_64' },
  ramGiB: 62.5
};

/** What the llama.cpp probe reports for the captured tiny-random-llama server. */
function llamaReady(changes: Partial<ReadyProbe> = {}, model: Record<string, unknown> = {}): ReadyProbe {
  return {
    status: 'ready',
    engine: 'llama.cpp',
    engineVersion: 'b1-80fb11a',
    models: [
      {
        id: 'tiny-random-llama',
        servedContext: 1024,
        trainedContext: 2048,
        parameters: 4202816,
        quantization: 'Q8_0',
        quantizationLabel: 'Q8_0',
        path: 'models/tiny-random-llama-q8_0.gguf',
        sizeBytes: 4466432,
        inputModalities: ['text'],
        ...model
      }
    ],
    slots: { total: 2, busy: 0 },
    load: { requestsRunning: 0, requestsWaiting: 0 },
    ...changes
  };
}

function vllmReady(): ReadyProbe {
  return {
    status: 'ready',
    engine: 'vllm',
    engineVersion: '0.11.0',
    models: [{ id: QWEN, servedContext: 32768, maxModelLen: 32768, path: QWEN }],
    load: { requestsRunning: 0, requestsWaiting: 0, kvCacheUsage: 0 }
  };
}

function ggufFacts(changes: Record<string, unknown> = {}): NonNullable<ProbedFacts['gguf']> {
  return {
    path: '/models/tiny-random-llama-q8_0.gguf',
    sizeBytes: 4466432,
    architecture: 'llama',
    contextLength: 2048,
    quantization: 'Q8_0',
    bitsPerWeight: 8.5,
    parameters: 4202816,
    name: 'tiny-random-llama',
    license: 'mit',
    digest: DIGEST_HEX,
    ...changes
  };
}

function probed(changes: Partial<ProbedFacts> = {}): ProbedFacts {
  return { hardware: HARDWARE, llama: llamaReady(), gguf: ggufFacts(), ...changes };
}

/** runner.yaml: one llama.cpp deployment, everything else added by the operator. */
function declared(deploymentChanges: Record<string, unknown> = {}, changes: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    operator: 'aaaaa-aa',
    region: 'eu-west',
    endpoint: 'https://runner.example.org',
    deployments: [{ model: { id: 'deai-test/tiny-random-llama' }, price: PRICE, card: { version: '1.0.0' }, ...deploymentChanges }],
    ...changes
  };
}

function contradictions(declaredManifest: unknown, facts: ProbedFacts) {
  const result = safeReconcileManifest(declaredManifest, facts);
  expect(result.ok).toBe(false);
  if (result.ok) throw new Error('unreachable');
  expect(result.code).toBe('ManifestContradictsProbe');
  return result.issues;
}

function problems(declaredManifest: unknown, facts: ProbedFacts) {
  const result = safeReconcileManifest(declaredManifest, facts);
  expect(result.ok).toBe(false);
  if (result.ok) throw new Error('unreachable');
  expect(result.code).toBe('ManifestInvalid');
  return result.issues;
}

describe('reconcileManifest: measured facts win, additions are kept', () => {
  it('builds the runner manifest and the model card from the probes', () => {
    const result = safeReconcileManifest(declared(), probed());
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.manifest).toEqual({
      apiVersion: 'deai.dev/v1',
      kind: 'RunnerManifest',
      operator: 'aaaaa-aa',
      endpoint: 'https://runner.example.org',
      region: 'eu-west',
      hardware: HARDWARE,
      confidential: { kind: 'none' },
      deployments: [
        {
          model: { id: 'deai-test/tiny-random-llama', digest: `sha256:${DIGEST_HEX}` },
          engine: 'llama.cpp',
          engineVersion: 'b1-80fb11a',
          apiDialect: 'openai',
          servedContext: 1024,
          slots: 2,
          price: { inputPerMillion: 1000n, outputPerMillion: 3000n }
        }
      ]
    });
    expect(result.cards).toEqual([
      {
        apiVersion: 'deai.dev/v1',
        kind: 'ModelCard',
        id: 'deai-test/tiny-random-llama',
        version: '1.0.0',
        family: 'llama',
        architecture: 'llama',
        parameters: { total: 4202816 },
        format: 'gguf',
        quantization: { method: 'Q8_0', bits: 8.5, label: 'Q8_0' },
        contextLength: 2048,
        modalities: { input: ['text'], output: ['text'] },
        capabilities: [],
        license: 'mit',
        digest: `sha256:${DIGEST_HEX}`
      }
    ]);
  });

  it('accepts claims that agree with the probes', () => {
    const result = safeReconcileManifest(
      declared(
        {
          quantization: 'Q8_0',
          contextLength: 2048,
          parameters: 4202816,
          architecture: 'llama',
          engine: 'llama.cpp',
          engineVersion: 'b1-80fb11a',
          model: { id: 'deai-test/tiny-random-llama', digest: `sha256:${DIGEST_HEX}` }
        },
        {
          hardware: {
            accelerators: [{ class: 'gpu', vendor: 'NVIDIA', model: 'RTX 4090', memoryGiB: 24, count: 2 }],
            cpu: { cores: 16, architecture: 'x86_64' },
            // A "64 GiB" machine reports 62.5 GiB usable.
            ramGiB: 64
          }
        }
      ),
      probed()
    );
    expect(result.ok).toBe(true);
  });

  it('keeps what no probe can see: analog and NPU accelerators, GPU TOPS and watts, image, confidential, dialect, card fields', () => {
    const result = safeReconcileManifest(
      declared(
        {
          apiDialect: 'llama.cpp',
          image: `ghcr.io/ggml-org/llama.cpp:server@sha256:${'ef'.repeat(32)}`,
          servedContext: 512,
          slots: 1,
          card: {
            version: '2',
            family: 'tiny-llama',
            license: 'apache-2.0',
            capabilities: ['json_schema'],
            base: { id: 'deai-test/tiny-base', relation: 'quantized' }
          }
        },
        {
          confidential: { kind: 'sev-snp', evidenceDigest: `sha256:${'01'.repeat(32)}` },
          hardware: {
            accelerators: [
              { class: 'gpu', vendor: 'nvidia', model: 'RTX 4090', count: 2, peakTops: 1321, watts: 450 },
              { class: 'analog', vendor: 'mythic', model: 'M1076', memoryGiB: 0, count: 4, peakTops: 25 },
              { class: 'npu', vendor: 'hailo', model: 'Hailo-8' },
              { class: 'gpu', vendor: 'intel', model: 'Arc A770', memoryGiB: 16 }
            ]
          }
        }
      ),
      probed()
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.manifest.hardware.accelerators).toEqual([
      { class: 'gpu', vendor: 'nvidia', model: 'GeForce RTX 4090', memoryGiB: 23.99, count: 2, peakTops: 1321, watts: 450 },
      { class: 'analog', vendor: 'mythic', model: 'M1076', memoryGiB: 0, count: 4, peakTops: 25 },
      { class: 'npu', vendor: 'hailo', model: 'Hailo-8', memoryGiB: 0, count: 1 },
      { class: 'gpu', vendor: 'intel', model: 'Arc A770', memoryGiB: 16, count: 1 }
    ]);
    expect(result.manifest.confidential.kind).toBe('sev-snp');
    expect(result.manifest.deployments[0]).toMatchObject({ apiDialect: 'llama.cpp', servedContext: 512, slots: 1 });
    expect(result.manifest.deployments[0]?.image).toMatch(/^ghcr\.io/);
    expect(result.cards[0]).toMatchObject({
      version: '2',
      family: 'tiny-llama',
      license: 'apache-2.0',
      capabilities: ['json_schema'],
      base: { id: 'deai-test/tiny-base' }
    });
  });

  it("registers a vLLM deployment with the operator's model reference and slot count", () => {
    const result = safeReconcileManifest(
      declared({}, { deployments: [{ engine: 'vllm', model: { id: QWEN, digest: QWEN_DIGEST }, slots: 64, price: PRICE }] }),
      probed({ llama: undefined, gguf: undefined, vllm: vllmReady() })
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.manifest.deployments).toEqual([
      {
        model: { id: QWEN, digest: QWEN_DIGEST },
        engine: 'vllm',
        engineVersion: '0.11.0',
        apiDialect: 'openai',
        servedContext: 32768,
        slots: 64,
        price: { inputPerMillion: 1000n, outputPerMillion: 3000n }
      }
    ]);
    expect(result.cards).toEqual([]);
  });

  it('serves both engines at once, one card for the GGUF model', () => {
    const result = safeReconcileManifest(
      declared(
        {},
        {
          deployments: [
            { engine: 'llama.cpp', model: { id: 'deai-test/tiny-random-llama' }, price: PRICE, card: { version: '1' } },
            { engine: 'vllm', model: { id: QWEN, digest: QWEN_DIGEST }, slots: 8, price: PRICE }
          ]
        }
      ),
      probed({ vllm: vllmReady() })
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.manifest.deployments.map((d) => d.engine)).toEqual(['llama.cpp', 'vllm']);
    expect(result.cards).toHaveLength(1);
  });

  it('uses the llama-server alias as the model id when the operator names none and it is an org/name', () => {
    const result = safeReconcileManifest(
      declared({ model: undefined }),
      probed({ llama: llamaReady({}, { id: 'deai-test/alias-model' }) })
    );
    expect(result.ok && result.manifest.deployments[0]?.model.id).toBe('deai-test/alias-model');
  });

  it('lists image input on the card when llama-server has a vision projector', () => {
    const result = safeReconcileManifest(
      declared({ card: { version: '1', modalities: { input: ['text', 'image'], output: ['text'] } } }),
      probed({ llama: llamaReady({}, { inputModalities: ['text', 'image'] }) })
    );
    expect(result.ok && result.cards[0]?.modalities).toEqual({ input: ['text', 'image'], output: ['text'] });
  });

  it('caps a served context stretched past the trained one, which the registry would refuse', () => {
    const { manifest, cards } = reconcileManifest(declared(), probed({ llama: llamaReady({}, { servedContext: 8192 }) }));
    expect(manifest.deployments[0]?.servedContext).toBe(2048);
    expect(cards[0]?.contextLength).toBe(2048);
  });

  it('returns the manifest from the throwing form too', () => {
    const { manifest, cards } = reconcileManifest(declared(), probed());
    expect(manifest.deployments).toHaveLength(1);
    expect(cards).toHaveLength(1);
  });
});

describe('reconcileManifest: refusing contradictions', () => {
  it('refuses a declared Q8_0 when the file is Q4_K_M', () => {
    const issues = contradictions(
      declared({ quantization: 'Q8_0' }),
      probed({
        gguf: ggufFacts({ quantization: 'Q4_K_M', bitsPerWeight: 4.85 }),
        llama: llamaReady({}, { quantization: 'Q4_K_M', quantizationLabel: 'Q4_K - Medium' })
      })
    );
    expect(issues).toEqual([
      { path: 'deployments[0].quantization', declared: 'Q8_0', probed: 'Q4_K_M', message: 'the GGUF file says Q4_K_M' }
    ]);
  });

  it('throws a RunnerError carrying the contradictions from the throwing form', () => {
    const error: unknown = (() => {
      try {
        reconcileManifest(
          declared({ quantization: 'Q8_0' }),
          probed({ gguf: ggufFacts({ quantization: 'Q4_K_M' }), llama: llamaReady({}, { quantization: 'Q4_K_M' }) })
        );
      } catch (thrown) {
        return thrown;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(RunnerError);
    if (!(error instanceof RunnerError)) return;
    expect(error.code).toBe('ManifestContradictsProbe');
    expect(error.retryable).toBe(false);
    expect(error.issues).toEqual([expect.objectContaining({ path: 'deployments[0].quantization', declared: 'Q8_0', probed: 'Q4_K_M' })]);
    expect(error.message).toContain('deployments[0].quantization: the GGUF file says Q4_K_M');
  });

  const llamaDown = (status: 'loading' | 'unreachable' | 'malformed'): ProbedFacts['llama'] => {
    if (status === 'loading') return { status, engine: 'llama.cpp' };
    if (status === 'malformed') return { status, engine: 'llama.cpp', endpoint: '/props', issues: [] };
    return { status, engine: 'llama.cpp', error: new RunnerError('EngineUnreachable', 'GET http://127.0.0.1:1/health: fetch failed') };
  };

  it.each<
    [string, Record<string, unknown>, Record<string, unknown>, Partial<ProbedFacts>, { path: string; declared: unknown; probed: unknown }]
  >([
    [
      'an engine that is not running',
      { engine: 'vllm' },
      {},
      {},
      { path: 'deployments[0].engine', declared: 'vllm', probed: 'not probed' }
    ],
    [
      'an engine still loading',
      { engine: 'llama.cpp' },
      {},
      { llama: llamaDown('loading') },
      { path: 'deployments[0].engine', declared: 'llama.cpp', probed: 'loading' }
    ],
    [
      'an unreachable engine',
      { engine: 'llama.cpp' },
      {},
      { llama: llamaDown('unreachable') },
      { path: 'deployments[0].engine', declared: 'llama.cpp', probed: 'unreachable (GET http://127.0.0.1:1/health: fetch failed)' }
    ],
    [
      'an engine answering garbage',
      { engine: 'llama.cpp' },
      {},
      { llama: llamaDown('malformed') },
      { path: 'deployments[0].engine', declared: 'llama.cpp', probed: 'malformed answer from /props' }
    ],
    ['an engine no probe reads', { engine: 'tgi' }, {}, {}, { path: 'deployments[0].engine', declared: 'tgi', probed: 'not probed' }],
    [
      'another engine version',
      { engineVersion: 'b4567' },
      {},
      {},
      { path: 'deployments[0].engineVersion', declared: 'b4567', probed: 'b1-80fb11a' }
    ],
    [
      'a dialect the engine does not speak',
      { apiDialect: 'tgi' },
      {},
      {},
      { path: 'deployments[0].apiDialect', declared: 'tgi', probed: 'openai | llama.cpp' }
    ],
    [
      'context beyond what is served',
      { servedContext: 4096 },
      {},
      {},
      { path: 'deployments[0].servedContext', declared: 4096, probed: 1024 }
    ],
    ['more slots than the server has', { slots: 8 }, {}, {}, { path: 'deployments[0].slots', declared: 8, probed: 2 }],
    [
      'another trained context',
      { contextLength: 131072 },
      {},
      {},
      { path: 'deployments[0].contextLength', declared: 131072, probed: 2048 }
    ],
    [
      'another parameter count',
      { parameters: 8030261248 },
      {},
      {},
      { path: 'deployments[0].parameters', declared: 8030261248, probed: 4202816 }
    ],
    [
      'another architecture',
      { architecture: 'qwen2' },
      {},
      {},
      { path: 'deployments[0].architecture', declared: 'qwen2', probed: 'llama' }
    ],
    [
      'another weights digest',
      { model: { id: 'deai-test/x', digest: `sha256:${'00'.repeat(32)}` } },
      {},
      {},
      { path: 'deployments[0].model.digest', declared: `sha256:${'00'.repeat(32)}`, probed: `sha256:${DIGEST_HEX}` }
    ],
    [
      'an input modality without a projector',
      { card: { version: '1', modalities: { input: ['text', 'image'], output: ['text'] } } },
      {},
      {},
      { path: 'deployments[0].card.modalities.input', declared: ['text', 'image'], probed: ['text'] }
    ],
    [
      'a GGUF file other than the one served',
      {},
      {},
      { gguf: ggufFacts({ quantization: 'Q4_0' }) },
      { path: 'gguf.quantization', declared: 'Q4_0', probed: 'Q8_0' }
    ],
    [
      'a GGUF file of another size than the one served',
      {},
      {},
      { gguf: ggufFacts({ parameters: 24407712 }) },
      { path: 'gguf.parameters', declared: 24407712, probed: 4202816 }
    ],
    [
      'a vLLM model that is not served',
      { engine: 'vllm', model: { id: 'meta-llama/Llama-3.1-8B', digest: QWEN_DIGEST }, slots: 4, card: undefined },
      {},
      { vllm: vllmReady() },
      { path: 'deployments[0].model.id', declared: 'meta-llama/Llama-3.1-8B', probed: QWEN }
    ],
    [
      'another CPU architecture',
      {},
      { hardware: { cpu: { architecture: 'aarch64' } } },
      {},
      { path: 'hardware.cpu.architecture', declared: 'aarch64', probed: 'x86_64' }
    ],
    ['more CPU cores', {}, { hardware: { cpu: { cores: 64 } } }, {}, { path: 'hardware.cpu.cores', declared: 64, probed: 16 }],
    ['more RAM than the tolerance allows', {}, { hardware: { ramGiB: 128 } }, {}, { path: 'hardware.ramGiB', declared: 128, probed: 62.5 }],
    [
      'a GPU that is not there',
      {},
      { hardware: { accelerators: [{ class: 'gpu', vendor: 'nvidia', model: 'H100', memoryGiB: 80 }] } },
      {},
      { path: 'hardware.accelerators[0]', declared: '1× nvidia H100 80 GiB', probed: '2× nvidia GeForce RTX 4090 23.99 GiB' }
    ],
    [
      'more GPUs than present',
      {},
      { hardware: { accelerators: [{ class: 'gpu', vendor: 'nvidia', model: 'RTX 4090', count: 4 }] } },
      {},
      { path: 'hardware.accelerators[0].count', declared: 4, probed: 2 }
    ],
    [
      'more GPU memory than present',
      {},
      { hardware: { accelerators: [{ class: 'gpu', vendor: 'nvidia', model: 'RTX 4090', memoryGiB: 48, count: 2 }] } },
      {},
      { path: 'hardware.accelerators[0].memoryGiB', declared: 48, probed: 23.99 }
    ],
    [
      'an AMD GPU on an NVIDIA machine',
      {},
      { hardware: { accelerators: [{ class: 'gpu', vendor: 'amd', model: 'RTX 4090' }] } },
      {},
      { path: 'hardware.accelerators[0]', declared: '1× amd RTX 4090', probed: '2× nvidia GeForce RTX 4090 23.99 GiB' }
    ]
  ])('refuses %s', (_name, deploymentChanges, manifestChanges, factChanges, expected) => {
    const issues = contradictions(declared(deploymentChanges, manifestChanges), probed(factChanges));
    expect(issues).toEqual([expect.objectContaining(expected)]);
    expect(issues[0]?.message.length).toBeGreaterThan(0);
  });

  it('refuses GPUs on a machine without any', () => {
    const issues = contradictions(
      declared({}, { hardware: { accelerators: [{ class: 'gpu', vendor: 'nvidia', model: 'RTX 4090' }] } }),
      probed({ hardware: { ...HARDWARE, accelerators: [] } })
    );
    expect(issues).toEqual([expect.objectContaining({ path: 'hardware.accelerators[0]', probed: 'no GPU' })]);
  });

  it('counts GPUs across declared entries of the same model', () => {
    const issues = contradictions(
      declared(
        {},
        {
          hardware: {
            accelerators: [
              { class: 'gpu', vendor: 'nvidia', model: 'RTX 4090', count: 2 },
              { class: 'gpu', vendor: 'nvidia', model: '4090', count: 1 }
            ]
          }
        }
      ),
      probed()
    );
    expect(issues).toEqual([expect.objectContaining({ path: 'hardware.accelerators[1].count', declared: 1, probed: 0 })]);
  });

  it('allows RAM within the tolerance for what the OS reserves', () => {
    const ramGiB = Math.floor(HARDWARE.ramGiB * (1 + MEMORY_TOLERANCE));
    expect(safeReconcileManifest(declared({}, { hardware: { ramGiB } }), probed()).ok).toBe(true);
  });

  it('lists every contradiction at once', () => {
    const issues = contradictions(
      declared(
        { quantization: 'Q4_K_M', servedContext: 8192, engineVersion: 'b9999', slots: 16 },
        { hardware: { ramGiB: 512, cpu: { cores: 128, architecture: 'aarch64' } } }
      ),
      probed()
    );
    expect(issues.map((issue) => issue.path).sort()).toEqual([
      'deployments[0].engineVersion',
      'deployments[0].quantization',
      'deployments[0].servedContext',
      'deployments[0].slots',
      'hardware.cpu.architecture',
      'hardware.cpu.cores',
      'hardware.ramGiB'
    ]);
  });
});

describe('reconcileManifest: invalid declarations', () => {
  it('rejects a declaration that is not an object', () => {
    expect(problems('deployments: []', probed())).toEqual([{ path: '', message: expect.stringMatching(/^expected an object/) }]);
  });

  it('rejects an unknown field with a suggestion', () => {
    const issues = problems(declared({ served_context: 4096 }), probed());
    expect(issues).toEqual([{ path: 'deployments[0].served_context', message: expect.stringContaining('did you mean servedContext?') }]);
  });

  it('rejects a declaration without deployments', () => {
    expect(problems(declared({}, { deployments: [] }), probed())[0]?.path).toBe('deployments');
  });

  it('reports what the core schema misses in the merged manifest (price, operator)', () => {
    const issues = problems(declared({ price: undefined }, { operator: undefined }), probed());
    expect(issues.map((issue) => issue.path).sort()).toEqual(['deployments[0].price', 'operator']);
  });

  it('reports card fields neither the file nor the operator gives, under the deployment', () => {
    const issues = problems(declared({ card: {} }), probed({ gguf: ggufFacts({ license: undefined }) }));
    expect(issues.map((issue) => issue.path).sort()).toEqual(['deployments[0].card.license', 'deployments[0].card.version']);
  });

  it('rejects an alias that is not an org/name model id when the operator names none', () => {
    const issues = problems(declared({ model: undefined }), probed());
    expect(issues.map((issue) => issue.path)).toEqual(['deployments[0].card.id', 'deployments[0].model.id']);
  });

  it('needs the GGUF file for a llama.cpp deployment', () => {
    const issues = problems(declared(), probed({ gguf: undefined }));
    expect(issues).toEqual([{ path: 'deployments[0].model', message: expect.stringContaining('no GGUF file was probed') }]);
  });

  it('needs a slot count for a vLLM deployment', () => {
    const issues = problems(
      declared({}, { deployments: [{ engine: 'vllm', model: { id: QWEN, digest: QWEN_DIGEST }, price: PRICE }] }),
      probed({ vllm: vllmReady() })
    );
    expect(issues).toEqual([{ path: 'deployments[0].slots', message: expect.stringContaining('vllm reports no slot count') }]);
  });

  it('rejects GGUF claims on a vLLM deployment, which nothing can check', () => {
    const issues = problems(
      declared(
        {},
        { deployments: [{ engine: 'vllm', model: { id: QWEN, digest: QWEN_DIGEST }, slots: 4, price: PRICE, quantization: 'awq' }] }
      ),
      probed({ vllm: vllmReady() })
    );
    expect(issues).toEqual([{ path: 'deployments[0].quantization', message: expect.stringContaining('cannot be checked') }]);
  });

  it('needs the engine named when two engines were probed', () => {
    const issues = problems(declared(), probed({ vllm: vllmReady() }));
    expect(issues).toEqual([{ path: 'deployments[0].engine', message: expect.stringContaining('2 engines were probed') }]);
  });

  it('throws a RunnerError ManifestInvalid from the throwing form', () => {
    expect(() => reconcileManifest({}, probed())).toThrow(RunnerError);
    expect(() => reconcileManifest({}, probed())).toThrow(/invalid runner manifest/);
  });
});

describe('reconcileManifest on real probe output', () => {
  let dir: string | undefined;
  let server: ReplayServer | undefined;

  afterEach(async () => {
    await server?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    server = undefined;
    dir = undefined;
  });

  it('registers what the llama.cpp probe, the GGUF file and the hardware probe measured', async () => {
    const fixtures = join(import.meta.dirname, '..', '..', 'fixtures', 'llamacpp');
    const body = (name: string) => readFile(join(fixtures, name), 'utf8');
    server = await startReplayServer({
      '/health': { body: await body('health.json') },
      '/props': { body: await body('props.json') },
      '/v1/models': { body: await body('v1_models.json') },
      '/slots': { body: await body('slots_busy.json') },
      '/metrics': { body: await body('metrics_busy.txt') }
    });
    dir = await mkdtemp(join(tmpdir(), 'deai-reconcile-'));
    // Same shape as the served model: 4,202,816 Q8_0 weights, context 2048.
    const path = join(dir, 'tiny-random-llama-q8_0.gguf');
    await writeGguf(path, llamaKv(), [{ name: 'token_embd.weight', shape: [64, 65669], dtype: GGMLQuantizationType.Q8_0 }]);

    const [llama, gguf, digest, hardware] = await Promise.all([
      llamaCppProbe({ baseUrl: server.url }).probe(),
      readGgufFacts(path),
      fileDigest(path, join(dir, 'digests.json')),
      probeHardware({
        run: async (file) =>
          file === 'nvidia-smi'
            ? 'NVIDIA GeForce RTX 4090, 24564\n'
            : Promise.reject(Object.assign(new Error('ENOENT'), { code: 'ENOENT' })),
        readText: async () => 'model name\t: Test CPU\nflags\t: avx2\n',
        system: { arch: 'x64', logicalCores: 2, totalMemBytes: 24 * 1024 ** 3 }
      })
    ]);
    const { manifest, cards } = reconcileManifest(
      declared(
        { quantization: 'Q8_0' },
        { hardware: { accelerators: [{ class: 'gpu', vendor: 'nvidia', model: 'RTX 4090', watts: 450 }] } }
      ),
      { hardware: hardware.hardware, llama, gguf: { ...gguf, digest } }
    );
    expect(manifest.hardware).toEqual({
      accelerators: [{ class: 'gpu', vendor: 'nvidia', model: 'GeForce RTX 4090', memoryGiB: 23.99, count: 1, watts: 450 }],
      cpu: { cores: 2, architecture: 'x86_64' },
      ramGiB: 24
    });
    expect(manifest.deployments[0]).toMatchObject({
      engineVersion: 'b1-80fb11a',
      servedContext: 1024,
      slots: 2,
      model: { digest: `sha256:${digest}` }
    });
    expect(cards[0]).toMatchObject({
      parameters: { total: 4202816 },
      quantization: { method: 'Q8_0', bits: 8.5 },
      contextLength: 2048,
      digest: `sha256:${digest}`
    });
  });
});
