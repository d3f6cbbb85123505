import { MemoryKeyValue, type KeyValue } from '../kv.js';
import { SessionAffinity } from './affinity.js';
import { DiscoveryIndex } from './discovery-index.js';
import {
  DEFAULT_QUOTAS,
  type Heartbeat,
  type Quotas,
  type RegistryConfig,
  type Reputation,
  type StoredCard,
  type StoredRunner
} from './types.js';

/** Everything the registry keeps. Card keys are `<id>@<digest>`; runner, heartbeat and reputation keys are principals. */
export interface RegistryStore {
  cards: KeyValue<StoredCard>;
  runners: KeyValue<StoredRunner>;
  heartbeats: KeyValue<Heartbeat>;
  reputation: KeyValue<Reputation>;
  /** Derived, heap-only: which runners serve which model id (rebuilt from `runners` after an upgrade). */
  index: DiscoveryIndex;
  /** Heap-only, bounded: which runner served each requester's affinity key (src/core/registry/affinity.ts). */
  affinity: SessionAffinity;
  /** Per-principal counters behind the quotas (`<kind>|<principal>`, see quotas.ts). */
  counts: KeyValue<number>;
  config(): RegistryConfig;
  setConfig(config: RegistryConfig): void;
  quotas(): Quotas;
  setQuotas(quotas: Quotas): void;
}

export { MemoryKeyValue, type KeyValue };

export function cardKey(id: string, digest: string): string {
  return `${id}@${digest}`;
}

export function memoryStore(config: RegistryConfig): RegistryStore {
  let current = config;
  let quotas: Quotas = { ...DEFAULT_QUOTAS };
  return {
    cards: new MemoryKeyValue(),
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
    }
  };
}
