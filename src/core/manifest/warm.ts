import { safeValidateModelCard, safeValidateRunnerManifest } from './validate.ts';

const DIGEST = `sha256:${'0'.repeat(64)}`;
const PRINCIPAL = 'aaaaa-aa';

/** A card that visits every object schema of ModelCard (optional objects included). */
export const WARM_MODEL_CARD = {
  apiVersion: 'deai.dev/v1',
  kind: 'ModelCard',
  id: 'warm/warm-up',
  version: '1.0.0',
  family: 'llama',
  architecture: 'llama',
  base: { id: 'warm/base', relation: 'quantized' },
  parameters: { total: 2, active: 1 },
  format: 'gguf',
  quantization: { method: 'Q4_K_M', bits: 4.5, label: 'Q4_K_M' },
  contextLength: 2048,
  modalities: { input: ['text'], output: ['text'] },
  capabilities: ['tools'],
  license: 'apache-2.0',
  digest: DIGEST
} as const;

/** A runner manifest that visits every object schema of RunnerManifest (optional fields included). */
export const WARM_RUNNER_MANIFEST = {
  apiVersion: 'deai.dev/v1',
  kind: 'RunnerManifest',
  operator: PRINCIPAL,
  endpoint: 'https://runner.example.org',
  region: 'eu-west',
  hardware: {
    accelerators: [{ class: 'gpu', vendor: 'nvidia', model: 'RTX 4090', memoryGiB: 24, count: 1, peakTops: 1321, watts: 450 }],
    cpu: { cores: 16, architecture: 'x86_64' },
    ramGiB: 64
  },
  confidential: { kind: 'none' },
  deployments: [
    {
      model: { id: 'warm/warm-up', digest: DIGEST },
      engine: 'llama.cpp',
      engineVersion: 'b4567',
      apiDialect: 'openai',
      image: `ghcr.io/warm/warm-up:1@${DIGEST}`,
      servedContext: 2048,
      slots: 1,
      price: { inputPerMillion: 1, outputPerMillion: '1' },
      evidenceDigest: DIGEST
    }
  ]
} as const;

/**
 * Validates one card and one runner manifest, so that zod compiles its object schemas (zod 4 generates a checking
 * function per object schema on its first parse: ~70M instructions in a canister) at install rather than in the first
 * caller's message. Throws if an example stopped being valid, which a unit test guards.
 */
export function warmManifestValidators(): void {
  const card = safeValidateModelCard(WARM_MODEL_CARD);
  const runner = safeValidateRunnerManifest(WARM_RUNNER_MANIFEST);
  if (!card.ok || !runner.ok) throw new Error(`warm-up manifests are invalid: ${JSON.stringify([card, runner])}`);
}
