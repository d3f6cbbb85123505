import type { NamespaceView } from '../interface/registry/index.js';

/** Who publishes model cards under an org (the part of a model id before `/`). */
export interface NamespaceInfo {
  namespace: string;
  owner: string;
  /** Principals the owner lets publish under the namespace too. */
  delegates: string[];
  sinceNs: bigint;
  /** `published` (its first publisher), `assigned` (by an admin) or `migrated` (cards published before namespaces). */
  how: string;
}

export function toNamespaceInfo(view: NamespaceView): NamespaceInfo {
  return {
    namespace: view.namespace,
    owner: view.owner.toText(),
    delegates: view.delegates.map((d) => d.toText()),
    sinceNs: view.since_ns,
    how: view.how
  };
}
