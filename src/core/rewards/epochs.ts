import { splitEmission, workUnits } from './emission.js';
import { addPayout, payAccountOf } from './outbox.js';
import type { RewardStores } from './store.js';

/** What emission counts of an accepted result. */
export interface AcceptedWork {
  runner: string;
  inputTokens: bigint;
  outputTokens: bigint;
}

/**
 * Accepted work counts toward the current epoch's emission (a finished epoch is closed first), sized by the card of
 * the deployment of `model` each runner served; a card that is gone counts as a 1B-parameter model.
 */
export function addAcceptedWork(store: RewardStores, now: bigint, model: string, results: AcceptedWork[]): void {
  closeEpoch(store, now);
  const work = store.epochWork();
  const units = new Map(work.units);
  for (const r of results) {
    const served = store.runners.get(r.runner)?.manifest.deployments.find((d) => d.model.id === model);
    const card = served === undefined ? undefined : store.cards.get(`${served.model.id}@${served.model.digest}`)?.card;
    const parameters = card?.parameters.active ?? card?.parameters.total ?? 1e9;
    units.set(r.runner, (units.get(r.runner) ?? 0n) + workUnits(r.inputTokens, r.outputTokens, parameters));
  }
  store.setEpochWork({ epoch: work.epoch, units: [...units] });
}

/** Mints the emission of every finished epoch, split by accepted work units. */
export function closeEpoch(store: RewardStores, now: bigint): void {
  const config = store.taskConfig();
  const epoch = now / config.epochNs;
  const work = store.epochWork();
  if (epoch <= work.epoch) return;
  splitEmission(config.emissionPerEpochE8s, work.units).forEach(([runner, amount], i) => {
    addPayout(store, now, i, 'emission', `epoch-${work.epoch}/${runner}`, payAccountOf(store, runner), amount, `epoch-${work.epoch}`);
  });
  store.setEpochWork({ epoch, units: [] });
}
