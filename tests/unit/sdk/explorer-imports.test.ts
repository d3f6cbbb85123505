import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const APP = join(ROOT, 'src', 'explorer', 'app');

/**
 * The explorer may reach src/interface only to create its actors: the IDL factories and the service types that type
 * them, in client.ts. Every value it shows goes through the SDK's converters and types (src/sdk).
 */
const ALLOWED: Record<string, string[]> = {
  'client.ts': ['ledgerIdlFactory', 'LedgerService', 'registryIdlFactory', 'RegistryService']
};

interface InterfaceImport {
  file: string;
  from: string;
  names: string[];
}

/** Every `import … from '…/interface/…'` (and `export … from`) of one source text. */
function interfaceImports(file: string, text: string): InterfaceImport[] {
  const found: InterfaceImport[] = [];
  for (const m of text.matchAll(/(?:import|export)\s+(type\s+)?([^;]*?)\s+from\s+['"]([^'"]+)['"]/g)) {
    const from = m[3] ?? '';
    if (!/(^|\/)interface\//.test(from)) continue;
    const clause = m[2] ?? '';
    const braced = /\{([^}]*)\}/.exec(clause)?.[1];
    const names =
      braced === undefined
        ? [clause.trim()]
        : braced
            .split(',')
            .map(
              (n) =>
                n
                  .trim()
                  .replace(/^type\s+/, '')
                  .split(/\s+as\s+/)[0] ?? ''
            )
            .filter((n) => n !== '');
    found.push({ file, from, names });
  }
  return found;
}

/** Names imported from src/interface that the file may not import. */
function forbidden(imports: InterfaceImport[]): string[] {
  return imports.flatMap((i) => i.names.filter((n) => !(ALLOWED[i.file] ?? []).includes(n)).map((n) => `${i.file}: ${n} from ${i.from}`));
}

const sources = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []
  );

describe('the explorer reads the registry through the SDK', () => {
  it('imports nothing from src/interface but the actor factories and service types', () => {
    const imports = sources(APP).flatMap((path) => interfaceImports(relative(APP, path), readFileSync(path, 'utf8')));
    expect(imports.length).toBeGreaterThan(0);
    expect(forbidden(imports)).toEqual([]);
  });

  it('fails on a view that imports a wire type (the scan above can fail)', () => {
    const view = [
      "import type { TaskView } from '../../../interface/registry/index.js';",
      "import { type Opt, fromOpt } from '../../../interface/candid.js';",
      "export type { Value as Icrc3Value } from '../../interface/ledger/index.js';",
      "import { h } from '../dom.js';"
    ].join('\n');
    expect(forbidden(interfaceImports('views/tasks.ts', view))).toEqual([
      'views/tasks.ts: TaskView from ../../../interface/registry/index.js',
      'views/tasks.ts: Opt from ../../../interface/candid.js',
      'views/tasks.ts: fromOpt from ../../../interface/candid.js',
      'views/tasks.ts: Value from ../../interface/ledger/index.js'
    ]);
    const client = "import { registryIdlFactory, type RegistryService, type TaskView } from '../../interface/registry/index.js';";
    expect(forbidden(interfaceImports('client.ts', client))).toEqual(['client.ts: TaskView from ../../interface/registry/index.js']);
  });
});
