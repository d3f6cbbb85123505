import { describe, expect, it } from 'vitest';

import { acceptOperator, heartbeat, registerRunner } from '../../../src/core/registry/index.ts';
import { perRunnerCostCapE8s } from '../../../src/core/rewards/pricing.ts';
import { ESCALATION_OFFER_NS } from '../../../src/core/tasks/escalation.ts';
import { claimableFor, claimTask, setTaskConfig, tick, type Stores } from '../../../src/core/tasks/index.ts';
import { deployment, runnerManifest } from '../../support/manifests.ts';
import {
  ADMIN,
  addRunner,
  answer,
  CARD,
  NOW,
  okOf,
  operatorOf,
  READY,
  recordOne,
  REWARD,
  SECOND,
  submitted,
  world
} from '../../support/task-world.ts';

/**
 * Offers follow prices (issue 16): an escalation's places and a new paid task's routing window are offered only to
 * runners whose posted prices the task's budget covers, by the predicate a claim checks (src/core/tasks/affordable.ts).
 * A proven runner priced above the task's share could not claim, so before this it held an escalation's places for
 * ESCALATION_OFFER_NS (or a new task's for the routing window) while nobody could work on it. Each test fails on the
 * registry as it was before (checked: the dear runner was offered the places).
 */

/** Registers `runner` (operator `n`, which accepts) serving CARD with free input and `outputPerMillion` per output token. */
function addPriced(store: Stores, runner: string, n: number, outputPerMillion: number): void {
  okOf(
    registerRunner(
      store,
      runner,
      NOW,
      runnerManifest(operatorOf(n), [deployment(CARD, { slots: 4, price: { inputPerMillion: 0, outputPerMillion } })])
    )
  );
  okOf(acceptOperator(store, operatorOf(n), NOW, runner));
  okOf(heartbeat(store, runner, NOW, READY));
}

/** An output price whose most cost (64 output tokens) is `share` tenths of `capE8s`. */
const priceFor = (capE8s: bigint, tenths: bigint): number => Number((capE8s * tenths * 1_000_000n) / 10n / 64n);

/** honest 'Paris' against 'garbage' on a redundancy-2 task: a 1–1 tie in review; returns the review's end. */
function tie(store: Stores): { id: string; endsAt: bigint } {
  addRunner(store, 'honest', 0xc0);
  addRunner(store, 'sybil', 0xb1);
  const id = submitted(store);
  answer(store, id, [
    ['honest', 'Paris'],
    ['sybil', 'garbage']
  ]);
  return { id, endsAt: store.tasks.get(id)!.reviewEndsAtNs! };
}

describe("an escalation's offer skips proven runners its budget cannot pay", () => {
  it('a proven runner priced above an escalation place is not offered it; a cheaper proven runner is, and claims at once', () => {
    const store = world();
    const config = store.taskConfig();
    // 90 % of a redundancy-2 share: it earned its record on a redundancy-1 task, but a third of the pool cannot pay it.
    addPriced(store, 'dear', 0xd1, priceFor(perRunnerCostCapE8s(config, REWARD, 2), 9n));
    addRunner(store, 'cheap', 0xd2);
    recordOne(store, 'dear');
    recordOne(store, 'dear');
    recordOne(store, 'cheap');
    const { id, endsAt } = tie(store);
    for (const r of ['dear', 'cheap']) okOf(heartbeat(store, r, endsAt, READY));
    // Both are the model's proven top (the dear one first, by its longer record).
    expect(store.index.topFor(String(CARD.id)).map((r) => r.id)).toEqual(['dear', 'cheap']);
    tick(store, endsAt);
    expect(store.tasks.get(id)).toMatchObject({ state: 'queued', preferred: ['cheap'], openToAllAtNs: endsAt + ESCALATION_OFFER_NS });
    // The dear runner is not offered the place (and after the window could not claim it: PriceAboveBudget) ...
    expect(claimTask(store, 'dear', endsAt, id)).toMatchObject({ Err: { TaskNotClaimable: { task: id } } });
    okOf(heartbeat(store, 'dear', endsAt + ESCALATION_OFFER_NS, READY));
    expect(claimTask(store, 'dear', endsAt + ESCALATION_OFFER_NS, id)).toMatchObject({ Err: { PriceAboveBudget: { task: id } } });
    // ... and the cheaper proven runner takes it at once.
    expect(okOf(claimTask(store, 'cheap', endsAt, id)).id).toBe(id);
  });

  it('with only a dear proven runner there is no exclusive window: any unrelated runner claims the place at once', () => {
    const store = world();
    addPriced(store, 'dear', 0xd1, priceFor(perRunnerCostCapE8s(store.taskConfig(), REWARD, 2), 9n));
    recordOne(store, 'dear');
    addRunner(store, 'fresh', 0xd3);
    const { id, endsAt } = tie(store);
    for (const r of ['dear', 'fresh']) okOf(heartbeat(store, r, endsAt, READY));
    tick(store, endsAt);
    const escalated = store.tasks.get(id)!;
    expect(escalated.state).toBe('queued');
    expect(escalated.preferred).toBeUndefined();
    expect(escalated.openToAllAtNs).toBeUndefined();
    expect(claimableFor(store, 'fresh', endsAt, 10).map(([t]) => t)).toEqual([id]);
    expect(okOf(claimTask(store, 'fresh', endsAt, id)).id).toBe(id);
  });
});

describe("a new paid task's routing window skips runners its budget cannot pay", () => {
  const routed = (): Stores => {
    const store = world();
    okOf(setTaskConfig(store, ADMIN, { routingWindowSeconds: 3n }));
    return store;
  };

  it('the preferred list names only runners whose prices the budget covers', () => {
    const store = routed();
    addRunner(store, 'cheap', 0xd2);
    // Twice what a redundancy-1 task of REWARD may pay one runner.
    addPriced(store, 'dear', 0xd1, priceFor(perRunnerCostCapE8s(store.taskConfig(), REWARD, 1), 20n));
    const id = submitted(store, 1);
    expect(store.tasks.get(id)).toMatchObject({ preferred: ['cheap'], openToAllAtNs: expect.any(BigInt) });
    expect(claimTask(store, 'dear', NOW + 10n * SECOND, id)).toMatchObject({ Err: { PriceAboveBudget: { task: id } } });
  });

  it('with only runners the budget cannot pay, nobody is preferred and the task is open to all at once', () => {
    const store = routed();
    addPriced(store, 'dear', 0xd1, priceFor(perRunnerCostCapE8s(store.taskConfig(), REWARD, 1), 20n));
    const id = submitted(store, 1);
    expect(store.tasks.get(id)!.preferred).toBeUndefined();
    expect(store.tasks.get(id)!.openToAllAtNs).toBeUndefined();
    // A runner registered later, whose price fits, may claim at once.
    addRunner(store, 'cheap', 0xd2);
    expect(okOf(claimTask(store, 'cheap', NOW, id)).id).toBe(id);
  });
});
