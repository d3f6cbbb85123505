import type { StoredRunner } from './types.js';

/** Whether the operator the runner's manifest names stands behind it: it accepted, or the runner names itself. */
export const operatorAccepted = (runner: StoredRunner): boolean =>
  runner.manifest.operator === runner.id || runner.operatorAcceptedAtNs !== undefined;

/**
 * Who stands behind a runner: its operator once that operator accepted being named, otherwise the runner itself.
 * Quotas per operator, payouts, the distinct-operator rule of redundant tasks and votes all count this principal,
 * so naming someone else's principal as operator neither spends its quota nor merges with its runners.
 */
export const effectiveOperator = (runner: StoredRunner): string => (operatorAccepted(runner) ? runner.manifest.operator : runner.id);
