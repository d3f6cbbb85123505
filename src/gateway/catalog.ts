import type { ModelFilter, PublishedModel, RunnerCandidate, RunnerRequest } from '../sdk/index.js';
import { GatewayError } from './errors.js';
import { CardFactsSchema } from './schemas.js';

/** What the gateway reads from the registry (DeaiClient has both). */
export interface GatewayRegistry {
  listModels(filter?: ModelFilter): Promise<PublishedModel[]>;
  findRunners(request: RunnerRequest): Promise<RunnerCandidate[]>;
}

const CARDS_TTL_MS = 10_000;
/** Cards older than CARDS_TTL_MS are served this long while read again in the background (then read first). */
const CARDS_STALE_MS = 30_000;
/** A card missing from the cache is looked up again at most this often (a flood of unknown ids costs one read). */
const CARDS_MISS_REFRESH_MS = 1_000;
/** Discovery answers are reused this long: a runner's state moves at heartbeat pace, requests much faster. */
const CANDIDATES_TTL_MS = 1_000;
/**
 * An answer older than CANDIDATES_TTL_MS is served this long while the registry is asked again in the background, so
 * no request waits on the registry once warm (a runner that fails is failed over, and its failure forgets all answers).
 */
const CANDIDATES_STALE_MS = 10_000;
const MAX_CACHED_REQUESTS = 1_000;
/** GET /v1/models is built at most this often, whoever asks (it asks the registry once per published card). */
const MODELS_TTL_MS = 10_000;
/** Registry queries in flight at once while the models list is built. */
const MODELS_CONCURRENCY = 8;

const stableJson = (value: unknown): string => JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

/** The registry as the gateway needs it: published cards and live runners, cached briefly. */
export class Catalog {
  private cards: { atMs: number; byId: Map<string, PublishedModel> } | undefined;
  private cardsRefreshing: Promise<unknown> | undefined;
  private readonly candidates = new Map<string, { atMs: number; value: Promise<RunnerCandidate[]>; refreshing?: boolean }>();
  private models: { atMs: number; value: Promise<Record<string, unknown>[]> } | undefined;

  constructor(
    private readonly registry: GatewayRegistry,
    private readonly nowMs: () => number = () => performance.now()
  ) {}

  /** The published (not deprecated) card `id`; throws GatewayError ModelNotFound. */
  async card(id: string): Promise<PublishedModel> {
    let cards = await this.publishedCards();
    if (!cards.has(id) && this.nowMs() - (this.cards?.atMs ?? 0) > CARDS_MISS_REFRESH_MS) cards = await this.publishedCards(true);
    const card = cards.get(id);
    if (card === undefined)
      throw new GatewayError('ModelNotFound', `The model ${id} does not exist (see GET /v1/models)`, { details: { param: 'model' } });
    return card;
  }

  async publishedCards(refresh = false): Promise<Map<string, PublishedModel>> {
    const cached = this.cards;
    const ageMs = cached === undefined ? Infinity : this.nowMs() - cached.atMs;
    if (!refresh && cached !== undefined && ageMs < CARDS_TTL_MS) return cached.byId;
    if (!refresh && cached !== undefined && ageMs < CARDS_STALE_MS) {
      this.cardsRefreshing ??= this.readCards()
        .catch(() => undefined)
        .finally(() => (this.cardsRefreshing = undefined));
      return cached.byId;
    }
    return this.readCards();
  }

  private async readCards(): Promise<Map<string, PublishedModel>> {
    const atMs = this.nowMs();
    const listed = await this.read(() => this.registry.listModels());
    const byId = new Map<string, PublishedModel>();
    // Several versions of one id: the registry lists the latest first; deprecated cards are not offered.
    for (const card of listed) if (card.deprecated === undefined && !byId.has(card.id)) byId.set(card.id, card);
    if (this.cards === undefined || this.cards.atMs <= atMs) this.cards = { atMs, byId };
    return byId;
  }

  /** The registry's live runners for `request`: stale-while-revalidate (CANDIDATES_TTL_MS, CANDIDATES_STALE_MS). */
  async findRunners(request: RunnerRequest): Promise<RunnerCandidate[]> {
    const key = stableJson(request);
    const cached = this.candidates.get(key);
    const ageMs = cached === undefined ? Infinity : this.nowMs() - cached.atMs;
    if (cached !== undefined && ageMs < CANDIDATES_TTL_MS) return cached.value;
    if (cached !== undefined && ageMs < CANDIDATES_STALE_MS) {
      if (cached.refreshing !== true) {
        cached.refreshing = true;
        const atMs = this.nowMs();
        const next = this.read(() => this.registry.findRunners(request));
        next.then(
          () => {
            // Unless forgotten meanwhile (a runner failed): then the next request asks the registry itself.
            if (this.candidates.get(key) === cached) this.candidates.set(key, { atMs, value: next });
          },
          () => (cached.refreshing = false)
        );
      }
      return cached.value;
    }
    // The oldest answer makes room (Map order is insertion order): never all, so no caller can empty the cache.
    if (this.candidates.size >= MAX_CACHED_REQUESTS) {
      const oldest = this.candidates.keys().next();
      if (oldest.done !== true) this.candidates.delete(oldest.value);
    }
    const value = this.read(() => this.registry.findRunners(request));
    const entry = { atMs: this.nowMs(), value };
    this.candidates.set(key, entry);
    value.catch(() => {
      if (this.candidates.get(key) === entry) this.candidates.delete(key);
    });
    return value;
  }

