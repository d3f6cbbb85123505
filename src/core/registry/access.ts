import { ANONYMOUS_PRINCIPAL, err, type RegistryError, type Result } from './errors.js';
import { MAX_REASON_LENGTH } from './limits.js';
import type { RegistryStore } from './store.js';

/** The anonymous principal may read, never write. */
export function requireAuthenticated(caller: string): RegistryError | undefined {
  return caller === ANONYMOUS_PRINCIPAL ? { AnonymousCaller: null } : undefined;
}

export function isAdmin(store: RegistryStore, caller: string): boolean {
  return store.config().admins.includes(caller);
}

export function requireAdmin(store: RegistryStore, caller: string): RegistryError | undefined {
  return (
    requireAuthenticated(caller) ?? (isAdmin(store, caller) ? undefined : { Unauthorized: { reason: 'only registry admins may do this' } })
  );
}

export function checkReason(reason: string): Result<string> {
  if (reason.length === 0 || reason.length > MAX_REASON_LENGTH) {
    return err({ InvalidArgument: { field: 'reason', reason: `must be 1 to ${MAX_REASON_LENGTH} characters` } });
  }
  return { Ok: reason };
}
