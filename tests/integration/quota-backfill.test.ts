import { Actor, type ActorSubclass, type Identity } from '@dfinity/agent';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { registryClient } from '../../src/ic/registry.ts';
import { parseDid } from '../../src/interface/did/parse.ts';
import { registryInitArgs } from '../../src/interface/registry/index.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { account, approveArgs, ledgerActor, ledgerInit, ledgerWasm } from '../support/ledger.ts';
import { digestOf, modelCard } from '../support/manifests.ts';
import { olderRegistry, type OlderRegistry } from '../support/older-registry.ts';
import { agentFor } from '../support/probe.ts';
import { errOf, findRequest, okOf, registryWasm } from '../support/registry.ts';
import { FEE, REWARD, taskConfigArgs, type SubmitTaskArgs } from '../support/tasks.ts';

/**
 * Issue 15's per-caller quotas across an upgrade from a registry built before the quota counters existed (the parent
 * of 7b06d54, which added them): its cards and open tasks were never counted, so without the rebuild after the
 * upgrade every publisher and requester would start again from 0 and could hold twice its share. The older registry
 * is built from git history once and cached (tests/support/older-registry.ts).
 */
const BEFORE_COUNTERS = '70220736f0369fe0e2e35c39c7c74c9aeae0d964';
const SECOND_NS = 1_000_000_000n;

/** The older registry's methods this test calls (their replies are checked for Ok only). */
type OldRegistry = ActorSubclass<{
  set_task_config(args: unknown): Promise<unknown>;
  publish_model_card(json: string): Promise<unknown>;
  submit_task(args: unknown): Promise<unknown>;
}>;

describe('quota counters after an upgrade from a registry older than them', () => {
  let net: Localnet;
  let older: OlderRegistry;

  beforeAll(async () => {
    older = olderRegistry(BEFORE_COUNTERS);
    net = await Localnet.start({ port: 0, stateDir: null });
  }, 300_000);
  afterAll(async () => {
    await net?.stop();
  });

  it('rebuilds cards per publisher and open tasks per requester exactly (closed tasks not counted) from the older state', async () => {
    const admin = Ed25519KeyIdentity.generate();
    const funder = Ed25519KeyIdentity.generate();
    const registry = await net.installCanister({ wasm: older.wasm, arg: registryInitArgs({ admins: [admin.getPrincipal()] }) });
    const ledger = await net.installCanister({
      wasm: ledgerWasm(),
      arg: ledgerInit(registry, { initial_balances: [[account(funder.getPrincipal()), 1_000_000_000_000n]] })
    });
    // The older registry through its own Candid contract, as its clients called it.
    const oldService = parseDid(older.did).service;
    const asOld = async (identity: Identity): Promise<OldRegistry> =>
      Actor.createActor(() => oldService, { agent: await agentFor(net.url, identity), canisterId: registry });
    const oldOk = (result: unknown): unknown => okOf(result as { Ok: unknown } | { Err: unknown });

    const oldAdmin = await asOld(admin);
    oldOk(await oldAdmin.set_task_config(taskConfigArgs({ ledger: [ledger], review_window_seconds: [600n], lease_seconds: [120n] })));
    const card = modelCard();
    oldOk(await oldAdmin.publish_model_card(JSON.stringify(card)));

    // A publisher with two cards.
    const publisher = Ed25519KeyIdentity.generate();
    const cardOf = (n: number): string =>
      JSON.stringify(modelCard({ id: `backfill-org/Model-${n}`, digest: digestOf(`backfill-${n}`), base: undefined }));
    const oldPublisher = await asOld(publisher);
    for (const n of [1, 2]) oldOk(await oldPublisher.publish_model_card(cardOf(n)));

    // A requester with three tasks, one of which expires (refunded, closed): two stay open.
    const requester = Ed25519KeyIdentity.generate();
    const funderLedger = ledgerActor(await agentFor(net.url, funder), ledger);
    await funderLedger.icrc1_transfer({
      from_subaccount: [],
      to: account(requester.getPrincipal()),
      amount: 20_000_000n,
      fee: [],
      memo: [],
      created_at_time: []
    });
    const requesterLedger = ledgerActor(await agentFor(net.url, requester), ledger);
    await requesterLedger.icrc2_approve(approveArgs(account(registry), 10_000_000n));
    const submitArgs = (key: string, deadlineNs: bigint): SubmitTaskArgs => ({
      idempotency_key: key,
      request: findRequest({ model: [String(card.id)] }),
      input: { inline: ['Say hello.'], digest: [], reference: [] },
      limits: { max_output_tokens: 64, temperature: [], seed: [] },
      reward_e8s: REWARD,
      deadline_ns: deadlineNs,
      redundancy: [],
      refund_subaccount: []
    });
    const oldRequester = await asOld(requester);
    const soon = net.engine.now() + 30n * SECOND_NS;
    const later = net.engine.now() + 3_600n * SECOND_NS;
    oldOk(await oldRequester.submit_task(submitArgs('expires', soon)));
    for (const key of ['open-1', 'open-2']) oldOk(await oldRequester.submit_task(submitArgs(key, later)));
    await net.advanceTime(40_000);
    const balanceAfterRefund = await requesterLedger.icrc1_balance_of(account(requester.getPrincipal()));
    expect(balanceAfterRefund).toBe(20_000_000n - FEE - 3n * (REWARD + FEE) + (REWARD - FEE));

    // The upgrade to this registry: the counters are rebuilt by timer steps that start at once.
    await net.installCode(registry, 'upgrade', registryWasm(), registryInitArgs(undefined));
    await net.tick();

    const asAdmin = registryClient(await agentFor(net.url, admin), registry);
    const asPublisher = registryClient(await agentFor(net.url, publisher), registry);
    const asRequester = registryClient(await agentFor(net.url, requester), registry);

    // Each principal's share set to what it holds: one more is refused, so the older cards and tasks were counted...
    okOf(await asAdmin.set_quotas({ runners_per_operator: [], open_tasks_per_requester: [2], cards_per_publisher: [2] }));
    expect(errOf(await asPublisher.publish_model_card(cardOf(3)))).toEqual({
      LimitExceeded: { what: 'model cards per publisher (quota)', limit: 2n }
    });
    expect(errOf(await asRequester.submit_task(submitArgs('one-too-many', later)))).toEqual({
      LimitExceeded: { what: 'open tasks per requester (quota)', limit: 2n }
    });
    // ...and one more than it holds admits exactly one: counted once each, the expired task not at all.
    okOf(await asAdmin.set_quotas({ runners_per_operator: [], open_tasks_per_requester: [3], cards_per_publisher: [3] }));
    okOf(await asPublisher.publish_model_card(cardOf(3)));
    expect(errOf(await asPublisher.publish_model_card(cardOf(4)))).toMatchObject({ LimitExceeded: { limit: 3n } });
    expect(okOf(await asRequester.submit_task(submitArgs('third', later))).state).toBe('queued');
    expect(errOf(await asRequester.submit_task(submitArgs('fourth', later)))).toMatchObject({ LimitExceeded: { limit: 3n } });
  }, 300_000);
});
