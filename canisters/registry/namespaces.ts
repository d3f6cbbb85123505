import { Principal } from 'azle';

import { type Namespace, type Result } from '../../src/core/registry/index.js';
import type { NamespaceView } from '../../src/interface/registry/index.js';

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
