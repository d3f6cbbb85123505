import { Ed25519KeyIdentity } from '@dfinity/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Localnet } from '../../src/localnet/localnet.ts';
import { deployment, digestOf, modelCard, runnerManifest } from '../support/manifests.ts';
import { errOf, findRequest, heartbeatArgs, okOf } from '../support/registry.ts';
import { taskNetwork, type TaskNetwork } from '../support/tasks.ts';

/**
 * Model identity on the built Wasm (issue 16): who may publish under an org, immutable versions, what "latest" means,
 * and requests and tasks pinned to exact weights. Each case is a cheat that worked before namespaces and pinning.
 */
const json = (value: unknown): string => JSON.stringify(value);

describe('model identity (built Wasm on the localnet, through @dfinity/agent)', () => {
  let net: Localnet;
  let t: TaskNetwork;

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    t = await taskNetwork(net);
  });
  afterAll(async () => {
    await net.stop();
  });

  /** A runner serving `card` (its own operator), registered and live. */
  async function runnerFor(card: Record<string, unknown>): Promise<Ed25519KeyIdentity> {
    const identity = Ed25519KeyIdentity.generate();
    const actor = await t.tasks(identity);
    okOf(await actor.register_runner(json(runnerManifest(identity.getPrincipal().toText(), [deployment(card, { slots: 2 })]))));
    okOf(await actor.heartbeat(heartbeatArgs()));
    return identity;
  }

  it('an org belongs to its first publisher: others (any spelling of the org) get NamespaceOwned', async () => {
    const owner = Ed25519KeyIdentity.generate();
    const squatter = Ed25519KeyIdentity.generate();
    okOf(await (await t.tasks(owner)).publish_model_card(json(modelCard({ id: 'acme/Acme-7B', digest: digestOf('acme-7b') }))));
    const asSquatter = await t.tasks(squatter);
    for (const id of ['acme/Acme-7B-Instruct', 'ACME/Acme-7B', 'Acme/Evil']) {
      expect(errOf(await asSquatter.publish_model_card(json(modelCard({ id, digest: digestOf(`squat-${id}`) }))))).toEqual({
        NamespaceOwned: { namespace: 'acme', owner: owner.getPrincipal().toText() }
      });
    }
    // The test network's admin published the default card first: meta-llama is the admin's.
    expect(errOf(await asSquatter.publish_model_card(json(modelCard({ digest: digestOf('fake-llama'), version: '9.0.0' }))))).toEqual({
      NamespaceOwned: { namespace: 'meta-llama', owner: t.admin.getPrincipal().toText() }
    });
    const record = (await asSquatter.get_namespace('ACME'))[0];
    expect(record?.owner.toText()).toBe(owner.getPrincipal().toText());
    expect(record?.how).toBe('published');
    expect(await asSquatter.get_namespace('nobody-yet')).toEqual([]);
    expect(await asSquatter.get_namespace('not/an-org')).toEqual([]);
  });

  it('owners delegate and revoke; only owners change delegation; bad arguments are typed errors', async () => {
    const owner = Ed25519KeyIdentity.generate();
    const delegate = Ed25519KeyIdentity.generate();
    const stranger = Ed25519KeyIdentity.generate();
    const asOwner = await t.tasks(owner);
    const asDelegate = await t.tasks(delegate);
    okOf(await asOwner.publish_model_card(json(modelCard({ id: 'orgd/Base', digest: digestOf('orgd-base') }))));
    const cardByDelegate = json(modelCard({ id: 'orgd/Tuned', digest: digestOf('orgd-tuned') }));
    expect(errOf(await asDelegate.publish_model_card(cardByDelegate))).toHaveProperty('NamespaceOwned');

    const delegated = okOf(await asOwner.delegate_namespace('orgd', delegate.getPrincipal()));
    expect(delegated.delegates.map((p) => p.toText())).toEqual([delegate.getPrincipal().toText()]);
    expect(okOf(await asOwner.delegate_namespace('orgd', delegate.getPrincipal())).delegates).toHaveLength(1); // idempotent
    okOf(await asDelegate.publish_model_card(cardByDelegate));

    // Only the owner changes delegation, and a delegate cannot delegate further.
    expect(errOf(await asDelegate.delegate_namespace('orgd', stranger.getPrincipal()))).toHaveProperty('NamespaceOwned');
    expect(errOf(await (await t.tasks(stranger)).revoke_namespace_delegate('orgd', delegate.getPrincipal()))).toHaveProperty(
      'NamespaceOwned'
    );
    expect(errOf(await asOwner.delegate_namespace('orgd', owner.getPrincipal()))).toEqual({
      InvalidArgument: { field: 'delegate', reason: 'the owner publishes without delegation' }
    });
    expect(errOf(await asOwner.delegate_namespace('bad org', delegate.getPrincipal()))).toHaveProperty(
      'InvalidArgument.field',
      'namespace'
    );
    expect(errOf(await asOwner.delegate_namespace('unclaimed-org', delegate.getPrincipal()))).toEqual({
      NotFound: { kind: { Namespace: null }, id: 'unclaimed-org' }
    });
    expect(errOf(await asOwner.revoke_namespace_delegate('orgd', stranger.getPrincipal()))).toHaveProperty(
      'InvalidArgument.field',
      'delegate'
    );

    okOf(await asOwner.revoke_namespace_delegate('orgd', delegate.getPrincipal()));
    expect(
      errOf(await asDelegate.publish_model_card(json(modelCard({ id: 'orgd/Tuned', version: '2.0.0', digest: digestOf('orgd-t2') }))))
    ).toHaveProperty('NamespaceOwned');

    // At most 16 delegates.
    for (let i = 0; i < 16; i++) okOf(await asOwner.delegate_namespace('orgd', Ed25519KeyIdentity.generate().getPrincipal()));
    expect(errOf(await asOwner.delegate_namespace('orgd', Ed25519KeyIdentity.generate().getPrincipal()))).toEqual({
      LimitExceeded: { what: 'namespace delegates', limit: 16n }
    });
  });

  it('admins assign a squatted org to its real owner: the squatter cannot publish more, and its cards are never "latest"', async () => {
    const squatter = Ed25519KeyIdentity.generate();
    const realOwner = Ed25519KeyIdentity.generate();
    const asSquatter = await t.tasks(squatter);
    const id = 'bigco/Big-70B';
    okOf(await asSquatter.publish_model_card(json(modelCard({ id, version: '99.0.0', digest: digestOf('bigco-fake') }))));
    expect(errOf(await asSquatter.assign_namespace('bigco', squatter.getPrincipal()))).toHaveProperty('Unauthorized');

    const assigned = okOf(await (await t.tasks(t.admin)).assign_namespace('bigco', realOwner.getPrincipal()));
    expect(assigned.how).toBe('assigned');
    expect(errOf(await (await t.tasks(t.admin)).assign_namespace('no such org!', realOwner.getPrincipal()))).toHaveProperty(
      'InvalidArgument.field',
      'namespace'
    );
    expect(
      errOf(await asSquatter.publish_model_card(json(modelCard({ id, version: '100.0.0', digest: digestOf('bigco-2') }))))
    ).toHaveProperty('NamespaceOwned');
    const real = modelCard({ id, version: '1.0.0', digest: digestOf('bigco-real') });
    okOf(await (await t.tasks(realOwner)).publish_model_card(json(real)));
    const latest = (await asSquatter.get_model_card(id, []))[0];
    expect(latest?.digest).toBe(real.digest);
    // The squatter's card stays readable by its digest (content addressing), just not as the org's latest.
    expect((await asSquatter.get_model_card(id, [digestOf('bigco-fake')]))[0]?.version).toBe('99.0.0');
  });

  it("after an assignment a squatter's cards serve only requests pinning their digest; admins purge them in bounded calls (issue 16)", async () => {
    const squatter = Ed25519KeyIdentity.generate();
    const realOwner = Ed25519KeyIdentity.generate();
    const asSquatter = await t.tasks(squatter);
    const asAdmin = await t.tasks(t.admin);
    const id = 'sqco/Sq-8B';
    const squatted = modelCard({ id, version: '9.0.0', digest: digestOf('sqco-fake') });
    okOf(await asSquatter.publish_model_card(json(squatted)));
    okOf(await asSquatter.publish_model_card(json(modelCard({ id: 'SQCO/Other', digest: digestOf('sqco-other') }))));
    const squattedRunner = await runnerFor(squatted);
    const onSquatted = squattedRunner.getPrincipal().toText();
    const asAnyone = await t.tasks(Ed25519KeyIdentity.generate());
    const model: [string] = [id];
    const found = async (request = findRequest({ model })) => okOf(await asAnyone.find_runners(request)).map((c) => c.runner.toText());
    expect(await found()).toEqual([onSquatted]);

    okOf(await asAdmin.assign_namespace('sqco', realOwner.getPrincipal()));
    // Before: the squatter's runner still matched every unpinned request (discovery, quotes, claims).
    expect(await found()).toEqual([]);
    expect(await found(findRequest({ model, digests: [[String(squatted.digest)]] }))).toEqual([onSquatted]);
    const requester = await t.requester(10_000_000n, 10_000_000n);
    const task = okOf(await (await t.tasks(requester)).submit_task(t.submitArgs('squatted-1', { request: findRequest({ model }) })));
    expect(errOf(await (await t.tasks(squattedRunner)).claim_task([task.id]))).toEqual({ NotServing: { model: id } });

    // Purging: admins only, typed errors, bounded per call with a cursor.
    expect(errOf(await asSquatter.purge_namespace_cards('sqco', squatter.getPrincipal(), [], []))).toHaveProperty('Unauthorized');
    expect(errOf(await asAdmin.purge_namespace_cards('sqco', realOwner.getPrincipal(), [], []))).toHaveProperty(
      'InvalidArgument.field',
      'publisher'
    );
    expect(errOf(await asAdmin.purge_namespace_cards('sqco', squatter.getPrincipal(), [], [0]))).toHaveProperty(
      'InvalidArgument.field',
      'limit'
    );
    expect(errOf(await asAdmin.purge_namespace_cards('nobody-holds', squatter.getPrincipal(), [], []))).toHaveProperty('NotFound');
    const first = okOf(await asAdmin.purge_namespace_cards('sqco', squatter.getPrincipal(), [], [1]));
    expect(first.removed).toBe(1);
    expect(first.next).toHaveLength(1);
    const rest = okOf(await asAdmin.purge_namespace_cards('sqco', squatter.getPrincipal(), first.next, [1]));
    expect(rest.removed).toBe(1);
    expect(okOf(await asAdmin.purge_namespace_cards('sqco', squatter.getPrincipal(), rest.next, [1])).removed).toBe(0);
    expect(await asAnyone.get_model_card(id, [String(squatted.digest)])).toEqual([]);
    expect(await found(findRequest({ model, digests: [[String(squatted.digest)]] }))).toEqual([]);
  });

  it('versions are immutable: a published version keeps its digest, a digest keeps its content', async () => {
    const owner = Ed25519KeyIdentity.generate();
    const asOwner = await t.tasks(owner);
    const card = modelCard({ id: 'immut/Model', version: '1.0.0', digest: digestOf('immut-1') });
    okOf(await asOwner.publish_model_card(json(card)));
    okOf(await asOwner.publish_model_card(json(card))); // the same card again is a no-op
    const taken = { CardImmutable: { model: 'immut/Model', version: '1.0.0', digest: card.digest } };
    expect(errOf(await asOwner.publish_model_card(json({ ...card, digest: digestOf('immut-other') })))).toEqual(taken);
    expect(errOf(await asOwner.publish_model_card(json({ ...card, contextLength: 4096 })))).toEqual(taken);
    expect(errOf(await asOwner.publish_model_card(json({ ...card, version: '1.0.1' })))).toEqual(taken);
  });

  it('"latest" follows version order (releases before pre-releases), not publication order', async () => {
    const owner = Ed25519KeyIdentity.generate();
    const asOwner = await t.tasks(owner);
    const id = 'order/Model';
    for (const version of ['1.10.0', '1.9.0', '2.0.0-rc.1', '1.2']) {
      okOf(await asOwner.publish_model_card(json(modelCard({ id, version, digest: digestOf(`order-${version}`) }))));
    }
    expect((await asOwner.get_model_card(id, []))[0]?.version).toBe('1.10.0');
    okOf(await asOwner.publish_model_card(json(modelCard({ id, version: '2.0.0', digest: digestOf('order-2.0.0') }))));
    expect((await asOwner.get_model_card(id, []))[0]?.version).toBe('2.0.0');
  });

  it('find_runners honours a digest pin; malformed digests are InvalidArgument', async () => {
    const base = t.card;
    const other = modelCard({ version: '1.1.0', digest: digestOf('llama-3.1-8b-q8') });
    okOf(await (await t.tasks(t.admin)).publish_model_card(json(other)));
    const onBase = await runnerFor(base);
    const onOther = await runnerFor(other);
    const asAnyone = await t.tasks(Ed25519KeyIdentity.generate());
    const model: [string] = [String(base.id)];
    const all = okOf(await asAnyone.find_runners(findRequest({ model })));
    expect(all.map((c) => c.runner.toText()).sort()).toEqual([onBase, onOther].map((r) => r.getPrincipal().toText()).sort());
    const pinned = okOf(await asAnyone.find_runners(findRequest({ model, digests: [[String(other.digest)]] })));
    expect(pinned.map((c) => c.runner.toText())).toEqual([onOther.getPrincipal().toText()]);
    expect(pinned.every((c) => c.model.digest === other.digest)).toBe(true);
    const either = okOf(await asAnyone.find_runners(findRequest({ model, digests: [[String(other.digest), String(base.digest)]] })));
    expect(either).toHaveLength(2);
    expect(errOf(await asAnyone.find_runners(findRequest({ model, digests: [['sha256:nothex']] })))).toHaveProperty(
      'InvalidArgument.field',
      'digests'
    );
  });

  it('a task pinned to a digest is claimable only by runners serving it', async () => {
    const pinnedCard = modelCard({ version: '1.2.0', digest: digestOf('llama-3.1-8b-pinned') });
    okOf(await (await t.tasks(t.admin)).publish_model_card(json(pinnedCard)));
    const wrongWeights = await runnerFor(t.card);
    const rightWeights = await runnerFor(pinnedCard);
    const requester = await t.requester(10_000_000n, 10_000_000n);
    const request = findRequest({ model: [String(t.card.id)], digests: [[String(pinnedCard.digest)]] });
    const task = okOf(await (await t.tasks(requester)).submit_task(t.submitArgs('pinned-1', { request })));
    expect(task.request.digests).toEqual([[pinnedCard.digest]]);
    const asWrong = await t.tasks(wrongWeights);
    expect(errOf(await asWrong.claim_task([task.id]))).toEqual({ NotServing: { model: String(t.card.id) } });
    expect(errOf(await asWrong.claim_task([]))).toHaveProperty('NotFound');
    const claimed = okOf(await (await t.tasks(rightWeights)).claim_task([]));
    expect(claimed.id).toBe(task.id);

    const bad = findRequest({ model: [String(t.card.id)], digests: [['sha256:0']] });
    expect(errOf(await (await t.tasks(requester)).submit_task(t.submitArgs('pinned-bad', { request: bad })))).toHaveProperty(
      'InvalidArgument.field',
      'request.digests'
    );
  });
});
