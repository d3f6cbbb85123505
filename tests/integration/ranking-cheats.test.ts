import { Ed25519KeyIdentity } from '@dfinity/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Candidate } from '../../src/interface/registry/index.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { deployment, digestOf, modelCard, runnerManifest } from '../support/manifests.ts';
import { errOf, findRequest, heartbeatArgs, okOf } from '../support/registry.ts';
import { resultArgs, taskNetwork, type TaskNetwork } from '../support/tasks.ts';

/**
 * The ranking and routing cheats of issue 16, tried through the real interface on the built Wasm: each one worked on
 * the code before plausibility bounds, clamped ranking, measured latency, unverified confidential claims, affinity by
 * service and the routing window.
 */

const FUNDS = 100_000_000n;
const MAX_RATIO_COMPONENT = 8 / 9;

/** The rendezvous weight the old affinity used (FNV-1a of key, NUL, runner id): what an attacker grinds identities on. */
function oldAffinityWeight(key: string, runnerId: string): number {
  const text = `${key}\u0000${runnerId}`;
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

describe('ranking and routing cannot be captured by claimed figures (built Wasm on the localnet)', () => {
  let net: Localnet;
  let t: TaskNetwork;

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    t = await taskNetwork(net, { routingWindowSeconds: 3n });
  });
  afterAll(async () => {
    await net.stop();
  });

  /** A card of its own per test, so that each test's find_runners sees only its runners. */
  async function publish(name: string, overrides: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const card = modelCard({ id: `cheats/${name}`, digest: digestOf(name), ...overrides });
    okOf(await (await t.tasks(t.admin)).publish_model_card(JSON.stringify(card)));
    return card;
  }

  async function runner(
    card: Record<string, unknown>,
    deploymentOverrides: Record<string, unknown> = {},
    manifestOverrides: Record<string, unknown> = {},
    identity = Ed25519KeyIdentity.generate()
  ): Promise<Ed25519KeyIdentity> {
    const actor = await t.tasks(identity);
    const manifest = runnerManifest(identity.getPrincipal().toText(), [deployment(card, deploymentOverrides)], manifestOverrides);
    okOf(await actor.register_runner(JSON.stringify(manifest)));
    okOf(await actor.heartbeat(heartbeatArgs()));
    return identity;
  }

  async function find(card: Record<string, unknown>, overrides: Parameters<typeof findRequest>[0] = {}, as = t.admin) {
    return okOf(await (await t.tasks(as)).find_runners(findRequest({ model: [String(card.id)], ...overrides })));
  }

  const byRunner = (candidates: Candidate[], identity: Ed25519KeyIdentity): Candidate | undefined =>
    candidates.find((c) => c.runner.toText() === identity.getPrincipal().toText());

  it('refuses 64 GPUs of 10,000 GiB, 1e-300 watts, an unbounded price and 10,000,000 tokens of context on a 2,048-token card', async () => {
    const small = await publish('small-context', { contextLength: 2048 });
    const cheat = await t.tasks(Ed25519KeyIdentity.generate());
    const op = Ed25519KeyIdentity.generate().getPrincipal().toText();
    const hardware = (accelerator: Record<string, unknown>) => ({
      hardware: { accelerators: [accelerator], cpu: { cores: 16, architecture: 'x86_64' }, ramGiB: 64 }
    });
    const impossible = [
      runnerManifest(
        op,
        [deployment(small, { servedContext: 2048 })],
        hardware({ class: 'gpu', vendor: 'v', model: 'm', memoryGiB: 10_000, count: 64 })
      ),
      runnerManifest(
        op,
        [deployment(small, { servedContext: 2048 })],
        hardware({ class: 'gpu', vendor: 'v', model: 'm', memoryGiB: 24, count: 1, peakTops: 1000, watts: 1e-300 })
      ),
      runnerManifest(op, [
        deployment(small, { servedContext: 2048, price: { inputPerMillion: '18446744073709551615', outputPerMillion: 0 } })
      ]),
      runnerManifest(op, [deployment(small, { servedContext: 10_000_000 })])
    ];
    for (const manifest of impossible)
      expect(errOf(await cheat.register_runner(JSON.stringify(manifest)))).toHaveProperty('InvalidManifest');
    expect(errOf(await cheat.register_runner(JSON.stringify(impossible[3])))).toEqual({
      InvalidManifest: {
        issues: [
          {
            path: 'deployments[0].servedContext',
            message: `implausible: serves 10000000 tokens of context, more than the 2048 of card cheats/small-context@${String(small.digest)}`
          }
        ]
      }
    });
  });

  it('a price of 0 does not zero every other runner’s price component', async () => {
    const card = await publish('free-rider');
    const honest = [await runner(card), await runner(card)];
    const free = await runner(card, { price: { inputPerMillion: 0, outputPerMillion: 0 } });
    const found = await find(card);
    for (const h of honest) expect(byRunner(found, h)?.breakdown.price).toBe(0.5);
    expect(byRunner(found, free)?.breakdown.price).toBeCloseTo(MAX_RATIO_COMPONENT, 9);
  });

  it('an accelerator claiming near-infinite TOPS per watt cannot get in, nor dominate at the physical ceiling', async () => {
    const card = await publish('efficiency');
    const honest = [await runner(card), await runner(card)];
    const ceiling = await runner(
      card,
      {},
      {
        hardware: {
          accelerators: [{ class: 'npu', vendor: 'v', model: 'm', memoryGiB: 0, count: 1, peakTops: 50, watts: 1 }],
          cpu: { cores: 8, architecture: 'aarch64' },
          ramGiB: 16
        }
      }
    );
    const found = await find(card);
    for (const h of honest) expect(byRunner(found, h)?.breakdown.efficiency).toBe(0.5);
    expect(byRunner(found, ceiling)?.breakdown.efficiency).toBeCloseTo(MAX_RATIO_COMPONENT, 9);
  });

  it('a self-reported total_ms of 1e-300 does not win latency: ranking uses what the registry measured', async () => {
    const card = await publish('latency');
    const requester = await t.requester(FUNDS, FUNDS);
    const submitter = await t.tasks(requester);
    const honest = await runner(card);
    const liar = await runner(card);
    const submit = async (key: string) =>
      okOf(await submitter.submit_task(t.submitArgs(key, { request: findRequest({ model: [String(card.id)] }) }))).id;
    const slow = await submit('latency-liar');
    okOf(await (await t.tasks(liar)).claim_task([slow]));
    await net.advanceTime(20_000);
    okOf(await (await t.tasks(liar)).complete_task(slow, resultArgs('slow', { first_token_ms: 0, total_ms: 1e-300 })));
    const quick = await submit('latency-honest');
    okOf(await (await t.tasks(honest)).claim_task([quick]));
    okOf(await (await t.tasks(honest)).complete_task(quick, resultArgs('quick', { total_ms: 400 })));
    for (const r of [honest, liar]) okOf(await (await t.tasks(r)).heartbeat(heartbeatArgs()));
    const found = await find(card);
    const liarLatency = byRunner(found, liar)?.breakdown.latency ?? 1;
    expect(byRunner(found, honest)?.breakdown.latency).toBeGreaterThan(liarLatency);
    expect(liarLatency).toBeLessThan(0.5);
    const measured = (await (await t.tasks(t.admin)).get_reputation(liar.getPrincipal()))[0]?.latency_ms_ema ?? 0;
    expect(measured).toBeGreaterThanOrEqual(20_000);
  });

  it('a made-up confidential-computing evidence digest is shown unverified and does not pass a confidential filter', async () => {
    const card = await publish('confidential');
    const evidence = digestOf('made-up attestation');
    const claimant = await runner(card, {}, { confidential: { kind: 'sev-snp', evidenceDigest: evidence } });
    const view = (await (await t.tasks(t.admin)).get_runner(claimant.getPrincipal()))[0];
    expect(view?.confidential).toEqual({ kind: 'sev-snp', evidence_digest: [evidence], verified: false });
    expect(byRunner(await find(card), claimant)).toMatchObject({ confidential_kind: 'sev-snp', confidential_verified: false });
    expect(await find(card, { confidential_required: [true] })).toEqual([]);
  });

  it('six ground identities cannot hijack an affinity key: the session stays on the runner that served it', async () => {
    const card = await publish('affinity');
    const key = 'session-42';
    const requester = await t.requester(FUNDS, FUNDS);
    const submitter = await t.tasks(requester);
    const served = await runner(card);
    const id = okOf(
      await submitter.submit_task(t.submitArgs('affinity-1', { request: findRequest({ model: [String(card.id)], affinity_key: [key] }) }))
    ).id;
    okOf(await (await t.tasks(served)).claim_task([id]));
    okOf(await (await t.tasks(served)).complete_task(id, resultArgs('hello')));
    okOf(await submitter.accept_task(id));
    // The attacker grinds identities until six outweigh the serving runner on the key, and prices them at 0.
    const target = oldAffinityWeight(key, served.getPrincipal().toText());
    const sybils: Ed25519KeyIdentity[] = [];
    while (sybils.length < 6) {
      const identity = Ed25519KeyIdentity.generate();
      if (oldAffinityWeight(key, identity.getPrincipal().toText()) > target) sybils.push(identity);
    }
    for (const sybil of sybils) await runner(card, { price: { inputPerMillion: 0, outputPerMillion: 0 } }, {}, sybil);
    okOf(await (await t.tasks(served)).heartbeat(heartbeatArgs()));
    const [first] = await find(card, { affinity_key: [key] }, requester);
    expect(first?.runner.toText()).toBe(served.getPrincipal().toText());
    expect(first?.affinity).toBe(true);
    // The requester's next task with the key is offered to that runner first; the Sybils cannot take it in the window.
    const next = okOf(
      await submitter.submit_task(t.submitArgs('affinity-2', { request: findRequest({ model: [String(card.id)], affinity_key: [key] }) }))
    ).id;
    expect(errOf(await (await t.tasks(sybils[0] ?? served)).claim_task([next]))).toHaveProperty('TaskNotClaimable');
    expect(okOf(await (await t.tasks(served)).claim_task([])).id).toBe(next);
  });

  it('paid tasks are offered first to the best-ranked eligible runners, then to all after the routing window', async () => {
    const card = await publish('routing');
    const requester = await t.requester(FUNDS, FUNDS);
    const submitter = await t.tasks(requester);
    const best = [await runner(card), await runner(card), await runner(card)];
    const dear = await runner(card, { price: { inputPerMillion: 50_000, outputPerMillion: 150_000 } });
    const submit = async (key: string) =>
      okOf(await submitter.submit_task(t.submitArgs(key, { request: findRequest({ model: [String(card.id)] }) }))).id;
    const first = await submit('routing-1');
    expect(errOf(await (await t.tasks(dear)).claim_task([]))).toEqual({ NotFound: { kind: { ClaimableTask: null }, id: '' } });
    expect(errOf(await (await t.tasks(dear)).claim_task([first]))).toHaveProperty('TaskNotClaimable');
    expect((await (await t.tasks(dear)).list_claimable()).map((s) => s.id)).not.toContain(first);
    expect(okOf(await (await t.tasks(best[0] ?? dear)).claim_task([])).id).toBe(first);
    const second = await submit('routing-2');
    const window = (await (await t.tasks(t.admin)).get_task_config()).routing_window_ns;
    await net.advanceTime(Number(window / 1_000_000n) + 1000);
    okOf(await (await t.tasks(dear)).heartbeat(heartbeatArgs()));
    expect(okOf(await (await t.tasks(dear)).claim_task([])).id).toBe(second);
  });
});
