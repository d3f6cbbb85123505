import { resolve } from 'node:path';

import { z } from 'zod';

import { demoKey, GATEWAY_CONFIG_FILE, writeGatewayConfig } from '../gateway/client-config.js';
import { DEFAULT_KEYS_FILE, KeyStore } from '../gateway/keys.js';
import { startGateway, type RunningGateway } from '../gateway/server.js';
import { DeaiClient } from '../sdk/index.js';
import type { Output } from './output.js';

const CheckAnswer = z.object({
  choices: z.array(z.object({ message: z.object({ content: z.string().nullish() }) })).min(1),
  usage: z.object({ prompt_tokens: z.number(), completion_tokens: z.number() })
});

export interface DemoGateway {
  gateway: RunningGateway;
  baseURL: string;
  apiKey: string;
  configFile: string;
  /** One chat completion through the gateway (when a runner was started): who answered, and the usage. */
  check?: { runner: string; content: string; promptTokens: number; completionTokens: number };
}

/**
 * `npm start`'s gateway: the OpenAI API on `port`, a demo key (the one `.deai/gateway.json` already holds while it is
 * live, else a new one), that file rewritten with the base URL and the key, and, with a runner up, one request.
 */
export async function startDemoGateway(options: {
  host: string;
  registryId: string;
  port: number;
  projectDir: string;
  model?: string;
  out: Output;
}): Promise<DemoGateway> {
  const client = await DeaiClient.connect({ host: options.host, registryId: options.registryId });
  const keys = new KeyStore(resolve(options.projectDir, DEFAULT_KEYS_FILE));
  const gateway = await startGateway({ registry: client, keys, port: options.port });
  const configFile = resolve(options.projectDir, GATEWAY_CONFIG_FILE);
  const { apiKey, created } = demoKey(keys, configFile);
  writeGatewayConfig(configFile, { baseURL: gateway.baseURL, apiKey });
  options.out.info(`Gateway: ${gateway.baseURL} (OpenAI-compatible), ${created ? 'new ' : ''}demo key in ${GATEWAY_CONFIG_FILE}`);
  const result: DemoGateway = { gateway, baseURL: gateway.baseURL, apiKey, configFile };
  if (options.model === undefined) return result;
  try {
    const response = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: options.model, messages: [{ role: 'user', content: 'Say hello.' }], max_tokens: 16, temperature: 0 })
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`HTTP ${response.status}: ${text.slice(0, 300)}`);
    const body = CheckAnswer.parse(JSON.parse(text));
    result.check = {
      runner: response.headers.get('x-deai-runner') ?? '',
      content: body.choices[0]?.message.content ?? '',
      promptTokens: body.usage.prompt_tokens,
      completionTokens: body.usage.completion_tokens
    };
    options.out.info(`  gateway check: "${result.check.content}" from ${result.check.runner} (${result.check.completionTokens} tokens)`);
  } catch (error) {
    options.out.info(`  gateway check failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  return result;
}
