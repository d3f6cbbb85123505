import { performanceCounter, setTimer, time } from 'azle';

import { migrateNamespaces, startNamespaceMigration, type RegistryStore } from '../../src/core/registry/index.js';

/** Instructions one migration step may spend; the next step (a timer of its own, at once) resumes from the cursor. */
export const NAMESPACE_MIGRATION_BUDGET = 2_000_000_000n;

/**
 * After an upgrade from state whose namespace migration is not recorded as done (cards published before namespaces,
 * up to MAX_CARDS), each org goes to the publisher of its earliest card, in budgeted steps, one message each, from a
 * persisted cursor (src/core/registry/namespaces.ts): postUpgrade itself reads no card. A fresh install has none.
 */
export function migrateNamespacesIfNeeded(store: RegistryStore & { namespaceMigrationKnown(): boolean }, fresh: boolean): void {
  if (fresh) {
    if (!store.namespaceMigrationKnown()) store.setNamespaceMigration(undefined);
    return;
  }
  if (!store.namespaceMigrationKnown()) startNamespaceMigration(store, time());
  if (store.namespaceMigration() !== undefined) setTimer(0, () => step(store));
}

function step(store: RegistryStore): void {
  const { done } = migrateNamespaces(store, () => performanceCounter(1) > NAMESPACE_MIGRATION_BUDGET);
  if (!done) setTimer(0, () => step(store));
}
