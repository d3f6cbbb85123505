import type { EpochCredit, EpochTerms } from './types.js';

/** The default per-requester share cap: one requester's work earns at most 20 % of an epoch's emission. */
export const DEFAULT_REQUESTER_CAP_BPS = 2_000;

/**
 * Requester–runner pairs one epoch credits at most. The epoch's work is one record read and written by every
 * acceptance, so it is bounded; work of a new pair beyond it is paid its reward but earns no emission that epoch.
 */
export const MAX_EPOCH_CREDITS = 1_000;

/**
 * Pairs of one runner operator (effective operator) the epoch credits at most: a tenth of the table, so filling it
 * takes ten operators (ten bonds where bonds are on) and one operator's flood leaves 90 % of the places to others.
 */
export const MAX_OPERATOR_CREDITS = MAX_EPOCH_CREDITS / 10;

/**
 * Splits `budgetE8s` pro rata by weight, exactly (largest remainders): floor shares first, then the units left by
 * rounding one each to the shares with the largest fractional parts (ties: larger weight, then key). The shares sum to
 * the budget and none exceeds its exact share rounded up (so none exceeds its weight when the budget is at most the
 * total weight, nor a cap its exact share is within).
 */
export function splitEmission(budgetE8s: bigint, units: Array<[string, bigint]>): Array<[string, bigint]> {
  const total = units.reduce((sum, [, u]) => sum + u, 0n);
  if (budgetE8s <= 0n || total <= 0n) return [];
  // [key, floor share, weight, remainder numerator]
  const shares = units.map(([key, u]): [string, bigint, bigint, bigint] => [key, (budgetE8s * u) / total, u, (budgetE8s * u) % total]);
  let left = budgetE8s - shares.reduce((sum, [, s]) => sum + s, 0n);
  const order = [...shares].sort((a, b) =>
    a[3] !== b[3] ? (a[3] > b[3] ? -1 : 1) : a[2] !== b[2] ? (a[2] > b[2] ? -1 : 1) : a[0] < b[0] ? -1 : 1
  );
  for (let i = 0; left > 0n; i++, left--) (order[i] as [string, bigint, bigint, bigint])[1] += 1n;
  return shares.filter(([, s]) => s > 0n).map(([key, s]) => [key, s]);
}

const add = (map: Map<string, bigint>, key: string, amount: bigint): void => {
  map.set(key, (map.get(key) ?? 0n) + amount);
};

/**
 * Each requester's part of an epoch's emission: pro rata by the fees it paid, at most those fees (a rebate of at most
 * 100 %) and at most `cap`. Water-filling: a requester whose pro-rata part would exceed the cap gets the cap, and what
 * it leaves is shared pro rata by the others (largest payers first, so one pass suffices).
 */
function requesterParts(budgetE8s: bigint, cap: bigint, fees: Array<[string, bigint]>): Array<[string, bigint]> {
  const order = [...fees].sort(([a, x], [b, y]) => (x === y ? (a < b ? -1 : 1) : x > y ? -1 : 1));
  let remaining = budgetE8s;
  let remainingFees = order.reduce((sum, [, f]) => sum + f, 0n);
  const parts: Array<[string, bigint]> = [];
  let i = 0;
  for (; i < order.length; i++) {
    const [requester, fee] = order[i] as [string, bigint];
    // Its uncapped part: min(fee, fee × remaining / remainingFees); capped when that exceeds the cap.
    const over = remaining >= remainingFees ? fee > cap : fee * remaining > cap * remainingFees;
    if (!over) break;
    parts.push([requester, cap]);
    remaining -= cap;
    remainingFees -= fee;
  }
  const rest = order.slice(i);
  const shared = remaining < remainingFees ? remaining : remainingFees;
  return [...parts, ...splitEmission(shared, rest)];
}

/**
 * What a closed epoch mints, per runner (README "Emission"): each requester's part (pro rata by the protocol fees it
 * paid for the epoch's counted work, at most those fees, at most `emission × cap_bps / 10,000`, the whole at most the
 * emission budget), split over the runners that did its work pro rata by the fees credited to them. So the emission
 * earned by any set of requesters' work is at most the fees those requesters burned.
 */
export function epochEmission(terms: EpochTerms, credits: EpochCredit[]): Array<[string, bigint]> {
  if (terms.emissionE8s <= 0n) return [];
  const byRequester = new Map<string, Map<string, bigint>>();
  const fees = new Map<string, bigint>();
  for (const [requester, runner, fee] of credits) {
    if (fee <= 0n) continue;
    const runners = byRequester.get(requester) ?? new Map<string, bigint>();
    byRequester.set(requester, runners);
    add(runners, runner, fee);
    add(fees, requester, fee);
  }
  const cap = (terms.emissionE8s * BigInt(terms.requesterCapBps)) / 10_000n;
  const perRunner = new Map<string, bigint>();
  for (const [requester, part] of requesterParts(terms.emissionE8s, cap, [...fees]))
    for (const [runner, amount] of splitEmission(part, [...(byRequester.get(requester) ?? [])])) add(perRunner, runner, amount);
  return [...perRunner].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
