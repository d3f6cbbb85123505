/** The registry's domain logic: pure functions of (store, caller, now, args), shared by the canister and tests. */
export { publishCard, getCard, listCards, deprecateCard, type CardFilter, type ModelRef } from './cards.js';
export {
  assignNamespace,
  checkPublisher,
  delegateNamespace,
  getNamespace,
  migrateNamespaces,
  namespaceOf,
  nextSpelling,
  purgeNamespaceCards,
  revokeNamespaceDelegate,
  startNamespaceMigration,
  type PurgeReport
} from './namespaces.js';
export { compareVersions } from './versions.js';
export {
  checkRegistration,
  registerRunner,
  addRunner,
  updateRunner,
  manageable,
  deregisterRunner,
  heartbeat,
  setSuspended,
  listRunners,
  type HeartbeatInput,
  type HeartbeatAck,
  type RunnerFilter
} from './runners.js';
export { acceptOperator, effectiveOperator, operatorAccepted, operatorOf } from './operators.js';
export { checkFindRequest, findRunners, stats, isLive, type FindRequest, type Candidate, type ModelStats } from './discovery.js';
export { makeConfig, setAdmins, type ConfigInput } from './config.js';
export { WEIGHTS, RATIO_CLAMP, scoreOf, type Breakdown } from './ranking.js';
export { DiscoveryIndex } from './discovery-index.js';
export { SessionAffinity, MAX_AFFINITY_BINDINGS, type AffinityBinding } from './affinity.js';
export { confidentialOf, type Confidential } from './confidential.js';
export {
  cardKey,
  memoryStore,
  MemoryKeyValue,
  type KeyValue,
  type NamespaceMigration,
  type QuotaBackfill,
  type RegistryStore
} from './store.js';
export { checkPage, type Page, type PageRequest } from './pagination.js';
export { ANONYMOUS_PRINCIPAL, type RegistryError, type Result } from './errors.js';
export * from './limits.js';
export { parseCardText } from './card-text.js';
export { parseManifestBytes } from './manifest-bytes.js';
export {
  backfillQuotaCounters,
  bump,
  checkQuota,
  countOf,
  setQuotas,
  startQuotaBackfill,
  MAX_QUOTA,
  type OpenTaskOwners,
  type QuotaKind
} from './quotas.js';
export { inspectIngress, maxArgBytes, MAX_ARG_BYTES, type Ingress, type IngressRefusal } from './ingress.js';
export * from './types.js';
