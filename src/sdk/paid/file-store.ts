import { KeyedLog } from '../../durable/keyed-log.js';
import { legacyBooksRecords, type PayerStateStore } from './state.js';

/**
 * The payer's books in a file (mode 0600) and its append-only log `<path>.log` (src/durable/keyed-log.ts). Node only:
 * not part of the browser SDK. `save` never touches the disk on the caller's turn: the records saved in one turn are
 * appended and fsynced together, and compacted into the file now and then; `flush()` resolves once the disk holds
 * every save made before it, and the payer flushes before any receipt leaves it, so a receipt a runner or the registry
 * has seen is always in the books a restarted payer loads (a crash mid-append loses only the torn last line).
 */
export function filePayerStore(path: string, options: { compactAfterRecords?: number } = {}): PayerStateStore {
  const log = new KeyedLog(path, { mode: 0o600, legacy: legacyBooksRecords, ...options });
  return {
    load: () => new Map(log.entries()),
    save: (changes) => {
      for (const [key, value] of changes) {
        if (value === undefined) log.delete(key);
        else log.put(key, value);
      }
    },
    flush: () => log.flush()
  };
}
