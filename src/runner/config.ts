import { readFileSync } from 'node:fs';

import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

import { RunnerError } from './errors.js';

export const MeteredConfigSchema = z.strictObject({
  enabled: z.boolean().default(true),
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65_535).default(8480),
  /** What the manifest advertises (a reverse proxy's URL); default `http://<host>:<port>`. */
  publicUrl: z.string().url().optional(),
  receiptsFile: z.string().min(1).default('.deai/runner-receipts.json'),
  /** Settle alone with a payer's latest receipt when the payer has not settled it this long. */
  settleAfterSeconds: z
    .number()
    .int()
    .min(10)
    .max(7 * 86_400)
    .default(600),
  /** A charge no receipt covers this long after it becomes the payer's debt (refused until it signs for it). */
  chargeAckSeconds: z.number().int().min(10).max(86_400).default(600),
  /** Most open connections to the metered endpoint. */
  maxConnections: z.number().int().min(1).max(1_000_000).default(1024),
  /** Most credit (e8s, decimal) and requests a payer may use on a line without a receipt covering them. */
  maxUnsignedE8s: z
    .string()
    .regex(/^\d{1,20}$/)
    .default('100000000'),
  maxUnsignedRequests: z.number().int().min(1).max(10_000).default(32)
});
export type MeteredConfig = z.infer<typeof MeteredConfigSchema>;

/**
 * `runner.yaml`: where the registry and the engine are, and the operator's partial manifest (what no probe can
 * see: price, region, endpoint, …). Precedence: flags > environment > file > defaults, resolved once here.
 */
export const RunnerConfigSchema = z.strictObject({
  network: z
    .strictObject({ host: z.string().url().default('http://127.0.0.1:4943'), registry: z.string().min(5).optional() })
    .default({ host: 'http://127.0.0.1:4943' }),
  identity: z.string().min(1).default('.deai/runner.pem'),
  engine: z.strictObject({
    kind: z.enum(['llama.cpp', 'vllm']),
    url: z.string().url(),
    /** The GGUF file llama-server serves: its header and sha256 become the model card. */
    modelPath: z.string().min(1).optional()
  }),
  manifest: z.record(z.string(), z.unknown()),
  heartbeatSeconds: z.number().int().min(5).max(3600).default(30),
  pollMs: z.number().int().min(50).max(60_000).default(1_000),
  /** A task's engine request is aborted this long before its lease ends (default: 5% of the lease, at least 2 s). */
  leaseMarginSeconds: z.number().min(0).max(3600).optional(),
  metricsPort: z.number().int().min(0).max(65_535).default(9464),
  stateFile: z.string().min(1).default('.deai/runner-state.json'),
  /**
   * The metered OpenAI endpoint the manifest advertises (README "Metered runner endpoint"). Bind the engine itself to
   * localhost: only this endpoint checks payers' signatures and credit.
   */
  metered: MeteredConfigSchema.prefault({})
});
export type RunnerConfig = z.infer<typeof RunnerConfigSchema>;

export interface RunnerOverrides {
  host?: string;
  registry?: string;
  identity?: string;
  engineUrl?: string;
  metricsPort?: number;
}

/** Reads and validates the config file, then applies environment (`DEAI_HOST`, `DEAI_REGISTRY`) and flags. */
export function loadRunnerConfig(
  path: string,
  overrides: RunnerOverrides = {},
  env: Record<string, string | undefined> = {}
): RunnerConfig {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new RunnerError(
      'ManifestInvalid',
      `${path}: cannot read the runner configuration: ${error instanceof Error ? error.message : String(error)}`
    );
  }
  const parsed = RunnerConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new RunnerError('ManifestInvalid', [`${path}: invalid runner configuration:`, ...lines].join('\n'));
  }
  const config = parsed.data;
  const host = overrides.host ?? env.DEAI_HOST ?? config.network.host;
  const registry = overrides.registry ?? env.DEAI_REGISTRY ?? config.network.registry;
  return {
    ...config,
    network: registry === undefined ? { host } : { host, registry },
    identity: overrides.identity ?? config.identity,
    engine: overrides.engineUrl === undefined ? config.engine : { ...config.engine, url: overrides.engineUrl },
    metricsPort: overrides.metricsPort ?? config.metricsPort
  };
}
