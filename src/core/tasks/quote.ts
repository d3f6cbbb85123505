import { checkFindRequest, findRunners, type FindRequest } from '../registry/discovery.js';
import { MAX_FIND_RESULTS } from '../registry/limits.js';
import { err, ok, type Result } from '../registry/errors.js';
import { DEFAULT_REQUESTER_CAP_BPS } from '../rewards/emission.js';
import { epochCreditedFees } from '../rewards/epochs.js';
import { budgetForE8s, protocolFeeE8s } from '../rewards/pricing.js';
import { MAX_OUTPUT_TOKENS, MAX_REDUNDANCY } from './limits.js';
import type { Stores } from './store.js';
import { CHAT_TEMPLATE_OVERHEAD_TOKENS, maxCostE8s } from './usage.js';
import { bad } from './validate.js';

export interface QuoteArgs {
  request: FindRequest;
  /** UTF-8 bytes of the input (absent: an input by reference, bounded by each runner's served context). */
  inputBytes?: number;
  maxOutputTokens: number;
  redundancy: number;
}

/** A request priced against the live runners that could serve it, at their posted prices. */
export interface TaskQuote {
  model: string;
  /** Live deployments matching the request (at most MAX_FIND_RESULTS are priced). */
  eligibleRunners: number;
  /** The cheapest and the median eligible runner's price for the request's most tokens (0 without runners). */
  minCostE8s: bigint;
  medianCostE8s: bigint;
  /** The smallest budget (`reward_e8s`) that the cheapest / median-priced runner would claim, fees included. */
  minBudgetE8s: bigint;
  medianBudgetE8s: bigint;
  /** The protocol fee if `redundancy` runners charge the median cost. */
  protocolFeeE8s: bigint;
  /** Emission the median runner could earn for this work if the epoch saw no other work from now on (an upper bound). */
  expectedEmissionE8s: bigint;
}

/** Prices a request against the live runners' posted prices (bounded: at most MAX_FIND_RESULTS deployments). */
export function quoteTask(store: Stores, now: bigint, args: QuoteArgs): Result<TaskQuote> {
  const model = args.request.model;
  if (model === undefined || model.length === 0) return bad('request.model', 'a quote must name the model');
  const checked = checkFindRequest(args.request);
  if ('Err' in checked) return err(checked.Err);
  if (!Number.isInteger(args.maxOutputTokens) || args.maxOutputTokens < 1 || args.maxOutputTokens > MAX_OUTPUT_TOKENS)
    return bad('max_output_tokens', `must be 1 to ${MAX_OUTPUT_TOKENS}`);
  if (!Number.isInteger(args.redundancy) || args.redundancy < 1 || args.redundancy > MAX_REDUNDANCY)
    return bad('redundancy', `must be 1 to ${MAX_REDUNDANCY}`);
  const found = findRunners(store, now, { ...args.request, limit: MAX_FIND_RESULTS });
  if ('Err' in found) return err(found.Err);
  const inputBound = args.inputBytes === undefined ? undefined : args.inputBytes + CHAT_TEMPLATE_OVERHEAD_TOKENS;
  const priced = found.Ok.map((c) => {
    const served = store.index.get(c.runnerId)?.deployments[c.deployment]?.servedContext ?? 0;
    const prices = { inputPerMillion: c.inputPricePerMillion, outputPerMillion: c.outputPricePerMillion };
    return { cost: maxCostE8s(prices, inputBound, served, args.maxOutputTokens), served, card: `${c.model.id}@${c.model.digest}` };
  }).sort((a, b) => (a.cost < b.cost ? -1 : a.cost > b.cost ? 1 : 0));
  const config = store.taskConfig();
  const min = priced[0];
  const median = priced[Math.floor((priced.length - 1) / 2)];
  const medianCost = median?.cost ?? 0n;
  return ok({
    model,
    eligibleRunners: priced.length,
    minCostE8s: min?.cost ?? 0n,
    medianCostE8s: medianCost,
    minBudgetE8s: budgetForE8s(config, min?.cost ?? 0n, args.redundancy),
    medianBudgetE8s: budgetForE8s(config, medianCost, args.redundancy),
    protocolFeeE8s: protocolFeeE8s(config, medianCost * BigInt(args.redundancy)),
    expectedEmissionE8s: median === undefined ? 0n : expectedEmission(store, protocolFeeE8s(config, medianCost * BigInt(args.redundancy)))
  });
}

/**
 * The emission the task's work could earn (README "Emission"): weighted by the protocol fee it pays against the fees
 * the epoch has counted so far, at most that fee and at most the requester cap's share of the epoch's budget. An
 * upper estimate: work from a requester that is its runner or the runner's operator earns nothing.
 */
function expectedEmission(store: Stores, feeE8s: bigint): bigint {
  const work = store.epochWork();
  const budget = work.terms?.emissionE8s ?? store.taskConfig().emissionPerEpochE8s;
  if (budget <= 0n || feeE8s <= 0n) return 0n;
  const capBps = BigInt(work.terms?.requesterCapBps ?? store.taskConfig().emissionRequesterCapBps ?? DEFAULT_REQUESTER_CAP_BPS);
  const others = epochCreditedFees(work);
  const share = (budget * feeE8s) / (feeE8s + others);
  const cap = (budget * capBps) / 10_000n;
  return [share, feeE8s, cap].reduce((a, b) => (a < b ? a : b));
}
