import { Principal } from 'azle';

import { purgeNamespaceCards, type Namespace, type RegistryStore, type Result } from '../../src/core/registry/index.js';
import type { NamespaceView, PurgeReport } from '../../src/interface/registry/index.js';
import { opt } from '../../src/interface/candid.js';

/** Removals per purge_namespace_cards call when the caller names no limit. */
const DEFAULT_PURGE_LIMIT = 100;

/** A namespace record → its Candid view. */
export function namespaceView(record: Namespace): NamespaceView {
  return {
    namespace: record.name,
    owner: Principal.fromText(record.owner),
    delegates: record.delegates.map((d) => Principal.fromText(d)),
    since_ns: record.sinceNs,
    how: record.how
  };
}

export const namespaceResult = (result: Result<Namespace>): { Ok: NamespaceView } | Exclude<Result<Namespace>, { Ok: Namespace }> =>
  'Ok' in result ? { Ok: namespaceView(result.Ok) } : result;

/** purge_namespace_cards: the core purge (src/core/registry/namespaces.ts), its report as Candid. */
export function purgeCards(
  store: RegistryStore,
  caller: string,
  name: string,
  publisher: string,
  after: string | undefined,
  limit: number | undefined
): { Ok: PurgeReport } | Exclude<Result<unknown>, { Ok: unknown }> {
  const result = purgeNamespaceCards(store, caller, name, publisher, after, limit ?? DEFAULT_PURGE_LIMIT);
  return 'Ok' in result ? { Ok: { removed: result.Ok.removed, next: opt(result.Ok.next) } } : result;
}
