import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import OpenAI, { APIError, AuthenticationError, BadRequestError, NotFoundError, RateLimitError } from 'openai';
import type { ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';

import { KEY_FILE_MAX_STALE_MS } from '../../src/gateway/keys.ts';
import { IcCredit } from '../../src/ic/credit.ts';
import { ed25519Pem, loadIdentity } from '../../src/ic/identity.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { RunnerConfigSchema } from '../../src/runner/config.ts';
import { startRunner, type StartedRunner } from '../../src/runner/start.ts';
import { DeaiClient } from '../../src/sdk/index.ts';
import { filePayerStore } from '../../src/sdk/paid/file-store.ts';
import { RECEIPT_WAIT_COVERS } from '../../src/sdk/paid/payer.ts';
import { decodeBooks } from '../../src/sdk/paid/state.ts';
import { deaiJson, spawnGateway, type GatewayProcess } from '../support/gateway.ts';
import { llamaFixture, type LlamaFixture } from '../support/llama.ts';
import { readmeSnippets } from '../support/readme.ts';
import { deployment, runnerManifest } from '../support/manifests.ts';
import { heartbeatArgs, okOf } from '../support/registry.ts';
import { deadEndpoint, freshModel } from '../support/sdk.ts';
import { taskNetwork, type TaskNetwork } from '../support/tasks.ts';
import { Ed25519KeyIdentity } from '@dfinity/identity';

const MODEL = 'deai/tiny-random-llama';
const PRICE = { inputPerMillion: 100_000_000, outputPerMillion: 300_000_000 };
const DEPOSIT_E8S = 1_000_000_000n;
const root = join(import.meta.dirname, '..', '..');
const exec = promisify(execFile);
const messages = [{ role: 'user' as const, content: 'Write one sentence about the sea.' }];

interface KeyJson {
  key: string;
  id: string;
  prefix: string;
  limitE8s: string;
  spentE8s: string;
  revokedAt?: string;
}

/** The status, type and code an OpenAI client error carries (fails the test on anything else). */
async function apiError(promise: Promise<unknown>): Promise<APIError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e
  );
  if (!(error instanceof APIError)) throw new Error(`expected an APIError, got ${String(error)}`);
  return error;
}

const withProvider = (provider: Record<string, unknown>, extra: Record<string, unknown> = {}): ChatCompletionCreateParamsNonStreaming =>
  Object.assign({ model: MODEL, messages, max_tokens: 8, temperature: 0 }, { provider, ...extra });

