import type { IndexedDeployment } from '../registry/discovery-index.js';
import { perRunnerCostCapE8s } from '../rewards/pricing.js';
import type { RewardConfig } from '../rewards/types.js';
import type { OpenPricing, Task } from './types.js';
import { maxCostE8s } from './usage.js';

/**
 * Whether a task's budget can pay a runner's posted prices: one predicate for every place that decides who may work on
 * a task (a claim, list_claimable, submit's routing offer, an escalation's offer), so a runner is never offered places
 * it could not claim (README "States").
 */

/**
 * What a claim checks a runner's prices against, for a task that waits for `places` results: its input bound, its
 * output limit, and the share of its budget each of those results may charge (settlement pays each of up to that many
 * winners at most this share).
 */
export function taskPricing(
  config: RewardConfig,
  task: Pick<Task, 'limits' | 'rewardE8s' | 'inputTokenBound'>,
  places: number
): OpenPricing {
  const pricing: OpenPricing = {
    maxOutputTokens: task.limits.maxOutputTokens,
    costCapE8s: perRunnerCostCapE8s(config, task.rewardE8s, places)
  };
  if (task.inputTokenBound !== undefined) pricing.inputTokenBound = task.inputTokenBound;
  return pricing;
}

/** A deployment's price for the most the task can meter on it (its input bound, its output limit). */
export const priceFor = (pricing: OpenPricing, d: IndexedDeployment): bigint =>
  maxCostE8s(
    { inputPerMillion: d.inputPrice, outputPerMillion: d.outputPrice },
    pricing.inputTokenBound,
    d.servedContext,
    pricing.maxOutputTokens
  );

/** Whether the task's budget covers the deployment's price for its most tokens (tasks stored before pricing: yes). */
export const withinBudget =
  (pricing: OpenPricing | undefined) =>
  (d: IndexedDeployment): boolean =>
    pricing === undefined || priceFor(pricing, d) <= pricing.costCapE8s;
