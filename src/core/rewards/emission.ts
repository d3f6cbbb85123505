/** Work units of a result: tokens × model size factor (billions of active parameters, at least 1). */
export function workUnits(inputTokens: bigint, outputTokens: bigint, activeParameters: number): bigint {
  const factor = BigInt(Math.max(1, Math.round(activeParameters / 1e9)));
  return (inputTokens + outputTokens) * factor;
}

/**
 * Splits an epoch's emission budget pro rata by work units, exactly: floor shares first, then the units left by
 * rounding one by one to the largest contributors (ties by runner id). The shares always sum to the budget.
 */
export function splitEmission(budgetE8s: bigint, units: Array<[string, bigint]>): Array<[string, bigint]> {
  const total = units.reduce((sum, [, u]) => sum + u, 0n);
  if (budgetE8s <= 0n || total <= 0n) return [];
  const shares = units.map(([runner, u]): [string, bigint, bigint] => [runner, (budgetE8s * u) / total, u]);
  let left = budgetE8s - shares.reduce((sum, [, s]) => sum + s, 0n);
  const order = [...shares].sort((a, b) => (a[2] === b[2] ? (a[0] < b[0] ? -1 : 1) : a[2] > b[2] ? -1 : 1));
  for (let i = 0; left > 0n; i = (i + 1) % order.length, left--) (order[i] as [string, bigint, bigint])[1] += 1n;
  return shares.filter(([, s]) => s > 0n).map(([runner, s]) => [runner, s]);
}