  /**
   * GET /v1/models' entries: the published cards with a live runner, built at most once per MODELS_TTL_MS (one build
   * at a time, shared by every caller) by asking the registry per card, MODELS_CONCURRENCY at a time, outside the
   * completions' discovery cache (which it would otherwise flood).
   */
  async liveModels(): Promise<Record<string, unknown>[]> {
    const cached = this.models;
    if (cached !== undefined && this.nowMs() - cached.atMs < MODELS_TTL_MS) return cached.value;
    const entry = { atMs: this.nowMs(), value: this.buildModels() };
    this.models = entry;
    entry.value.catch(() => {
      if (this.models === entry) this.models = undefined;
    });
    return entry.value;
  }

  private async buildModels(): Promise<Record<string, unknown>[]> {
    const cards = [...(await this.publishedCards()).values()];
    const entries: (Record<string, unknown> | undefined)[] = new Array(cards.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < cards.length; i = next++) {
        const card = cards[i] as PublishedModel;
        const runners = (await this.read(() => this.registry.findRunners({ model: card.id, endpointRequired: true, limit: 100 }))).filter(
          (c) => c.endpoint !== undefined
        );
        entries[i] = runners.length === 0 ? undefined : modelEntry(card, runners);
      }
    };
    await Promise.all(Array.from({ length: Math.min(MODELS_CONCURRENCY, cards.length) }, worker));
    return entries.filter((e) => e !== undefined);
  }

  /** Forgets discovery answers (after a runner failed, so the next request sees the registry's news). */
  forgetRunners(): void {
    this.candidates.clear();
  }

  private async read<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw new GatewayError(
        'RegistryUnavailable',
        `The registry could not be read: ${error instanceof Error ? error.message : String(error)}`,
        {
          cause: error
        }
      );
    }
  }
}

/** e8s per million tokens as DEAI per token, exact decimal text (OpenRouter gives dollars per token as text). */
export function perTokenPrice(perMillionE8s: bigint): string {
  const digits = perMillionE8s.toString().padStart(15, '0');
  const whole = digits.slice(0, -14).replace(/^0+(?=\d)/, '');
  const fraction = digits.slice(-14).replace(/0+$/, '');
  return fraction === '' ? whole : `${whole}.${fraction}`;
}

/** One entry of GET /v1/models: OpenAI's model object with OpenRouter's fields, prices from the cheapest live runner. */
export function modelEntry(card: PublishedModel, runners: readonly RunnerCandidate[]): Record<string, unknown> {
  const facts = CardFactsSchema.safeParse(safeJson(card.manifestJson));
  const input = facts.success ? (facts.data.modalities?.input ?? ['text']) : ['text'];
  const output = facts.success ? (facts.data.modalities?.output ?? ['text']) : ['text'];
  const cheapest = [...runners].sort((a, b) =>
    Number(a.inputPricePerMillion + a.outputPricePerMillion - (b.inputPricePerMillion + b.outputPricePerMillion))
  )[0];
  const prompt = cheapest?.inputPricePerMillion ?? 0n;
  const completion = cheapest?.outputPricePerMillion ?? 0n;
  const contextLength = Number(card.contextLength);
  return {
    id: card.id,
    object: 'model',
    created: 0,
    owned_by: card.publishedBy,
    name: card.id,
    context_length: contextLength,
    architecture: {
      modality: `${input.join('+')}->${output.join('+')}`,
      input_modalities: input,
      output_modalities: output,
      tokenizer: card.family,
      instruct_type: null
    },
    pricing: { prompt: perTokenPrice(prompt), completion: perTokenPrice(completion), request: '0', image: '0' },
    top_provider: { context_length: contextLength, max_completion_tokens: null, is_moderated: false },
    per_request_limits: null,
    supported_parameters: ['max_tokens', 'temperature', 'top_p', 'stop', 'seed', 'stream', 'provider', 'user'],
    quantization: card.quantization,
    deai: {
      digest: card.digest,
      version: card.version,
      family: card.family,
      architecture: card.architecture,
      bits: card.bits,
      capabilities: facts.success ? (facts.data.capabilities ?? []) : [],
      runners: runners.length,
      currency: 'DEAI',
      pricing_e8s_per_million: { prompt: prompt.toString(), completion: completion.toString() }
    }
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
