import { resolve } from 'node:path';

import { z } from 'zod';

import { demoKey, GATEWAY_CONFIG_FILE, writeGatewayConfig } from '../gateway/client-config.js';
import { DEFAULT_KEYS_FILE, KeyStore } from '../gateway/keys.js';
import { startGateway, type RunningGateway } from '../gateway/server.js';
import { describePayer, openGatewayPayer } from '../gateway/payer.js';
import { workerBlsVerify } from '../ic/bls-verify.js';
import { loadOrCreateIdentity } from '../ic/identity.js';
import { httpPost } from '../inference/http-post.js';
import { DeaiClient } from '../sdk/index.js';
import { filePayerStore } from '../sdk/paid/file-store.js';
import { nativeSignerOf } from '../gateway/native-signer.js';
import { DEFAULT_IDENTITY_PATH } from './defaults.js';
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
  /** The gateway's payer (the demo identity) and, after the check, its batch settled on-chain: what the runner accrued. */
  payer: string;
  settlement?: { lineId: string; settledE8s: string; settledSeq: string; runnerAccruedE8s: string };
  /** Stops the gateway and settles its payer's books. */
  close(): Promise<void>;
}

/** What `npm start` deposits for the demo gateway when its free credit is below it: 1 DEAI. */
export const DEMO_DEPOSIT_E8S = 100_000_000n;

/**
 * `npm start`'s gateway: the OpenAI API on `port`, a demo key (the one `.deai/gateway.json` already holds while it is
 * live, else a new one), that file rewritten with the base URL and the key, and, with a runner up, one request.
 */
export async function startDemoGateway(options: {
  host: string;
  registryId: string;
  port: number;
  projectDir: string;
  /** The payer's books (in the network's state directory). */
  payerBooksFile: string;
  model?: string;
  out: Output;
}): Promise<DemoGateway> {
  // The gateway pays runners as the demo identity (funded at deploy); its books live with the network's state (a
  // `--clean` start has new lines, which old books know nothing of).
  const { identity } = loadOrCreateIdentity(resolve(options.projectDir, DEFAULT_IDENTITY_PATH));
  const client = await DeaiClient.connect({
    host: options.host,
    registryId: options.registryId,
    identity,
    // The gateway's payer settles while it serves: certificates are checked off its event loop.
    blsVerify: workerBlsVerify,
    // Runners are paid through Node's own HTTP client (a fraction of fetch's CPU per request and per streamed chunk).
    fetch: httpPost,
    paid: {
      ...(nativeSignerOf(identity) === undefined ? {} : { signer: nativeSignerOf(identity) }),
      store: filePayerStore(options.payerBooksFile),
      settleEveryMs: 0
    }
  });
  const free = (await client.creditAccount()).freeE8s;
  const paid = await openGatewayPayer(client, free < DEMO_DEPOSIT_E8S ? { depositE8s: DEMO_DEPOSIT_E8S } : {});
  options.out.info(describePayer(paid));
  const keys = new KeyStore(resolve(options.projectDir, DEFAULT_KEYS_FILE));
  const gateway = await startGateway({ registry: client, keys, port: options.port, transport: paid.transport });
  const configFile = resolve(options.projectDir, GATEWAY_CONFIG_FILE);
  const { apiKey, created } = demoKey(keys, configFile);
  writeGatewayConfig(configFile, { baseURL: gateway.baseURL, apiKey });
  options.out.info(`Gateway: ${gateway.baseURL} (OpenAI-compatible), ${created ? 'new ' : ''}demo key in ${GATEWAY_CONFIG_FILE}`);
  const result: DemoGateway = {
    gateway,
    baseURL: gateway.baseURL,
    apiKey,
    configFile,
    payer: paid.payer.payer,
    close: async () => {
      await gateway.close();
      await paid.payer.close();
    }
  };
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
    // The gateway paid the runner with a signed receipt; its batch settles it on-chain now (not in 10 s or 100 requests).
    const settled = (await paid.payer.flush()).find((o) => o.ok);
    if (settled?.ok === true) {
      const accrued = (await client.creditAccount(result.check.runner)).accruedE8s;
      result.settlement = {
        lineId: settled.lineId.toString(),
        settledE8s: settled.line.settledE8s.toString(),
        settledSeq: settled.line.settledSeq.toString(),
        runnerAccruedE8s: accrued.toString()
      };
      options.out.info(
        `  settled on-chain: line ${settled.lineId} at receipt ${settled.line.settledSeq}, ${settled.line.settledE8s} e8s to the runner (accrued ${accrued} e8s)`
      );
    }
  } catch (error) {
    options.out.info(`  gateway check failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  return result;
}
