import { z } from 'zod';

/**
 * The request bodies the gateway accepts, validated before any work (a mismatch is a 400 naming the field). Unknown
 * OpenAI parameters (temperature, top_p, stop, seed, response_format, tools, …) pass through to the runner's engine;
 * the gateway's own fields (`provider`) do not.
 */

const MAX_TEXT = 1_000_000;
const MAX_MESSAGES = 1_000;
const SLUG = z.string().min(1).max(128);

/**
 * OpenRouter's `provider` object, where a provider is a runner (its principal), plus the registry's own filters. Prices
 * are e8s per million tokens (the registry's unit), not OpenRouter's dollars.
 */
export const ProviderPreferencesSchema = z.looseObject({
  /** Runners to try first, in this order. */
  order: z.array(SLUG).max(32).optional(),
  /** Only these runners. */
  only: z.array(SLUG).max(32).optional(),
  /** Never these runners. */
  ignore: z.array(SLUG).max(32).optional(),
  /** Accepted quantization methods of the model card (`Q4_K_M`, `awq`, …). */
  quantizations: z.array(z.string().min(1).max(32)).max(16).optional(),
  max_price: z.looseObject({ prompt: z.number().nonnegative().optional(), completion: z.number().nonnegative().optional() }).optional(),
  sort: z.enum(['price', 'latency', 'throughput']).optional(),
  /** false: only the first choice (or the `order` list) is tried. Default true. */
  allow_fallbacks: z.boolean().optional(),
  region: z.string().min(1).max(64).optional(),
  min_context: z.int().positive().optional(),
  min_bits: z.number().gt(0).max(32).optional(),
  engine: z.string().min(1).max(64).optional(),
  accelerator: z.string().min(1).max(32).optional(),
  capabilities: z.array(z.string().min(1).max(64)).max(16).optional(),
  confidential: z.boolean().optional(),
  digests: z
    .array(z.string().regex(/^sha256:[0-9a-f]{64}$/))
    .max(16)
    .optional()
});
export type ProviderPreferences = z.infer<typeof ProviderPreferencesSchema>;

const ContentPart = z.looseObject({ type: z.string().min(1).max(64) });
const MessageSchema = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: z.union([z.string().max(MAX_TEXT), z.array(ContentPart).max(256), z.null()]).optional()
});

const Common = {
  model: z.string().min(1).max(200),
  stream: z.boolean().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
  max_tokens: z.int().positive().max(1_000_000).nullish(),
  /** The affinity key (cache-friendly routing); the `x-deai-affinity` header takes precedence. */
  user: z.string().min(1).max(256).optional(),
  provider: ProviderPreferencesSchema.optional()
};

export const ChatCompletionRequestSchema = z.looseObject({
  ...Common,
  messages: z.array(MessageSchema).min(1).max(MAX_MESSAGES),
  max_completion_tokens: z.int().positive().max(1_000_000).nullish()
});
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequestSchema>;

export const CompletionRequestSchema = z.looseObject({
  ...Common,
  prompt: z.union([z.string().max(MAX_TEXT), z.array(z.string().max(MAX_TEXT)).min(1).max(64)])
});
export type CompletionRequest = z.infer<typeof CompletionRequestSchema>;

/** The usage OpenAI-compatible engines report (llama.cpp and vLLM). */
export const UsageSchema = z.looseObject({
  prompt_tokens: z.int().nonnegative(),
  completion_tokens: z.int().nonnegative()
});

/** An engine's error body, read for its message only. */
export const UpstreamErrorSchema = z.object({ error: z.looseObject({ message: z.string() }) });

/** The parts of a card's manifest (JSON) that /v1/models shows; the registry validated the whole at publish. */
export const CardFactsSchema = z.looseObject({
  modalities: z.object({ input: z.array(z.string()), output: z.array(z.string()) }).optional(),
  capabilities: z.array(z.string()).optional()
});
