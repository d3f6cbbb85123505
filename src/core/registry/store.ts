import { MemoryKeyValue, type KeyValue } from '../kv.js';
import { SessionAffinity } from './affinity.js';
import { DiscoveryIndex } from './discovery-index.js';
import {
  DEFAULT_QUOTAS,
  type Heartbeat,
  type Namespace,
  type Quotas,
  type RegistryConfig,
  type Reputation,
  type StoredCard,
  type StoredRunner
} from './types.js';

/** Everything the registry keeps. Card keys are `<id>@<digest>`; runner, heartbeat and reputation keys are principals. */
export interface RegistryStore {
  cards: KeyValue<StoredCard>;
  /** Lowercase org → who may publish cards under it (src/core/registry/namespaces.ts). */
  namespaces: KeyValue<Namespace>;
  runners: KeyValue<StoredRunner>;
  heartbeats: KeyValue<Heartbeat>;
  reputation: KeyValue<Reputation>;
  /** Derived, heap-only: which runners serve which model id (rebuilt from `runners` after an upgrade). */
  index: DiscoveryIndex;
  /** Durable, bounded: which runner served each requester's affinity key (src/core/registry/affinity.ts). */
  affinity: SessionAffinity;
  /** Per-principal counters behind the quotas (`<kind>|<principal>`, see quotas.ts). */
  counts: KeyValue<number>;
  config(): RegistryConfig;
  setConfig(config: RegistryConfig): void;
  quotas(): Quotas;
  setQuotas(quotas: Quotas): void;
  /** Where the rebuild of `counts` stands (quotas.ts), or undefined when the counters are complete. */
  quotaBackfill(): QuotaBackfill | undefined;
  setQuotaBackfill(progress: QuotaBackfill | undefined): void;
  /** Where the namespace migration stands (namespaces.ts), or undefined when none is running. */
  namespaceMigration(): NamespaceMigration | undefined;
  setNamespaceMigration(progress: NamespaceMigration | undefined): void;
}

/** The namespace migration's cursor: when it started and the last card key done (src/core/registry/namespaces.ts). */
export interface NamespaceMigration {
  startedAtNs: bigint;
  after?: string;
}

/** The cursor of the quota counters' rebuild: the phase (clearing, then one per counted kind) and the last key done. */
export interface QuotaBackfill {
  phase: 'clear' | 'runners' | 'cards' | 'open-tasks';
  after?: string;
}

export { MemoryKeyValue, type KeyValue };

export function cardKey(id: string, digest: string): string {
  return `${id}@${digest}`;
}

export function memoryStore(config: RegistryConfig): RegistryStore {
  let current = config;
  let quotas: Quotas = { ...DEFAULT_QUOTAS };
  let backfill: QuotaBackfill | undefined;
  let migration: NamespaceMigration | undefined;
  return {
    cards: new MemoryKeyValue(),
    namespaces: new MemoryKeyValue(),
    runners: new MemoryKeyValue(),
    heartbeats: new MemoryKeyValue(),
    reputation: new MemoryKeyValue(),
    index: new DiscoveryIndex(),
    affinity: new SessionAffinity(),
    counts: new MemoryKeyValue(),
    config: () => current,
    setConfig: (next) => {
      current = next;
    },
    quotas: () => quotas,
    setQuotas: (next) => {
      quotas = next;
    },
    quotaBackfill: () => backfill,
    setQuotaBackfill: (next) => {
      backfill = next;
    },
    namespaceMigration: () => migration,
    setNamespaceMigration: (next) => {
      migration = next;
    }
  };
}
