import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { AnonymousIdentity, type HttpAgent } from '@dfinity/agent';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import type { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { IDL } from '@dfinity/candid';

import { idlDifference } from '../../src/interface/did/equal.ts';
import { parseDid } from '../../src/interface/did/parse.ts';
import { registryIdlFactory, registryInitArgs } from '../../src/interface/registry/index.ts';
import { safeValidateModelCard, safeValidateRunnerManifest } from '../../src/core/manifest/index.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { deployment, digestOf, modelCard, runnerManifest } from '../support/manifests.ts';
import { agentFor } from '../support/probe.ts';
import { errOf, findRequest, heartbeatArgs, okOf, registryActor, registryWasm, type RegistryActor } from '../support/registry.ts';

const json = (value: unknown): string => JSON.stringify(value);
const TTL_SECONDS = 180n;

describe('registry canister (built Wasm on the localnet, through @dfinity/agent)', () => {
  let net: Localnet;
  let registry: Principal;
  const admin = Ed25519KeyIdentity.generate();
  const operator = Ed25519KeyIdentity.generate();
  const stranger = Ed25519KeyIdentity.generate();
  const runners = [Ed25519KeyIdentity.generate(), Ed25519KeyIdentity.generate(), Ed25519KeyIdentity.generate()];
  const agents = new Map<string, HttpAgent>();
  const as = async (identity: Ed25519KeyIdentity | AnonymousIdentity): Promise<RegistryActor> => {
    const key = identity.getPrincipal().toText();
    let agent = agents.get(key);
    if (agent === undefined) {
      agent = await agentFor(net.url, identity);
      agents.set(key, agent);
    }
    return registryActor(agent, registry);
  };
  const card = modelCard();
  const cheapCard = modelCard({
    id: 'qwen/Qwen2.5-7B-Instruct-AWQ',
    family: 'qwen',
    architecture: 'qwen2',
    format: 'safetensors',
    quantization: { method: 'awq', bits: 4 },
    base: undefined,
    license: 'apache-2.0',
    digest: digestOf('qwen-awq')
  });

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    registry = await net.installCanister({
      wasm: registryWasm(),
      arg: registryInitArgs({ admins: [admin.getPrincipal()], heartbeatIntervalSeconds: 60n, heartbeatTtlSeconds: TTL_SECONDS })
    });
  });
  afterAll(async () => {
    await net.stop();
  });

  it('publishes content-addressed model cards and refuses silent replacement', async () => {
    const publisher = await as(operator);
    expect(okOf(await publisher.publish_model_card(json(card)))).toEqual({ id: card.id, digest: card.digest });
    expect(okOf(await publisher.publish_model_card(json(card)))).toEqual({ id: card.id, digest: card.digest }); // idempotent
    expect(errOf(await publisher.publish_model_card(json({ ...card, family: 'other' })))).toHaveProperty('CardImmutable');
    expect(errOf(await publisher.publish_model_card(json({ ...card, digest: digestOf('v2') })))).toHaveProperty('CardImmutable'); // version 1.0.0 reused
    okOf(await publisher.publish_model_card(json({ ...card, version: '1.1.0', digest: digestOf('v2') })));
    okOf(await publisher.publish_model_card(json(cheapCard)));
    const [latest] = await publisher.get_model_card(card.id as string, []);
    expect(latest?.version).toBe('1.1.0');
    const [pinned] = await publisher.get_model_card(card.id as string, [card.digest as string]);
    expect(pinned?.version).toBe('1.0.0');
    expect(pinned?.quantization).toBe('Q4_K_M');
  });

  it('rejects invalid manifests with the field path, anonymous writers and oversized input', async () => {
    const publisher = await as(operator);
    const invalid = errOf(await publisher.publish_model_card(json({ ...card, quantization: { method: 'Q9_Z', bits: 4 } })));
    expect(JSON.stringify(invalid)).toMatch(/quantization\.method/);
    expect(errOf(await publisher.publish_model_card('{not json'))).toHaveProperty('InvalidManifest');
    // Past the method's argument cap (and from the anonymous principal) ingress is refused by inspect_message (IC0406).
    await expect(publisher.publish_model_card('x'.repeat(70_000))).rejects.toThrow(/rejected the message|IC0406/);
    await expect((await as(new AnonymousIdentity())).publish_model_card(json(card))).rejects.toThrow(/rejected the message|IC0406/);
  });

  it('answers a typed error to deeply nested JSON instead of trapping on a stack overflow', async () => {
    const publisher = await as(operator);
    // A card holds at most 96 brackets, so it cannot nest deeper than that: no scan of its characters is needed.
    expect(errOf(await publisher.publish_model_card('['.repeat(6_000)))).toEqual({
      LimitExceeded: { what: 'model card brackets ([ and {)', limit: 96n }
    });
    expect(errOf(await publisher.publish_model_card(json({ ...card, extra: JSON.parse('['.repeat(40) + ']'.repeat(40)) })))).toEqual({
      InvalidManifest: { issues: [{ path: 'extra', message: expect.stringMatching(/^unknown field "extra"/) as unknown }] }
    });
    // A manifest likewise holds at most 256 brackets, counted on its bytes before they are decoded.
    expect(errOf(await (await as(stranger)).register_runner('{"a":'.repeat(5_000)))).toEqual({
      LimitExceeded: { what: 'manifest brackets ([ and {)', limit: 256n }
    });
  });

  it('refuses bidi controls and zero-width characters in manifests on chain, as off-chain validation does', async () => {
    const publisher = await as(operator);
    const mistakes: Array<Record<string, unknown>> = [
      { ...card, version: '1.0.0\u202e' },
      { ...card, quantization: { method: 'Q4_K_M', bits: 4.5, label: 'Q4\u200b_K_M' } }
    ];
    for (const mistake of mistakes) {
      const offChain = safeValidateModelCard(JSON.parse(JSON.stringify(mistake)));
      if (offChain.ok) throw new Error(`off-chain validation accepted ${JSON.stringify(mistake)}`);
      expect(offChain.issues).toHaveLength(1);
      const onChain = errOf(await publisher.publish_model_card(json(mistake)));
      expect(onChain).toEqual({ InvalidManifest: { issues: offChain.issues.map(({ path, message }) => ({ path, message })) } });
    }
  });

  it('rejects the same manifest mistakes, with the same paths and messages, as off-chain validation', async () => {
    const publisher = await as(operator);
    const mistakes: Array<Record<string, unknown>> = [
      { ...card, extra: true },
      { ...card, digest: 'sha256:xyz' },
      { ...card, format: 'pickle' },
      { ...card, contextLength: -1 },
      { ...card, modalities: { input: ['text', 'text'], output: ['text'] } },
      { ...card, parameters: { total: 10, active: 20 } },
      { ...card, apiVersion: 'deai.dev/v0' }
    ];
    for (const mistake of mistakes) {
      const offChain = safeValidateModelCard(JSON.parse(JSON.stringify(mistake)));
      if (offChain.ok) throw new Error(`off-chain validation accepted ${JSON.stringify(mistake)}`);
      const onChain = errOf(await publisher.publish_model_card(json(mistake)));
      expect(onChain).toEqual({ InvalidManifest: { issues: offChain.issues.map(({ path, message }) => ({ path, message })) } });
    }
    const runnerMistake = runnerManifest(operator.getPrincipal().toText(), [deployment(card, { engine: 'tensorrt' })], {
      confidential: { kind: 'sgx' }
    });
    const offChain = safeValidateRunnerManifest(runnerMistake);
    if (offChain.ok) throw new Error('off-chain validation accepted the runner mistake');
    expect(errOf(await (await as(stranger)).register_runner(json(runnerMistake)))).toEqual({
      InvalidManifest: { issues: offChain.issues.map(({ path, message }) => ({ path, message })) }
    });
  });

  it('refuses every mutation from the anonymous principal', async () => {
    const anonymous = await as(new AnonymousIdentity());
    const someone = stranger.getPrincipal();
    const manifest = json(runnerManifest(operator.getPrincipal().toText(), [deployment(card)]));
    // Ingress from the anonymous principal is refused by inspect_message before any method runs (IC0406); the
    // methods' own AnonymousCaller check (for calls from canisters, which skip inspection) is unit-tested in core.
    const refused = /rejected the message|IC0406/;
    await expect(anonymous.register_runner(manifest)).rejects.toThrow(refused);
    await expect(anonymous.update_runner(someone, manifest)).rejects.toThrow(refused);
    await expect(anonymous.deregister_runner(someone)).rejects.toThrow(refused);
    await expect(anonymous.heartbeat(heartbeatArgs())).rejects.toThrow(refused);
    await expect(anonymous.deprecate_model_card({ id: card.id as string, digest: card.digest as string }, 'x')).rejects.toThrow(refused);
    await expect(anonymous.suspend_runner(someone, 'x')).rejects.toThrow(refused);
    await expect(anonymous.unsuspend_runner(someone)).rejects.toThrow(refused);
    await expect(anonymous.set_admins([])).rejects.toThrow(refused);
  });

  it('lists cards with filters and pagination (pages of at most 100)', async () => {
    const reader = await as(new AnonymousIdentity());
    const noFilter: Parameters<RegistryActor['list_model_cards']>[0] = {
      id: [],
      family: [],
      format: [],
      quantization: [],
      include_deprecated: []
    };
    const first = okOf(await reader.list_model_cards({ ...noFilter }, { after: [], limit: [2] }));
    expect(first.items.length).toBe(2);
    const next = first.next[0];
    if (next === undefined) throw new Error('expected a next cursor');
    const second = okOf(await reader.list_model_cards({ ...noFilter }, { after: [next], limit: [2] }));
    expect(second.items.map((c) => `${c.id}@${c.digest}`)).not.toContain(`${first.items[0]?.id}@${first.items[0]?.digest}`);
    const qwen = okOf(await reader.list_model_cards({ ...noFilter, family: ['qwen'] }, { after: [], limit: [] }));
    expect(qwen.items.map((c) => c.id)).toEqual([cheapCard.id]);
    expect(errOf(await reader.list_model_cards({ ...noFilter }, { after: [], limit: [101] }))).toHaveProperty('InvalidArgument');
  });

  it('registers runners only for published cards; only the runner or its operator, once it accepted, may change them', async () => {
    const op = operator.getPrincipal().toText();
    const r0 = await as(runners[0] ?? stranger);
    expect(
      errOf(await r0.register_runner(json(runnerManifest(op, [deployment(modelCard({ digest: digestOf('unpublished') }))]))))
    ).toHaveProperty('CardNotPublished');
    const view = okOf(await r0.register_runner(json(runnerManifest(op, [deployment(card)]))));
    expect(view.id.toText()).toBe(runners[0]?.getPrincipal().toText());
    expect(view.live).toBe(false); // no heartbeat yet
    expect(errOf(await r0.register_runner(json(runnerManifest(op, [deployment(card)]))))).toHaveProperty('AlreadyExists');
    const id = runners[0]?.getPrincipal();
    if (id === undefined) throw new Error('no runner');
    expect(errOf(await (await as(stranger)).update_runner(id, json(runnerManifest(op, [deployment(card)]))))).toHaveProperty(
      'Unauthorized'
    );
    // The operator the manifest names manages the runner only once it accepted being named (issue 16).
    const asOperator = await as(operator);
    expect(errOf(await asOperator.update_runner(id, json(runnerManifest(op, [deployment(card, { slots: 8 })]))))).toEqual({
      Unauthorized: { reason: 'only the runner itself or its operator (once it accepted) may manage it' }
    });
    expect(errOf(await asOperator.deregister_runner(id))).toHaveProperty('Unauthorized');
    okOf(await asOperator.accept_operator(id));
    const updated = okOf(await asOperator.update_runner(id, json(runnerManifest(op, [deployment(card, { slots: 8 })]))));
    expect(updated.deployments[0]?.slots).toBe(8);
    expect(errOf(await (await as(stranger)).deregister_runner(id))).toHaveProperty('Unauthorized');
    expect(errOf(await (await as(operator)).deregister_runner(stranger.getPrincipal()))).toHaveProperty('NotFound');
  });

  it('ranks live runners with an explanation, and drops runners whose heartbeat is older than the TTL', async () => {
    const op = operator.getPrincipal().toText();
    const [r0, r1, r2] = runners.map((r) => r.getPrincipal());
    if (r0 === undefined || r1 === undefined || r2 === undefined) throw new Error('runners');
    okOf(
      await (
        await as(runners[1] ?? stranger)
      ).register_runner(
        json(runnerManifest(op, [deployment(card, { price: { inputPerMillion: 500, outputPerMillion: 1500 } })], { region: 'us-east' }))
      )
    );
    okOf(
      await (
        await as(runners[2] ?? stranger)
      ).register_runner(
        json(
          runnerManifest(op, [deployment(card), deployment(cheapCard, { engine: 'vllm', engineVersion: '0.6.3' })], {
            hardware: { accelerators: [], cpu: { cores: 32, architecture: 'x86_64' }, ramGiB: 128 },
            endpoint: undefined
          })
        )
      )
    );
    expect(okOf(await (await as(runners[0] ?? stranger)).find_runners(findRequest({ model: [card.id as string] })))).toEqual([]);
    okOf(await (await as(runners[0] ?? stranger)).heartbeat(heartbeatArgs({ busy_slots: 6 })));
    okOf(await (await as(runners[1] ?? stranger)).heartbeat(heartbeatArgs({ busy_slots: 0 })));
    okOf(await (await as(runners[2] ?? stranger)).heartbeat(heartbeatArgs({ busy_slots: 0, state: 'busy' })));
    const reader = await as(new AnonymousIdentity());
    const ranked = okOf(await reader.find_runners(findRequest({ model: [card.id as string] })));
    expect(ranked.map((c) => c.runner.toText())).toEqual([r1.toText(), r2.toText(), r0.toText()]);
    expect(ranked.map((c) => c.endpoint)).toEqual(['https://runner.example.org', '', 'https://runner.example.org']);
    // The context each serves the model with, as registered: what a router needs to send a long request where it fits.
    expect(ranked.map((c) => c.served_context)).toEqual([[8192n], [8192n], [8192n]]);
    const best = ranked[0];
    // Price relative to the candidates' median blended price (4,000): r1's 2,000 is about twice as cheap.
    expect(best?.breakdown.price).toBeCloseTo(4001 / 2001 / (1 + 4001 / 2001), 6);
    expect(best?.breakdown.load).toBe(1);
    expect(best?.score).toBeGreaterThan(ranked[2]?.score ?? Infinity);
    expect(
      okOf(await reader.find_runners(findRequest({ model: [card.id as string], region: ['us-east'] }))).map((c) => c.runner.toText())
    ).toEqual([r1.toText()]);
    expect(okOf(await reader.find_runners(findRequest({ accelerator_class: ['cpu'] }))).map((c) => c.runner.toText())).toEqual([
      r2.toText(),
      r2.toText()
    ]);
    expect(
      okOf(await reader.find_runners(findRequest({ endpoint_required: [true], model: [card.id as string] })))
        .map((c) => c.runner.toText())
        .sort()
    ).toEqual([r0.toText(), r1.toText()].sort());
    expect(okOf(await reader.find_runners(findRequest({ quantizations: [['awq']] }))).map((c) => c.engine)).toEqual(['vllm']);
    expect(errOf(await reader.find_runners(findRequest({ limit: [500] })))).toHaveProperty('InvalidArgument');

    // r1 stops heartbeating: after the TTL it is gone without anyone calling it.
    await net.advanceTime(Number(TTL_SECONDS) * 1000 - 30_000);
    okOf(await (await as(runners[0] ?? stranger)).heartbeat(heartbeatArgs()));
    okOf(await (await as(runners[2] ?? stranger)).heartbeat(heartbeatArgs()));
    await net.advanceTime(60_000);
    const after = okOf(await reader.find_runners(findRequest({ model: [card.id as string] })));
    expect(after.map((c) => c.runner.toText())).not.toContain(r1.toText());
    expect((await reader.get_runner(r1))[0]?.live).toBe(false);
  });

  it('pins no runner for an affinity key no runner served: nothing to grind identities for', async () => {
    const reader = await as(new AnonymousIdentity());
    for (const r of runners) okOf(await (await as(r)).heartbeat(heartbeatArgs()));
    const order = async (key?: string) =>
      okOf(await reader.find_runners(findRequest({ model: [card.id as string], affinity_key: key === undefined ? [] : [key] })));
    const ids = async (key?: string) => (await order(key)).map((c) => c.runner.toText());
    for (const key of ['session-a', 'session-b', 'session-c', 'session-d', 'session-e']) {
      // Scores are whole points and heartbeat freshness decays with the clock, so two runners a point apart may swap
      // between calls (and swap back as a third one's score drops to a tie): the keyed order must equal the plain order
      // just before or just after it, in one of a few tries. A key that reordered runners would do so in every try.
      const tries: Array<{ before: string[]; keyed: string[]; after: string[] }> = [];
      for (let attempt = 0; attempt < 5; attempt++) {
        const before = await ids();
        const keyed = await order(key);
        const after = await ids();
        expect(keyed.some((c) => c.affinity)).toBe(false);
        tries.push({ before, keyed: keyed.map((c) => c.runner.toText()), after });
        const last = tries[tries.length - 1]!;
        if ([last.before, last.after].some((plain) => plain.join() === last.keyed.join())) break;
      }
      const last = tries[tries.length - 1]!;
      expect([last.before, last.after], JSON.stringify(tries)).toContainEqual(last.keyed);
    }
  });

  it('validates heartbeats and reports per-model stats', async () => {
    const r0 = await as(runners[0] ?? stranger);
    expect(errOf(await r0.heartbeat(heartbeatArgs({ state: 'sleeping' })))).toHaveProperty('InvalidArgument');
    expect(errOf(await r0.heartbeat(heartbeatArgs({ busy_slots: 1000 })))).toHaveProperty('InvalidArgument');
    expect(errOf(await r0.heartbeat(heartbeatArgs({ kv_cache_usage: 2 })))).toHaveProperty('InvalidArgument');
    expect(errOf(await (await as(stranger)).heartbeat(heartbeatArgs()))).toHaveProperty('NotFound');
    const stats = await (await as(new AnonymousIdentity())).stats();
    const llama = stats.find((s) => s.model === card.id);
    expect(llama?.ready_runners).toBeGreaterThanOrEqual(2);
  });

  it('lets admins deprecate cards and suspend runners, and only controllers set admins', async () => {
    const r2 = runners[2]?.getPrincipal();
    if (r2 === undefined) throw new Error('runner');
    expect(errOf(await (await as(stranger)).suspend_runner(r2, 'spam'))).toHaveProperty('Unauthorized');
    okOf(await (await as(admin)).suspend_runner(r2, 'reported for wrong outputs'));
    expect(errOf(await (await as(runners[2] ?? stranger)).heartbeat(heartbeatArgs()))).toEqual({
      Suspended: { reason: 'reported for wrong outputs' }
    });
    const reader = await as(new AnonymousIdentity());
    expect(okOf(await reader.find_runners(findRequest())).map((c) => c.runner.toText())).not.toContain(r2.toText());
    okOf(await (await as(admin)).unsuspend_runner(r2));

    okOf(await (await as(admin)).deprecate_model_card({ id: cheapCard.id as string, digest: cheapCard.digest as string }, 'superseded'));
    expect(errOf(await (await as(admin)).deprecate_model_card({ id: 'x/y', digest: digestOf('none') }, 'gone'))).toHaveProperty('NotFound');
    const newcomer = Ed25519KeyIdentity.generate();
    expect(
      errOf(await (await as(newcomer)).register_runner(json(runnerManifest(operator.getPrincipal().toText(), [deployment(cheapCard)]))))
    ).toHaveProperty('CardDeprecated');

    expect(errOf(await (await as(admin)).set_admins([stranger.getPrincipal()]))).toHaveProperty('Unauthorized');
    const config = await reader.get_config();
    expect(config.admins.map((a) => a.toText())).toEqual([admin.getPrincipal().toText()]);
    expect(config.heartbeat_ttl_ns).toBe(TTL_SECONDS * 1_000_000_000n);
  });

  it('lists runners with pagination and keeps everything across an upgrade', async () => {
    const reader = await as(new AnonymousIdentity());
    const page = okOf(await reader.list_runners({ model: [], live_only: [] }, { after: [], limit: [2] }));
    expect(page.items.length).toBe(2);
    const before = okOf(await reader.list_runners({ model: [], live_only: [] }, { after: [], limit: [100] })).items.map((r) =>
      r.id.toText()
    );
    const cardsBefore = okOf(
      await reader.list_model_cards(
        { id: [], family: [], format: [], quantization: [], include_deprecated: [true] },
        { after: [], limit: [100] }
      )
    ).items.length;
    await net.installCode(registry, 'upgrade', registryWasm(), registryInitArgs(undefined));
    const after = okOf(await reader.list_runners({ model: [], live_only: [] }, { after: [], limit: [100] })).items.map((r) =>
      r.id.toText()
    );
    expect(after).toEqual(before);
    expect(
      okOf(
        await reader.list_model_cards(
          { id: [], family: [], format: [], quantization: [], include_deprecated: [true] },
          { after: [], limit: [100] }
        )
      ).items.length
    ).toBe(cardsBefore);
    expect((await reader.get_config()).admins.map((a) => a.toText())).toEqual([admin.getPrincipal().toText()]);
    expect(okOf(await reader.find_runners(findRequest({ model: [card.id as string] }))).length).toBeGreaterThan(0);
  });

  it('has a client IDL that matches the registry.did azle generated from the decorators, method for method', () => {
    const did = readFileSync(join(import.meta.dirname, '..', '..', '.azle', 'registry', 'registry.generated.did'), 'utf8');
    const generated = parseDid(did).service;
    const declared = generated._fields.map(([name]) => name).sort();
    const client = registryIdlFactory({ IDL })
      ._fields.map(([name]) => name)
      .sort();
    expect(client).toEqual(declared);
    expect(idlDifference(registryIdlFactory({ IDL }), generated)).toBeUndefined();
  });
});
