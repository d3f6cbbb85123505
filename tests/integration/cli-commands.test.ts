import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { Ed25519KeyIdentity } from '@dfinity/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ed25519Pem } from '../../src/ic/identity.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { digestOf, modelCard } from '../support/manifests.ts';
import { errOf, okOf } from '../support/registry.ts';
import { FEE, REWARD, resultArgs, taskNetwork, type TaskNetwork } from '../support/tasks.ts';

const exec = promisify(execFile);
const deai = join(import.meta.dirname, '..', '..', 'bin', 'deai.mjs');
const FUNDS = 100_000_000n;

describe('deai models | runners | task | ledger (CLI against the localnet)', () => {
  let net: Localnet;
  let t: TaskNetwork;
  let runner: Ed25519KeyIdentity;
  let requester: Ed25519KeyIdentity;
  let dir: string;
  let pem: string;
  let cardId: string;

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    t = await taskNetwork(net);
    runner = await t.runner();
    requester = await t.requester(FUNDS);
    cardId = String(t.card.id);
    dir = mkdtempSync(join(tmpdir(), 'deai-cli-'));
    pem = join(dir, 'requester.pem');
    writeFileSync(pem, ed25519Pem(requester));
  });
  afterAll(async () => {
    await net.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs `deai <args>` in the temp dir against this localnet, as the funded requester. */
  const cli = (...args: string[]) =>
    exec(process.execPath, [deai, ...args, '--host', net.url, '--registry', t.registry.toText(), '--identity', pem], {
      cwd: dir,
      timeout: 60_000
    });
  const json = async (...args: string[]): Promise<unknown> => JSON.parse((await cli(...args, '--json')).stdout) as unknown;

  it('models list, show and publish, in human and JSON form', async () => {
    const [list, listJson, show, showJson] = await Promise.all([
      cli('models', 'list'),
      json('models', 'list', '--family', 'llama'),
      cli('models', 'show', cardId),
      json('models', 'show', cardId, '--digest', String(t.card.digest))
    ]);
    expect(list.stdout).toMatch(/ID\s+VERSION\s+FAMILY/);
    expect(list.stdout).toContain(cardId);
    expect(listJson).toEqual([expect.objectContaining({ id: cardId, family: 'llama', contextLength: '131072' })]);
    expect(show.stdout).toMatch(new RegExp(`digest\\s+${String(t.card.digest)}`));
    expect(showJson).toMatchObject({ id: cardId, manifest: { kind: 'ModelCard', license: 'llama3.1' } });

    const yamlFile = join(dir, 'card.yaml');
    const card = modelCard({ id: 'acme/Tiny-1B', digest: digestOf('tiny-1b') });
    writeFileSync(
      yamlFile,
      Object.entries(card)
        .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
        .join('\n')
    );
    expect((await cli('models', 'publish', yamlFile)).stdout).toContain(`Published acme/Tiny-1B (${digestOf('tiny-1b')})`);
    const jsonFile = join(dir, 'card.json');
    writeFileSync(jsonFile, JSON.stringify(modelCard({ id: 'acme/Tiny-3B', digest: digestOf('tiny-3b') })));
    expect(await json('models', 'publish', jsonFile)).toEqual({ id: 'acme/Tiny-3B', digest: digestOf('tiny-3b') });
    expect(((await json('models', 'list')) as Array<{ id: string }>).map((c) => c.id).sort()).toEqual(
      ['acme/Tiny-1B', 'acme/Tiny-3B', cardId].sort()
    );
  });

  it('models namespace show, delegate and revoke (--json), assign and purge refused to non-admins; runners find --digest pins weights', async () => {
    const cardFile = join(dir, 'ns-card.json');
    writeFileSync(cardFile, JSON.stringify(modelCard({ id: 'cli-ns/Model', digest: digestOf('cli-ns') })));
    await cli('models', 'publish', cardFile);
    const me = requester.getPrincipal().toText();
    const teammate = Ed25519KeyIdentity.generate().getPrincipal().toText();
    // Independent calls in parallel: each CLI start costs seconds on a loaded machine.
    const [delegated, assign, purge, unknown, pinned, unserved] = await Promise.allSettled([
      json('models', 'namespace', 'delegate', 'cli-ns', teammate),
      cli('models', 'namespace', 'assign', 'cli-ns', teammate, '--json'),
      cli('models', 'namespace', 'purge', 'cli-ns', teammate, '--json'),
      cli('models', 'namespace', 'show', 'nobody-here', '--json'),
      json('runners', 'find', '--model', cardId, '--digest', String(t.card.digest)),
      json('runners', 'find', '--model', cardId, '--digest', digestOf('weights nobody serves'))
    ]);
    expect(delegated).toMatchObject({
      status: 'fulfilled',
      value: { namespace: 'cli-ns', owner: me, delegates: [teammate], how: 'published' }
    });
    expect(assign).toMatchObject({ status: 'rejected', reason: { code: 1, stdout: expect.stringMatching(/"code": "Unauthorized"/) } });
    expect(purge).toMatchObject({ status: 'rejected', reason: { code: 1, stdout: expect.stringMatching(/"code": "Unauthorized"/) } });
    expect(unknown).toMatchObject({ status: 'rejected', reason: { code: 1, stdout: expect.stringMatching(/"code": "NotFound"/) } });
    expect(pinned).toMatchObject({ status: 'fulfilled', value: [expect.objectContaining({ runner: runner.getPrincipal().toText() })] });
    expect(unserved).toMatchObject({ status: 'fulfilled', value: [] });
    const [shown, revoked] = [
      await cli('models', 'namespace', 'show', 'CLI-NS'),
      await cli('models', 'namespace', 'revoke', 'cli-ns', teammate)
    ];
    expect(shown.stdout).toMatch(new RegExp(`delegates\\s+${teammate}`));
    expect(revoked.stdout).toContain(`${teammate} may no longer publish under cli-ns`);
  }, 180_000);

  it('bad input exits 1 with a useful message: unknown model, malformed manifest, wrong identity file, no registry', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'apiVersion: deai.dev/v1\nkind: ModelCard\nid: acme/Broken\nformat: zip\ncontextLength: -5\n');
    writeFileSync(join(dir, 'bad.pem'), 'not a key');
    const [unknown, unknownJson, malformed, malformedJson, identity, noRegistry] = await Promise.allSettled([
      cli('models', 'show', 'acme/Nope'),
      cli('models', 'show', 'acme/Nope', '--json'),
      cli('models', 'publish', bad),
      cli('models', 'publish', bad, '--json'),
      exec(
        process.execPath,
        [deai, 'ledger', 'balance', '--host', net.url, '--registry', t.registry.toText(), '--identity', join(dir, 'bad.pem')],
        { cwd: dir }
      ),
      exec(process.execPath, [deai, 'models', 'list', '--host', net.url], { cwd: dir })
    ]);
    expect(unknown).toMatchObject({
      status: 'rejected',
      reason: { code: 1, stderr: expect.stringMatching(/no model card acme\/Nope[\s\S]*Next: /) }
    });
    expect(unknownJson).toMatchObject({ status: 'rejected', reason: { code: 1, stdout: expect.stringMatching(/"code": "NotFound"/) } });
    expect(malformed).toMatchObject({ status: 'rejected', reason: { code: 1, stderr: expect.stringMatching(/not a valid manifest/) } });
    const stderr = malformed.status === 'rejected' ? String((malformed.reason as { stderr: string }).stderr) : '';
    expect(stderr).toMatch(/line 4:\d+ format: /);
    expect(stderr).toMatch(/contextLength: /);
    expect(stderr).toMatch(/version: /);
    expect(malformedJson).toMatchObject({
      status: 'rejected',
      reason: { code: 1, stdout: expect.stringMatching(/"code": "InvalidManifest"/) }
    });
    expect(identity).toMatchObject({ status: 'rejected', reason: { code: 1, stderr: expect.stringMatching(/is not a PEM private key/) } });
    expect(noRegistry).toMatchObject({
      status: 'rejected',
      reason: { code: 1, stderr: expect.stringMatching(/run `deai deploy`.*or pass --registry/) }
    });
  });

  it('models publish reads no more than the registry’s manifest limit: /dev/zero and a sparse 4 GiB file fail at once', async () => {
    const sparse = join(dir, 'huge.yaml');
    writeFileSync(sparse, '');
    truncateSync(sparse, 4 * 1024 ** 3); // all holes: costs no disk, but reading it whole would need 4 GiB
    for (const file of ['/dev/zero', sparse]) {
      const failure = await cli('models', 'publish', file, '--json').then(
        () => undefined,
        (error: { code: number; stdout: string }) => error
      );
      expect(failure?.code).toBe(1);
      expect(JSON.parse(failure?.stdout ?? '{}')).toEqual({
        error: {
          code: 'ManifestTooLarge',
          message: `${file} is larger than 32768 bytes, the most the registry accepts for a manifest (MAX_MANIFEST_BYTES)`
        }
      });
    }
    const human = await cli('models', 'publish', '/dev/zero').catch((error: { code: number; stderr: string }) => error);
    expect(human).toMatchObject({ code: 1, stderr: expect.stringContaining('is larger than 32768 bytes') });
  });

  it('runners find lists the live runner, as a table and as JSON', async () => {
    const [human, machine] = await Promise.all([
      cli('runners', 'find', '--model', cardId),
      json('runners', 'find', '--model', cardId, '--limit', '1')
    ]);
    expect(human.stdout).toMatch(/RUNNER\s+ENGINE\s+STATE\s+FREE SLOTS\s+SCORE\s+PRICE \(IN\/OUT PER M\)\s+CONTEXT/);
    expect(human.stdout).toMatch(new RegExp(`${runner.getPrincipal().toText()}\\s+llama\\.cpp.*\\s8192\\s*$`, 'm'));
    expect(machine).toEqual([
      expect.objectContaining({
        runner: runner.getPrincipal().toText(),
        engine: 'llama.cpp',
        freeSlots: 2,
        inputPricePerMillion: '1000',
        servedContext: '8192'
      })
    ]);
  });

  it('task submit, status (review), accept and reject, with a runner completing the tasks', async () => {
    const asRunner = await t.tasks(runner);
    const submitted = (await json(
      'task',
      'submit',
      '--model',
      cardId,
      '--prompt',
      'Say hello.',
      '--reward',
      String(REWARD),
      '--max-tokens',
      '64'
    )) as { id: string; state: string; rewardE8s: string };
    expect(submitted).toMatchObject({ state: 'queued', rewardE8s: String(REWARD) });
    // Priced at the runner's 1,000 / 3,000 per million: 'Say hello.' ≤ 522 input tokens and 64 output tokens: 1 e8s.
    expect(await json('task', 'quote', '--model', cardId, '--prompt', 'Say hello.', '--max-tokens', '64')).toMatchObject({
      model: cardId,
      minCostE8s: '1',
      minBudgetE8s: '100000'
    });
    expect((await cli('task', 'quote', '--model', cardId, '--max-tokens', '64')).stdout).toMatch(/budget to offer\s+100000 e8s/);
    okOf(await asRunner.claim_task([submitted.id]));
    okOf(await asRunner.complete_task(submitted.id, resultArgs('Hello!')));

    const status = await cli('task', 'status', submitted.id);
    expect(status.stdout).toMatch(/state\s+review/);
    expect(status.stdout).toContain('Hello!');
    expect(await json('task', 'status', submitted.id)).toMatchObject({
      id: submitted.id,
      state: 'review',
      results: [{ runner: runner.getPrincipal().toText(), output: 'Hello!', outputTokens: '34', costE8s: '1' }]
    });
    expect((await cli('task', 'accept', submitted.id)).stdout).toContain(`Task ${submitted.id} accepted.`);
    expect(await json('task', 'status', submitted.id)).toMatchObject({ state: 'accepted' });

    const second = await cli('task', 'submit', '--model', cardId, '--prompt', 'Say bye.', '--reward', String(REWARD));
    const id = /Submitted task (\S+)/.exec(second.stdout)?.[1] ?? '';
    okOf(await asRunner.claim_task([id]));
    okOf(await asRunner.complete_task(id, resultArgs('Hallo!')));
    expect(await json('task', 'reject', id, '--reason', 'wrong language')).toMatchObject({ id, state: 'rejected' });
    await expect(cli('task', 'status', 'no-such-task')).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/does not exist/) });
  });

  it('task submit takes the full request (region, price ceilings, confidential, quantization, context, affinity)', async () => {
    const submitted = (await json(
      ...['task', 'submit', '--model', cardId, '--prompt', 'Constrained.', '--reward', String(REWARD)],
      ...['--region', 'ap-south', '--max-input-price', '2000', '--max-output-price', '6000', '--confidential'],
      ...['--quantization', 'Q4_K_M', '--quantization', 'Q8_0', '--min-context', '4096', '--affinity-key', 'session-9']
    )) as { id: string };
    const view = (await (await t.tasks(t.admin)).get_task(submitted.id))[0];
    expect(view?.request).toMatchObject({
      region: ['ap-south'],
      max_input_price_per_million: [2_000n],
      max_output_price_per_million: [6_000n],
      confidential_required: [true],
      quantizations: [['Q4_K_M', 'Q8_0']],
      min_context: [4096n],
      affinity_key: ['session-9']
    });
    expect(errOf(await (await t.tasks(runner)).claim_task([submitted.id]))).toEqual({ NotServing: { model: cardId } });
    await expect(cli('task', 'submit', '--model', cardId, '--prompt', 'x', '--reward', '1', '--min-bits', '64')).rejects.toMatchObject({
      stderr: expect.stringMatching(/bits per weight/)
    });
  });

  it('ledger balance and transfer, in human and JSON form', async () => {
    // A requester of its own: refunds of the rejected task above land on the first one asynchronously (timer).
    const payer = await t.requester(FUNDS);
    const payerPem = join(dir, 'payer.pem');
    writeFileSync(payerPem, ed25519Pem(payer));
    const cli = (...args: string[]) =>
      exec(process.execPath, [deai, ...args, '--host', net.url, '--registry', t.registry.toText(), '--identity', payerPem], {
        cwd: dir,
        timeout: 60_000
      });
    const json = async (...args: string[]): Promise<unknown> => JSON.parse((await cli(...args, '--json')).stdout) as unknown;
    const me = payer.getPrincipal().toText();
    const before = FUNDS;
    expect((await cli('ledger', 'balance')).stdout).toContain(`${me}: ${before} e8s`);
    const other = Ed25519KeyIdentity.generate().getPrincipal().toText();
    expect((await cli('ledger', 'transfer', '--to', other, '--amount', '5000')).stdout).toMatch(
      new RegExp(`Sent 5000 e8s to ${other} \\(block \\d+\\)`)
    );
    expect(await json('ledger', 'transfer', '--to', other, '--amount', '7000')).toMatchObject({ from: me, to: other, amountE8s: '7000' });
    expect(await json('ledger', 'balance', '--of', other)).toEqual({ owner: other, balanceE8s: '12000' });
    expect(await json('ledger', 'balance')).toEqual({ owner: me, balanceE8s: String(before - 12_000n - 2n * FEE) });
    await expect(cli('ledger', 'transfer', '--to', other, '--amount', String(FUNDS * 10n))).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/InsufficientFunds/)
    });
  });
});
