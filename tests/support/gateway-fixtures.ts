import type { UpstreamResponse, UpstreamSettlement } from '../../src/gateway/transport.ts';
import type { PublishedModel, RunnerCandidate } from '../../src/sdk/index.ts';

/** Posted prices (e8s per million tokens) of the runners the gateway's unit tests route to. */
export const TEST_PRICES = { inputPerMillion: 1_000_000n, outputPerMillion: 2_000_000n };

/** A published card as the gateway's catalog lists it. */
export const testCard = (id: string): PublishedModel => ({
  id,
  digest: `sha256:${'0'.repeat(64)}`,
  version: '1.0.0',
  family: 'llama',
  architecture: 'llama',
  format: 'gguf',
  quantization: 'Q4_K_M',
  bits: 4.5,
  contextLength: 4096n,
  publishedBy: 'aaaaa-aa',
  manifestJson: '{}'
});

/** A live runner of `model` at TEST_PRICES, ready with one free slot; `overrides` changes any field. */
export const testCandidate = (model: string, overrides: Partial<RunnerCandidate> = {}): RunnerCandidate => ({
  runner: 'only',
  endpoint: 'http://127.0.0.1:9',
  region: 'local',
  model: { id: model, digest: testCard(model).digest },
  engine: 'llama.cpp',
  state: 'ready',
  freeSlots: 1,
  score: 1,
  inputPricePerMillion: TEST_PRICES.inputPerMillion,
  outputPricePerMillion: TEST_PRICES.outputPerMillion,
  affinity: false,
  heartbeatAgeNs: 0n,
  breakdown: { load: 1, freshness: 1, price: 0.5, reputation: 0.5, latency: 0.5, efficiency: 0.5 },
  confidentialKind: 'none',
  confidentialVerified: false,
  servedContext: 4096n,
  ...overrides
});

/** A runner's whole answer, streamed as runners always are: one chunk of `content` that finishes it, charged `settlement`. */
export function streamedAnswer(content: string, settlement: UpstreamSettlement): UpstreamResponse {
  async function* chunks(): AsyncGenerator<Record<string, unknown>> {
    yield { object: 'chat.completion.chunk', choices: [{ index: 0, delta: { role: 'assistant', content }, finish_reason: 'stop' }] };
  }
  return { chunks: chunks(), settlement: Promise.resolve(settlement) };
}
