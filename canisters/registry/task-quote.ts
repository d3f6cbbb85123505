import { quoteTask, type Stores } from '../../src/core/tasks/index.js';
import { fromOpt as some } from '../../src/interface/candid.js';
import type { QuoteTaskArgs, RegistryError, TaskQuote } from '../../src/interface/registry/index.js';
import { findRequestOf } from './task-views.js';

/** quote_task: a request priced against the live runners' posted prices (src/core/tasks/quote.ts). */
export function quoteTaskReply(store: Stores, now: bigint, a: QuoteTaskArgs): { Ok: TaskQuote } | { Err: RegistryError } {
  const inputBytes = some(a.input_bytes);
  const result = quoteTask(store, now, {
    request: findRequestOf(a.request),
    ...(inputBytes === undefined ? {} : { inputBytes }),
    maxOutputTokens: a.max_output_tokens,
    redundancy: some(a.redundancy) ?? 1
  });
  if ('Err' in result) return result;
  const q = result.Ok;
  return {
    Ok: {
      model: q.model,
      eligible_runners: q.eligibleRunners,
      min_cost_e8s: q.minCostE8s,
      median_cost_e8s: q.medianCostE8s,
      min_budget_e8s: q.minBudgetE8s,
      median_budget_e8s: q.medianBudgetE8s,
      protocol_fee_e8s: q.protocolFeeE8s,
      expected_emission_e8s: q.expectedEmissionE8s
    }
  };
}
