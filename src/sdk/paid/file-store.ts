import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

import type { PayerStateStore } from './state.js';

/** The payer's books in a file, replaced atomically (write, then rename). Node only: not part of the browser SDK. */
export function filePayerStore(path: string): PayerStateStore {
  return {
    load: () => (existsSync(path) ? readFileSync(path, 'utf8') : undefined),
    save: (text) => {
      mkdirSync(dirname(path), { recursive: true });
      const tmp = `${path}.tmp`;
      writeFileSync(tmp, text, { mode: 0o600 });
      renameSync(tmp, path);
    }
  };
}
