import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { IDL } from '@dfinity/candid';
import { describe, expect, it } from 'vitest';

import { ledgerIdlFactory } from '../../canisters/ledger/candid.ts';
import { registryIdlFactory } from '../../canisters/registry/candid.ts';

const root = join(import.meta.dirname, '..', '..');

/** `name: (args) -> (results) modes;` as the generated .did writes each method. */
function didMethods(file: string): Map<string, string> {
  const did = readFileSync(join(root, file), 'utf8');
  const service = did.slice(did.lastIndexOf('service'));
  return new Map([...service.matchAll(/^\s+([a-z0-9_]+): (.*);$/gm)].map((m) => [m[1] ?? '', m[2] ?? '']));
}

describe('off-chain clients use the committed Candid', () => {
  for (const [name, factory, file] of [
    ['registry', registryIdlFactory, 'canisters/registry/registry.did'],
    ['ledger', ledgerIdlFactory, 'canisters/ledger/ledger.did']
  ] as const) {
    it(`the ${name} IDL factory (SDK, CLI, runner, explorer) is ${file}, method for method and type for type`, () => {
      const declared = didMethods(file);
      const client = new Map(factory({ IDL })._fields.map(([method, func]) => [method, func.display().replace(' → ', ' -> ').trimEnd()]));
      expect([...client.keys()].sort()).toEqual([...declared.keys()].sort());
      for (const [method, signature] of client) {
        // Recursive types (ICRC-3's Value, get_blocks) are written as μrec by @dfinity/candid and by name in the
        // .did: for those only the query/update mode is compared.
        if (signature.includes('μ')) expect(declared.get(method)?.endsWith(' query'), method).toBe(signature.endsWith(' query'));
        else expect(signature, method).toBe(declared.get(method));
      }
    });
  }
});
