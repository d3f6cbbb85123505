import { requireAuthenticated } from './access.js';
import { err, ok, type Result } from './errors.js';
import { MAX_ADMINS, MAX_HEARTBEAT_TTL_NS, MIN_HEARTBEAT_TTL_NS } from './limits.js';
import type { RegistryStore } from './store.js';
import { DEFAULT_HEARTBEAT_INTERVAL_NS, DEFAULT_HEARTBEAT_TTL_NS, type RegistryConfig } from './types.js';

export interface ConfigInput {
  admins: string[];
  heartbeatIntervalNs?: bigint;
  heartbeatTtlNs?: bigint;
}

/** Validates init or upgrade settings; the TTL must leave room for at least one missed heartbeat. */
export function makeConfig(input: ConfigInput): Result<RegistryConfig> {
  if (input.admins.length > MAX_ADMINS) return err({ LimitExceeded: { what: 'admins', limit: BigInt(MAX_ADMINS) } });
  const interval = input.heartbeatIntervalNs ?? DEFAULT_HEARTBEAT_INTERVAL_NS;
  const ttl = input.heartbeatTtlNs ?? (input.heartbeatIntervalNs === undefined ? DEFAULT_HEARTBEAT_TTL_NS : interval * 3n);
  if (ttl < MIN_HEARTBEAT_TTL_NS || ttl > MAX_HEARTBEAT_TTL_NS) {
    return err({
      InvalidArgument: {
        field: 'heartbeat_ttl_seconds',
        reason: `must be between ${MIN_HEARTBEAT_TTL_NS / 1_000_000_000n} and ${MAX_HEARTBEAT_TTL_NS / 1_000_000_000n} seconds`
      }
    });
  }
  if (interval <= 0n || interval * 2n > ttl) {
    return err({ InvalidArgument: { field: 'heartbeat_interval_seconds', reason: 'must be positive and at most half the TTL' } });
  }
  return ok({ admins: [...new Set(input.admins)], heartbeatIntervalNs: interval, heartbeatTtlNs: ttl });
}

/** Controllers (checked by the canister adapter) replace the admin list. */
export function setAdmins(store: RegistryStore, caller: string, callerIsController: boolean, admins: string[]): Result<null> {
  const denied = requireAuthenticated(caller);
  if (denied !== undefined) return err(denied);
  if (!callerIsController) return err({ Unauthorized: { reason: 'only controllers of the registry canister may set admins' } });
  const config = makeConfig({
    admins,
    heartbeatIntervalNs: store.config().heartbeatIntervalNs,
    heartbeatTtlNs: store.config().heartbeatTtlNs
  });
  if ('Err' in config) return config;
  store.setConfig(config.Ok);
  return ok(null);
}