describe('deai gateway: the OpenAI API over the registry, with a real llama-server runner', () => {
  let llama: LlamaFixture;
  let net: Localnet;
  let t: TaskNetwork;
  let runner: StartedRunner;
  let gateway: GatewayProcess;
  let dir: string;
  let keys: Record<'app' | 'tiny' | 'slow' | 'gone', KeyJson>;
  let dead: { principal: string; heartbeat(): Promise<void> };
  /** A published card no runner serves. */
  let lonely: Record<string, unknown>;
  let payerIdentity: Ed25519KeyIdentity;
  const client = (apiKey: string): OpenAI => new OpenAI({ baseURL: gateway.baseURL, apiKey, maxRetries: 0 });
  const gatewayArgs = (): string[] => [
    '--port',
    '0',
    '--host',
    net.url,
    '--registry',
    t.registry.toText(),
    '--attempt-timeout',
    '5000',
    '--identity',
    join(dir, 'gateway.pem'),
    '--settle-interval',
    '0',
    '--settle-every',
    '1000'
  ];

  beforeAll(async () => {
    llama = await llamaFixture({ slots: 2 });
    net = await Localnet.start({ port: 0, stateDir: null });
    t = await taskNetwork(net);
    dir = mkdtempSync(join(tmpdir(), 'deai-gateway-'));
    const config = RunnerConfigSchema.parse({
      network: { host: net.url, registry: t.registry.toText() },
      identity: join(dir, 'runner.pem'),
      engine: { kind: 'llama.cpp', url: llama.url, modelPath: llama.modelPath },
      manifest: {
        endpoint: llama.url,
        region: 'local',
        deployments: [
          {
            model: { id: MODEL },
            // 100 / 300 e8s per token: a few requests accrue more than the ledger fee, so the runner can withdraw.
            price: { inputPerMillion: PRICE.inputPerMillion, outputPerMillion: PRICE.outputPerMillion },
            card: { version: '1.0.0', family: 'llama', license: 'MIT' }
          }
        ]
      },
      heartbeatSeconds: 5,
      pollMs: 200,
      metricsPort: 0,
      metered: { port: 0, receiptsFile: join(dir, 'runner-receipts.json'), settleAfterSeconds: 10 },
      stateFile: join(dir, 'runner-state.json')
    });
    runner = await startRunner(config, { projectDir: dir, settleCheckMs: 0 });
    // A second runner of the same weights whose endpoint nothing listens on.
    const card = JSON.parse(
      (await (await DeaiClient.connect({ host: net.url, registryId: t.registry })).getModel(MODEL)).manifestJson
    ) as Record<string, unknown>;
    const identity = Ed25519KeyIdentity.generate();
    const actor = await t.tasks(identity);
    const manifest = runnerManifest(
      identity.getPrincipal().toText(),
      [deployment(card, { price: { inputPerMillion: 50, outputPerMillion: 100 }, servedContext: card.contextLength })],
      { endpoint: await deadEndpoint(), region: 'local' }
    );
    okOf(await actor.register_runner(JSON.stringify(manifest)));
    dead = { principal: identity.getPrincipal().toText(), heartbeat: async () => void okOf(await actor.heartbeat(heartbeatArgs())) };
    await dead.heartbeat();
    lonely = await freshModel(t, 'gateway-lonely');
    const create = (name: string, ...flags: string[]): Promise<KeyJson> =>
      deaiJson(dir, ['gateway', 'keys', 'create', '--name', name, ...flags]);
    const [app, tiny, slow, gone] = await Promise.all([
      create('app', '--limit', '100000000'),
      create('tiny', '--limit', '1'),
      create('slow', '--rate', '1'),
      create('gone')
    ]);
    keys = { app, tiny, slow, gone };
    // The gateway pays as its own identity, funded on the ledger; it deposits credit at start and settles only when
    // told (at stop, at the next start), so the tests see what a kill before the batch leaves.
    payerIdentity = Ed25519KeyIdentity.generate();
    writeFileSync(join(dir, 'gateway.pem'), ed25519Pem(payerIdentity));
    await t.fund(payerIdentity, 2n * DEPOSIT_E8S);
    gateway = await spawnGateway(dir, [...gatewayArgs(), '--deposit-e8s', String(DEPOSIT_E8S)]);
  }, 20 * 60_000);

  afterAll(async () => {
    await gateway?.stop();
    await runner?.stop();
    await llama?.stop();
    await net?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('keys: created through the CLI with --json, shown by prefix, stored hashed', async () => {
    expect(keys.app.key).toMatch(/^sk-deai-[A-Za-z0-9_-]{43}$/);
    expect(keys.app.key.startsWith(keys.app.prefix)).toBe(true);
    const listed = await deaiJson<KeyJson[]>(dir, ['gateway', 'keys', 'list']);
    expect(listed.map((k) => k.id).sort()).toEqual(
      Object.values(keys)
        .map((k) => k.id)
        .sort()
    );
    expect(listed.every((k) => !('key' in k))).toBe(true);
    const stored = readFileSync(join(dir, '.deai', 'gateway-keys.json'), 'utf8');
    for (const k of Object.values(keys)) expect(stored).not.toContain(k.key);
  });

  it('GET /v1/models: the published card with live runners, in OpenRouter’s shape', async () => {
    const models = await client(keys.app.key).models.list();
    // The OpenRouter fields beyond the OpenAI `Model` type, checked by shape rather than cast.
    const entry = z
      .object({ context_length: z.number() })
      .passthrough()
      .parse(models.data.find((m) => m.id === MODEL));
    expect(entry).toMatchObject({
      object: 'model',
      context_length: expect.any(Number),
      architecture: { input_modalities: ['text'], output_modalities: ['text'] },
      // The cheapest live runner: 50 / 100 e8s per million tokens, as DEAI per token.
      pricing: { prompt: '0.0000000000005', completion: '0.000000000001' },
      quantization: expect.any(String),
      deai: { runners: 2, pricing_e8s_per_million: { prompt: '50', completion: '100' } }
    });
    expect(entry.context_length).toBeGreaterThan(0);
  });

  it('chat: plain and streamed (usage in both), and completions, through the only runner that answers', async () => {
    const openai = client(keys.app.key);
    const { data, response } = await openai.chat.completions.create(withProvider({ only: [runner.principal] })).withResponse();
    expect(response.headers.get('x-deai-runner')).toBe(runner.principal);
    expect(data.model).toBe(MODEL);
    expect(data.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(data.usage?.prompt_tokens).toBeGreaterThan(0);
    expect(data.usage?.completion_tokens).toBeGreaterThan(0);
    // The runner streamed it (runners always do); put together, it is the answer llama-server itself gives plain.
    const own = await new OpenAI({ baseURL: `${llama.url}/v1`, apiKey: 'unused' }).chat.completions.create({
      model: MODEL,
      messages,
      max_tokens: 8,
      temperature: 0
    });
    expect(data.choices[0]?.message.content).toBe(own.choices[0]?.message.content);
    expect(data.choices[0]?.finish_reason).toBe(own.choices[0]?.finish_reason);
    expect(data.object).toBe('chat.completion');

    const stream = await openai.chat.completions.create({
      ...withProvider({ only: [runner.principal] }),
      stream: true,
      stream_options: { include_usage: true }
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(usage?.completion_tokens).toBeGreaterThan(0);

    const completion = await openai.completions.create(
      Object.assign({ model: MODEL, prompt: 'The sea is', max_tokens: 6, temperature: 0 }, { provider: { only: [runner.principal] } })
    );
    expect(completion.choices[0]?.text.length).toBeGreaterThan(0);
    const ownCompletion = await new OpenAI({ baseURL: `${llama.url}/v1`, apiKey: 'unused' }).completions.create({
      model: MODEL,
      prompt: 'The sea is',
      max_tokens: 6,
      temperature: 0
    });
    expect(completion.object).toBe('text_completion');
    expect(completion.choices[0]?.text).toBe(ownCompletion.choices[0]?.text);
    expect(completion.choices[0]?.finish_reason).toBe(ownCompletion.choices[0]?.finish_reason);
    expect(completion.usage?.total_tokens).toBeGreaterThan(0);
  });

  it('routing: a dead runner first fails over before the first token; only / ignore / allow_fallbacks / max_price / quantizations', async () => {
    await dead.heartbeat();
    const openai = client(keys.app.key);
    const served = async (provider: Record<string, unknown>): Promise<string | null> =>
      (await openai.chat.completions.create(withProvider(provider)).withResponse()).response.headers.get('x-deai-runner');
    expect(await served({ order: [dead.principal, runner.principal] })).toBe(runner.principal);
    // Streamed too: nothing was sent to the client before the dead runner failed.
    const stream = await openai.chat.completions.create({ ...withProvider({ order: [dead.principal] }), stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text.length).toBeGreaterThan(0);
    await expect.poll(() => gateway.log()).toContain(`failover {"runner":"${dead.principal}"`);
    expect(await served({ sort: 'price', ignore: [dead.principal] })).toBe(runner.principal);

    for (const provider of [
      { only: [dead.principal] },
      { ignore: [runner.principal] },
      { order: [dead.principal], allow_fallbacks: false }
    ]) {
      const error = await apiError(openai.chat.completions.create(withProvider(provider)));
      expect({ status: error.status, code: error.code }).toEqual({ status: 502, code: 'upstream_failed' });
    }
    const tooCheap = await apiError(openai.chat.completions.create(withProvider({ max_price: { prompt: 10 } })));
    expect({ status: tooCheap.status, code: tooCheap.code }).toEqual({ status: 503, code: 'no_runner' });
    const quantization = (await client(keys.app.key).models.retrieve(MODEL)) as unknown as { quantization: string };
    expect(await served({ quantizations: [quantization.quantization], only: [runner.principal] })).toBe(runner.principal);
    const otherQuant = await apiError(openai.chat.completions.create(withProvider({ quantizations: ['NOT_A_QUANT'] })));
    expect(otherQuant.status).toBe(503);
    // The affinity key (user, or the x-deai-affinity header) is accepted and routes.
    expect(await served({ only: [runner.principal] })).toBe(runner.principal);
    const { response } = await openai.chat.completions
      .create(Object.assign(withProvider({ ignore: [dead.principal] }), { user: 'session-1' }))
      .withResponse();
    expect(response.headers.get('x-deai-runner')).toBe(runner.principal);
  });

  it('errors: 401, 402, 404, 429, 503 and 400 as OpenAI error bodies and typed client errors', async () => {
    const wrong = await apiError(client('sk-deai-not-a-key').chat.completions.create(withProvider({})));
    expect(wrong).toBeInstanceOf(AuthenticationError);
    expect(wrong.code).toBe('invalid_api_key');
    const missing = await fetch(`${gateway.baseURL}/chat/completions`, { method: 'POST', body: '{}' });
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({
      error: { message: expect.stringContaining('Missing API key'), type: 'authentication_error', param: null, code: 'invalid_api_key' }
    });

    // 402: a request whose worst case would pass the key's 1 e8s limit is refused before any runner serves it.
    const tiny = client(keys.tiny.key);
    const broke = await apiError(tiny.chat.completions.create(withProvider({ only: [runner.principal] })));
    expect({ status: broke.status, code: broke.code, type: broke.type }).toEqual({
      status: 402,
      code: 'insufficient_credit',
      type: 'insufficient_quota'
    });

    const unknown = await apiError(client(keys.app.key).chat.completions.create({ model: 'deai/no-such-model', messages }));
    expect(unknown).toBeInstanceOf(NotFoundError);
    expect(unknown.code).toBe('model_not_found');

    const slow = client(keys.slow.key);
    await slow.chat.completions.create(withProvider({ only: [runner.principal] }));
    const limited = await apiError(slow.chat.completions.create(withProvider({ only: [runner.principal] })));
    expect(limited).toBeInstanceOf(RateLimitError);
    expect(limited.headers?.get('retry-after')).toMatch(/^\d+$/);

    const noRunner = await apiError(client(keys.app.key).chat.completions.create({ model: String(lonely.id), messages }));
    expect({ status: noRunner.status, code: noRunner.code }).toEqual({ status: 503, code: 'no_runner' });

    const bad = await apiError(
      client(keys.app.key).chat.completions.create({ model: MODEL, messages: [{ role: 'narrator', content: 'x' }] } as never)
    );
    expect(bad).toBeInstanceOf(BadRequestError);
    expect(bad.param).toBe('messages.0.role');
    const empty = await apiError(client(keys.app.key).chat.completions.create({ model: MODEL, messages: [] }));
    expect(empty).toBeInstanceOf(BadRequestError);
    // The runner's own 400 (a prompt beyond its context) is the request's fault: passed on, not failed over.
    const tooLong = await apiError(
      client(keys.app.key).chat.completions.create(withProvider({}, { messages: [{ role: 'user', content: 'sea '.repeat(20_000) }] }))
    );
    expect({ status: tooLong.status, code: tooLong.code }).toEqual({ status: 400, code: 'upstream_rejected' });
  });

  it('spend is recorded durably per key; a revoked key is refused by the running gateway within KEY_FILE_MAX_STALE_MS', async () => {
    const listed = await deaiJson<KeyJson[]>(dir, ['gateway', 'keys', 'list']);
    const spent = (id: string): bigint => BigInt(listed.find((k) => k.id === id)?.spentE8s ?? -1);
    expect(spent(keys.app.id)).toBeGreaterThan(0n);
    expect(spent(keys.tiny.id)).toBe(0n); // refused up front: its limit holds no request's worst case
    expect(spent(keys.gone.id)).toBe(0n);
    await client(keys.gone.key).chat.completions.create(withProvider({ only: [runner.principal] }));
    const revoked = await deaiJson<KeyJson>(dir, ['gateway', 'keys', 'revoke', keys.gone.prefix]);
    expect(revoked.revokedAt).toBeDefined();
    // The gateway looks at the key file off the request path: the revocation holds within its bound (README "Gateway").
    const revokedMs = performance.now();
    await vi.waitFor(
      async () =>
        expect(await apiError(client(keys.gone.key).chat.completions.create(withProvider({})))).toBeInstanceOf(AuthenticationError),
      { timeout: 30_000, interval: 50 }
    );
    expect(performance.now() - revokedMs).toBeLessThan(KEY_FILE_MAX_STALE_MS + 5_000);
  });

  it('runs README’s OpenAI example as written, with the .deai/gateway.json `npm start` writes', async () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const snippet = readmeSnippets(readme, 'js').find((s) => s.code.includes("from 'openai'"));
    expect(snippet).toBeDefined();
    // Beside README, so that `openai` resolves from the project's node_modules; run in the test's project directory.
    const file = join(root, `.readme-snippet-gateway-${process.pid}.mjs`);
    writeFileSync(file, snippet?.code ?? '');
    mkdirSync(join(dir, '.deai'), { recursive: true });
    writeFileSync(join(dir, '.deai', 'gateway.json'), JSON.stringify({ baseURL: gateway.baseURL, apiKey: keys.app.key }));
    try {
      const { stdout } = await exec(process.execPath, [file], { cwd: dir, timeout: 60_000 });
      expect(stdout.length).toBeGreaterThan(0);
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('paid: a kill -9 before the batch: the runner settles alone, the restarted gateway settles the rest once; the runner withdraws', async () => {
    const payerId = payerIdentity.getPrincipal().toText();
    const asPayer = new IcCredit(await t.tasks(payerIdentity), { registryId: t.registry, principal: payerIdentity.getPrincipal() });
    // Two more paid requests (plain and streamed) with a fresh key, then the gateway dies before any settlement.
    const paidKey = await deaiJson<KeyJson>(dir, ['gateway', 'keys', 'create', '--name', 'paid']);
    const openai = client(paidKey.key);
    const { response } = await openai.chat.completions.create(withProvider({ only: [runner.principal] })).withResponse();
    expect(BigInt(response.headers.get('x-deai-cost-e8s') ?? '0')).toBeGreaterThan(0n);
    const stream = await openai.chat.completions.create({ ...withProvider({ only: [runner.principal] }), stream: true });
    for await (const _chunk of stream) void _chunk;
    await expect
      .poll(async () => (await deaiJson<KeyJson[]>(dir, ['gateway', 'keys', 'list'])).find((k) => k.id === paidKey.id)?.spentE8s)
      .not.toBe('0');
    gateway.child.kill('SIGKILL');
    expect(await gateway.stop()).toBeNull();
    // The books as a restarted gateway reads them (the file and its log).
    const books = decodeBooks(payerId, filePayerStore(join(dir, '.deai', 'gateway-payer.json')).load());
    const booked = books.lines.find((l) => l.runner === runner.principal)!;
    const before = (await asPayer.findCreditLine(payerId, runner.principal))!;
    expect(before.id).toBe(BigInt(booked.lineId));
    expect(before.settledSeq).toBe(0n); // nothing settled yet: every accepted charge is only in the books
    expect(BigInt(booked.seq)).toBeGreaterThan(3n);
    // Every accepted charge was charged to a key: the books owe exactly what the keys spent.
    const spentTotal = (await deaiJson<KeyJson[]>(dir, ['gateway', 'keys', 'list'])).reduce((sum, k) => sum + BigInt(k.spentE8s), 0n);
    expect(BigInt(booked.owedE8s)).toBe(spentTotal);

    // The runner does not wait for the dead payer: once due, it settles alone (IcCredit, the runner node's default)
    // with the latest receipt it holds, the one that rode the payer's last request carrying one: all but that request
    // (and those that went out while the books were still writing their receipt: fewer than RECEIPT_WAIT_COVERS).
    await expect
      .poll(
        async () => {
          await runner.settleReceipts();
          return (await asPayer.getCreditLine(before.id))!.settledSeq;
        },
        { timeout: 30_000, interval: 1_000 }
      )
      .toBeGreaterThanOrEqual(BigInt(booked.seq) - BigInt(RECEIPT_WAIT_COVERS));
    expect((await asPayer.getCreditLine(before.id))!.settledSeq).toBeLessThan(BigInt(booked.seq));
    expect((await asPayer.getCreditLine(before.id))!.settledE8s).toBeLessThan(BigInt(booked.owedE8s));

    // The restarted gateway settles its books at start: the rest, once; in all, the whole owed to the runner.
    gateway = await spawnGateway(dir, gatewayArgs());
    const settled = (await asPayer.getCreditLine(before.id))!;
    expect(settled).toMatchObject({ settledSeq: BigInt(booked.seq), settledE8s: BigInt(booked.owedE8s) });
    const accrued = (await asPayer.getCreditAccount(runner.principal))!.accruedE8s;
    expect(accrued).toBe(BigInt(booked.owedE8s));
    // The protocol fee was charged on top to the payer, not taken from the runner.
    expect(settled.feesE8s).toBeGreaterThan(0n);
    // Stopped and started again: nothing is settled twice.
    expect(await gateway.stop()).toBe(0);
    gateway = await spawnGateway(dir, gatewayArgs());
    expect(gateway.log()).not.toMatch(/settled \d+ of \d+ line/);
    expect((await asPayer.getCreditLine(before.id))!.settledE8s).toBe(BigInt(booked.owedE8s));
    expect((await asPayer.getCreditAccount(runner.principal))!.accruedE8s).toBe(accrued);

    // The runner withdraws its accrued balance in one ledger transfer (less the ledger fee).
    const runnerIdentity = loadIdentity(join(dir, 'runner.pem'));
    const asRunner = new IcCredit(await t.tasks(runnerIdentity), { registryId: t.registry, principal: runnerIdentity.getPrincipal() });
    const held = await t.balance(runnerIdentity.getPrincipal());
    await asRunner.withdrawAccrued();
    await expect.poll(() => t.balance(runnerIdentity.getPrincipal()), { timeout: 30_000, interval: 500 }).toBe(held + accrued - 10_000n);
    expect((await asPayer.getCreditAccount(runner.principal))!.accruedE8s).toBe(0n);
  });

  it('stops gracefully on SIGTERM', async () => {
    expect(await gateway.stop()).toBe(0);
    expect(gateway.log()).toContain('Stopping');
  });
});
