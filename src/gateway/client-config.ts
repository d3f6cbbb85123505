import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

import { z } from 'zod';

import type { KeyStore } from './keys.js';

/** Where `npm start` leaves what an OpenAI client needs: `{"baseURL": "http://127.0.0.1:<port>/v1", "apiKey": "<key>"}`. */
export const GATEWAY_CONFIG_FILE = '.deai/gateway.json';
/** The demo key's spend limit: 10 DEAI. */
export const DEMO_KEY_LIMIT_E8S = 1_000_000_000n;

const GatewayConfigSchema = z.object({ baseURL: z.string(), apiKey: z.string() });
export type GatewayClientConfig = z.infer<typeof GatewayConfigSchema>;

export function readGatewayConfig(file: string): GatewayClientConfig | undefined {
  try {
    const parsed = GatewayConfigSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The demo key: the one the config file already names while it is live and under its limit (keys are stored hashed,
 * so only the file that received a key can hand it out again), else a new one named `demo`.
 */
export function demoKey(keys: KeyStore, configFile: string): { apiKey: string; created: boolean } {
  const previous = readGatewayConfig(configFile)?.apiKey;
  const live = previous === undefined ? undefined : keys.authenticate(previous);
  if (previous !== undefined && live !== undefined && live.spentE8s < live.limitE8s) return { apiKey: previous, created: false };
  return { apiKey: keys.create({ name: 'demo', limitE8s: DEMO_KEY_LIMIT_E8S }).key, created: true };
}

export function writeGatewayConfig(file: string, config: GatewayClientConfig): void {
  mkdirSync(dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  renameSync(temp, file);
}
