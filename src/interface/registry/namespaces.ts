import { IDL } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';

import { Nat64, typed } from '../candid.js';

/** Who publishes model cards under an org (get_namespace, assign_namespace, delegate_namespace, revoke_namespace_delegate). */
export interface NamespaceView {
  namespace: string;
  owner: Principal;
  delegates: Principal[];
  since_ns: bigint;
  /** `published` (first publisher), `assigned` (by an admin) or `migrated` (cards published before namespaces). */
  how: string;
}
export const NamespaceView = typed<NamespaceView>(
  IDL.Record({ namespace: IDL.Text, owner: IDL.Principal, delegates: IDL.Vec(IDL.Principal), since_ns: Nat64, how: IDL.Text })
);

/** What one purge_namespace_cards call removed, and the cursor of the next call (absent: the walk is done). */
export interface PurgeReport {
  removed: number;
  next: [] | [string];
}
export const PurgeReport = typed<PurgeReport>(IDL.Record({ removed: IDL.Nat32, next: IDL.Opt(IDL.Text) }));
