import { requireAuthenticated } from './access.js';
import { err, ok, type Result } from './errors.js';
import { bump, checkQuota } from './quotas.js';
import type { RegistryStore } from './store.js';
import type { StoredRunner } from './types.js';

import { effectiveOperator, operatorAccepted } from './operator-of.js';

export { effectiveOperator, operatorAccepted };

/** The effective operator of a stored runner, or the runner's own principal when it is gone (deregistered). */
export function operatorOf(store: Pick<RegistryStore, 'runners'>, runnerId: string): string {
  const runner = store.runners.get(runnerId);
  return runner === undefined ? runnerId : effectiveOperator(runner);
}

/**
 * The principal a runner's manifest names as operator accepts being named: from now on it is paid for the runner's
 * work and the runner counts against its quota (checked here). Repeating it is a no-op.
 */
export function acceptOperator(store: RegistryStore, caller: string, nowNs: bigint, runnerId: string): Result<StoredRunner> {
  const denied = requireAuthenticated(caller);
  if (denied !== undefined) return err(denied);
  const runner = store.runners.get(runnerId);
  if (runner === undefined) return err({ NotFound: { kind: { Runner: null }, id: runnerId } });
  if (runner.manifest.operator !== caller)
    return err({ Unauthorized: { reason: "only the operator the runner's manifest names may accept it" } });
  if (operatorAccepted(runner)) return ok(runner);
  const quota = checkQuota(store, 'runners', caller);
  if ('Err' in quota) return quota;
  bump(store, 'runners', runner.id, -1, runner.id);
  bump(store, 'runners', caller, 1, runner.id);
  const accepted: StoredRunner = { ...runner, operatorAcceptedAtNs: nowNs };
  store.runners.set(runnerId, accepted);
  return ok(accepted);
}
