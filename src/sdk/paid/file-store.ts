import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

import type { PayerStateStore } from './state.js';

/**
 * The payer's books in a file, replaced atomically (write, then rename). Node only: not part of the browser SDK.
 * `save` never touches the disk on the caller's turn: the file is rewritten asynchronously with the latest books, at
 * most one write at a time (a burst of saves costs one write); `flush()` resolves once the file holds every save made
 * before it, and the payer flushes before any receipt leaves it, so a receipt a runner or the registry has seen is
 * always in the books a restarted payer loads.
 */
export function filePayerStore(path: string): PayerStateStore {
  let latest = '';
  let version = 0;
  let written = 0;
  let writing: Promise<void> | undefined;
  let failure: unknown;
  const writeLoop = async (): Promise<void> => {
    // The next turn: the saves of this one share the write.
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      while (written < version) {
        const [text, at] = [latest, version];
        await mkdir(dirname(path), { recursive: true });
        const tmp = `${path}.tmp`;
        await writeFile(tmp, text, { mode: 0o600 });
        await rename(tmp, path);
        written = at;
        failure = undefined;
      }
    } catch (error) {
      failure = error;
    } finally {
      writing = undefined;
    }
  };
  return {
    load: () => (existsSync(path) ? readFileSync(path, 'utf8') : undefined),
    save: (text) => {
      latest = text;
      version += 1;
      writing ??= writeLoop();
    },
    flush: async () => {
      const wanted = version;
      while (written < wanted) {
        writing ??= writeLoop();
        await writing;
        if (written < wanted && failure !== undefined) throw failure;
      }
    }
  };
}
