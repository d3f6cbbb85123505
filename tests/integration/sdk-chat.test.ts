import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Ed25519KeyIdentity } from '@dfinity/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Localnet } from '../../src/localnet/localnet.ts';
import { CHAT_INPUT_TAG } from '../../src/core/tasks/chat-input.ts';
import { DeaiClient, type ChatProgress } from '../../src/sdk/index.ts';
import { startMeteredServer, type MeteredServer } from '../../src/runner/metered/server.ts';
import { IcCredit } from '../../src/ic/credit.ts';
import { startFakeEngine, type FakeEngine } from '../support/fake-engine.ts';
import { okOf } from '../support/registry.ts';
import { deadEndpoint, freshModel as sharedFreshModel, rejection, runnerAt as sharedRunnerAt } from '../support/sdk.ts';
import { FEE, REWARD, processTasks, resultArgs, taskNetwork, type TaskNetwork } from '../support/tasks.ts';

describe('DeaiClient.chat: direct to ranked runners with failover, or through an on-chain task', () => {
  let net: Localnet;
  let t: TaskNetwork;
  const engines: FakeEngine[] = [];
  const metered: MeteredServer[] = [];
  const receipts = mkdtempSync(join(tmpdir(), 'deai-sdk-chat-'));

  /** A client that pays runners for direct chat from its credit at the registry (IcCredit, built by connect). */
  async function connectPaid(): Promise<DeaiClient> {
    const identity = Ed25519KeyIdentity.generate();
    await t.fund(identity, 100_000_000n + 2n * FEE);
    const client = await DeaiClient.connect({ host: net.url, registryId: t.registry.toText(), identity, paid: { settleEveryMs: 0 } });
    expect(await client.depositCredit(100_000_000n)).toMatchObject({ freeE8s: 100_000_000n, reservedE8s: 0n });
    return client;
  }

  /** A runner whose manifest advertises its metered endpoint in front of `engine`; returns [principal, endpoint]. */
  async function meteredRunnerAt(card: Record<string, unknown>, engine: FakeEngine, outputPerMillion: number): Promise<[string, string]> {
    const identity = Ed25519KeyIdentity.generate();
    const runner = identity.getPrincipal().toText();
    const server = await startMeteredServer({
      runner,
      engineUrl: engine.url,
      engineModel: String(card.id),
      models: [{ id: String(card.id), prices: { inputPerMillion: 100n, outputPerMillion: BigInt(outputPerMillion) } }],
      credit: new IcCredit(await t.tasks(identity), { registryId: t.registry, principal: identity.getPrincipal() }),
      receiptsFile: join(receipts, `${runner}.json`),
      settleCheckMs: 0
    });
    metered.push(server);
    await sharedRunnerAt(t, card, server.url, outputPerMillion, identity);
    return [runner, server.url];
  }

  const connect = (identity?: Ed25519KeyIdentity): Promise<DeaiClient> =>
    DeaiClient.connect({ host: net.url, registryId: t.registry.toText(), ...(identity === undefined ? {} : { identity }) });

  const freshModel = (name: string): Promise<Record<string, unknown>> => sharedFreshModel(t, name);
  const runnerAt = (card: Record<string, unknown>, endpoint: string, outputPerMillion: number): Promise<string> =>
    sharedRunnerAt(t, card, endpoint, outputPerMillion);

  async function engine(): Promise<FakeEngine> {
    const started = await startFakeEngine();
    engines.push(started);
    return started;
  }

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    t = await taskNetwork(net);
  });
  afterAll(async () => {
    await Promise.all(metered.map((m) => m.close()));
    await Promise.all(engines.map((e) => e.close()));
    await net.stop();
  });

  it('direct: fails over down the ranked list (unreachable, HTTP 500, too slow) to the runner that answers', async () => {
    const card = await freshModel('failover');
    const [failing, slow, good] = [await engine(), await engine(), await engine()];
    failing.failNext('http500');
    slow.delayNext(6_000);
    const dead = await runnerAt(card, await deadEndpoint(), 100);
    const [erroring] = await meteredRunnerAt(card, failing, 200);
    const [sleepy] = await meteredRunnerAt(card, slow, 300);
    const [answering, goodUrl] = await meteredRunnerAt(card, good, 400);
    const client = await connectPaid();
    expect((await client.findRunners({ model: String(card.id) })).map((c) => c.runner)).toEqual([dead, erroring, sleepy, answering]);
    // Lines reserved up front: an attempt's time includes opening its line (an update call). Each attempt still checks
    // the line on-chain (the payer's and the runner's queries), hence 2 s per attempt.
    for (const runner of [dead, erroring, sleepy, answering]) await client.credit.reserveCredit(runner, 10_000_000n);

    const events: ChatProgress[] = [];
    const messages = [
      { role: 'system' as const, content: 'Reverse the words.' },
      { role: 'user' as const, content: 'one two three' }
    ];
    const result = await client.chat({
      model: String(card.id),
      via: 'direct',
      messages,
      maxOutputTokens: 16,
      attemptTimeoutMs: 2_000,
      onProgress: (e) => events.push(e)
    });
    expect(result).toMatchObject({
      via: 'direct',
      content: 'three two one',
      runner: answering,
      endpoint: goodUrl,
      inputTokens: 13n,
      outputTokens: 3n
    });
    expect(result.failedAttempts.map((a) => a.runner)).toEqual([dead, erroring, sleepy]);
    expect(result.failedAttempts[0]?.error).toMatch(/unreachable/);
    expect(result.failedAttempts[1]?.error).toMatch(/HTTP 500/);
    expect(result.failedAttempts[2]?.error).toMatch(/no answer within 2000 ms/);
    expect(good.lastBody).toMatchObject({ model: card.id, messages, max_tokens: 16, stream: false });
    expect(events.filter((e) => e.kind === 'attempt').map((e) => e.kind === 'attempt' && e.rank)).toEqual([0, 1, 2, 3]);
    expect(events.filter((e) => e.kind === 'failover')).toHaveLength(3);
  });

  it('direct is paid: the answering runner charged, the client signed a receipt and settles it on-chain; `paid: false`: NotConfigured', async () => {
    const card = await freshModel('paid');
    const good = await engine();
    const [runner] = await meteredRunnerAt(card, good, 1_000_000);
    const client = await connectPaid();
    const result = await client.chat({ model: String(card.id), via: 'direct', prompt: 'one two', maxOutputTokens: 8 });
    expect(result).toMatchObject({ runner, content: 'two one', outputTokens: 2n });
    // Input at 100 e8s per million rounds up with output at 1 e8s per token: 2 + 1.
    expect(client.payer?.lineOf(runner)).toMatchObject({ seq: 1n, requests: 1n, outputTokens: 2n, owedE8s: 3n });
    expect(await client.payer!.close()).toMatchObject([{ ok: true, movedE8s: 3n }]);
    expect((await client.creditAccount(runner)).accruedE8s).toBe(3n);
    expect(await client.creditAccount()).toMatchObject({ freeE8s: 100_000_000n - 10_000_000n });

    const unpaid = await DeaiClient.connect({
      host: net.url,
      registryId: t.registry.toText(),
      identity: Ed25519KeyIdentity.generate(),
      paid: false
    });
    expect(await rejection(unpaid.chat({ model: String(card.id), via: 'direct', prompt: 'hi' }))).toMatchObject({
      code: 'NotConfigured',
      retryable: false
    });
    expect(good.requests).toBe(1);
  });

  it('direct: AllRunnersFailed lists every attempt; NoRunners when nobody with an endpoint serves the model', async () => {
    const card = await freshModel('all-fail');
    const broken = await engine();
    broken.failNext('http500');
    const first = await runnerAt(card, await deadEndpoint(), 100);
    const [second] = await meteredRunnerAt(card, broken, 200);
    const client = await connectPaid();
    const failed = await rejection(client.chat({ model: String(card.id), via: 'direct', prompt: 'hello', attemptTimeoutMs: 2_000 }));
    expect(failed).toMatchObject({ code: 'AllRunnersFailed', retryable: true });
    if (!failed.hasCode('AllRunnersFailed')) throw failed;
    expect(failed.details.attempts.map((a) => a.runner)).toEqual([first, second]);

    const lonely = await freshModel('no-runner');
    expect(await rejection(client.chat({ model: String(lonely.id), via: 'direct', prompt: 'hello' }))).toMatchObject({
      code: 'NoRunners',
      details: { model: lonely.id }
    });
    // maxAttempts bounds how far down the list it goes.
    const bounded = await rejection(client.chat({ model: String(card.id), via: 'direct', prompt: 'hello', maxAttempts: 1 }));
    if (!bounded.hasCode('AllRunnersFailed')) throw bounded;
    expect(bounded.details.attempts.length).toBe(1);
  });

  it('direct with onToken: streams the answer, and a runner failing mid-stream hands over to the next', async () => {
    const card = await freshModel('streaming');
    const [breaking, good] = [await engine(), await engine()];
    breaking.failNext('midstream');
    const [first] = await meteredRunnerAt(card, breaking, 100);
    const [second] = await meteredRunnerAt(card, good, 200);
    const client = await connectPaid();
    const pieces: string[] = [];
    const events: ChatProgress[] = [];
    const result = await client.chat({
      model: String(card.id),
      via: 'direct',
      prompt: 'alpha beta gamma',
      onToken: (text) => pieces.push(text),
      onProgress: (e) => events.push(e)
    });
    expect(result).toMatchObject({ content: 'gamma beta alpha', runner: second, outputTokens: 3n, failedAttempts: [{ runner: first }] });
    expect(result.failedAttempts[0]?.error).toMatch(/mid-stream/);
    expect(events.find((e) => e.kind === 'failover')).toMatchObject({ runner: first, streamed: true });
    // What the first runner streamed before failing, then the whole answer from the second.
    expect(pieces.join('')).toBe('gamma beta alphagamma beta alpha');
    expect(good.lastBody).toMatchObject({ stream: true, messages: [{ role: 'user', content: 'alpha beta gamma' }] });
  });

  it('rejects bad input before any call: both or neither of messages/prompt, no messages, task without reward', async () => {
    const client = await connect(await t.requester(10_000_000n));
    const model = String(t.card.id);
    const balance = await client.balance();
    for (const options of [
      { model },
      { model, prompt: 'a', messages: [{ role: 'user' as const, content: 'b' }] },
      { model, messages: [] },
      { model, prompt: 'no reward' }
    ]) {
      expect(await rejection(client.chat(options))).toMatchObject({ code: 'InvalidArgument', retryable: false });
    }
    expect(await client.balance()).toBe(balance);
  });

  it('task: escrows a task carrying the conversation, returns the runner’s result, and accepts it', async () => {
    const requester = await t.requester(10_000_000n);
    const runner = await t.runner();
    const client = await connect(requester);
    const asRunner = await t.tasks(runner);
    const messages = [
      { role: 'system' as const, content: 'Be brief.' },
      { role: 'user' as const, content: 'Say hello.' }
    ];
    let stop = false;
    let seenInput: string | undefined;
    // The runner side, by hand: claim whatever appears, check what it carries, report a result.
    const serving = (async () => {
      while (!stop) {
        const claimed = await asRunner.claim_task([]);
        if ('Ok' in claimed) {
          seenInput = claimed.Ok.input.inline[0];
          okOf(await asRunner.complete_task(claimed.Ok.id, resultArgs('Hello!')));
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    const states: string[] = [];
    const result = await client.chat({
      model: String(t.card.id),
      messages,
      rewardE8s: REWARD,
      accept: true,
      timeoutMs: 20_000,
      onProgress: (e) => e.kind === 'task' && states.push(e.state)
    });
    stop = true;
    await serving;
    expect(result).toMatchObject({
      via: 'task',
      content: 'Hello!',
      runner: runner.getPrincipal().toText(),
      state: 'accepted',
      outputTokens: 34n,
      failedAttempts: []
    });
    expect(JSON.parse(seenInput ?? '')).toEqual({ deai: CHAT_INPUT_TAG, messages });
    expect(states.at(-1)).toBe('review');
    await processTasks(t);
    // Paid its metered cost (12 + 34 tokens at 1,000 / 3,000 per million: 1 e8s), the rest of the budget refunded.
    expect(await client.balance(runner.getPrincipal())).toBe(1n);
  });
});
