import { CachedKeyValue } from '../common/stable-kv.js';
import { DiscoveryIndex, type RegistryStore } from '../../src/core/registry/index.js';
import type { Heartbeat, RegistryConfig, Reputation, StoredCard, StoredRunner } from '../../src/core/registry/index.js';

const CONFIG_KEY = 'config';

/** The registry's durable state: one stable map per collection, the discovery index rebuilt in the heap. */
export function openStore(): RegistryStore & { hasConfig(): boolean } {
  const cards = new CachedKeyValue<StoredCard>(0);
  const runners = new CachedKeyValue<StoredRunner>(1);
  const heartbeats = new CachedKeyValue<Heartbeat>(2);
  const reputation = new CachedKeyValue<Reputation>(3);
  const settings = new CachedKeyValue<RegistryConfig>(4);
  const index = new DiscoveryIndex();
  index.rebuild(runners.entries(), (id) => heartbeats.get(id));
  return {
    cards,
    runners,
    heartbeats,
    reputation,
    index,
    hasConfig: () => settings.has(CONFIG_KEY),
    config: () => {
      const config = settings.get(CONFIG_KEY);
      if (config === undefined) throw new Error('registry used before init');
      return config;
    },
    setConfig: (config) => settings.set(CONFIG_KEY, config)
  };
}
