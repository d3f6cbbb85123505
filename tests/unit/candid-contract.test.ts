import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { IDL } from '@dfinity/candid';
import { describe, expect, it } from 'vitest';

import { idlDifference, listDifference } from '../../src/interface/did/equal.ts';
import { DID_FILES, didText } from '../../src/interface/did/interfaces.ts';
import { parseDid } from '../../src/interface/did/parse.ts';
import { MAX_LINE } from '../../src/interface/did/render.ts';
import { ledgerIdlFactory } from '../../src/interface/ledger/index.ts';
import { registryIdlFactory } from '../../src/interface/registry/index.ts';
import { readMetadataSections } from '../../src/localnet/execution/compiled-code.ts';
import { checkCandid } from '../../src/project/build.ts';

const root = join(import.meta.dirname, '..', '..');
const read = (path: string): string => readFileSync(join(root, path), 'utf8');

describe('the committed .did files are the interfaces’ IDL', () => {
  for (const file of DID_FILES) {
    it(`${file.path} is what ${file.source} generates (npm run generate:did)`, () => {
      expect(read(file.path)).toBe(didText(file));
    });

    it(`${file.path} reads back as the same service and init arguments, with named types and short lines`, () => {
      const text = read(file.path);
      const parsed = parseDid(text);
      const iface = file.iface();
      expect(idlDifference(iface.service, parsed.service)).toBeUndefined();
      expect(listDifference(iface.init, parsed.init, 'init')).toBeUndefined();
      expect(Math.max(...text.split('\n').map((line) => line.length))).toBeLessThanOrEqual(MAX_LINE);
      const service = text.slice(text.indexOf('service :'));
      // One method per line: every method's line ends its signature.
      for (const [name] of iface.service._fields) expect(service).toMatch(new RegExp(`^  ${name} : \\(.*\\) -> \\(.*;$`, 'm'));
    });
  }

  it('registry.did names at least 15 types, its errors among them', () => {
    const text = read('src/interface/registry/registry.did');
    expect([...text.matchAll(/^type (\w+) = /gm)].length).toBeGreaterThanOrEqual(15);
    expect(text).toMatch(/^type RegistryError = variant \{$/m);
    expect(text).toMatch(/^type TaskView = record \{$/m);
  });

  it('the off-chain IDL factories are the services of the committed .did files', () => {
    for (const [factory, path] of [
      [registryIdlFactory, 'src/interface/registry/registry.did'],
      [ledgerIdlFactory, 'src/interface/ledger/ledger.did']
    ] as const) {
      expect(idlDifference(factory({ IDL }), parseDid(read(path)).service), path).toBeUndefined();
    }
  });
});

describe('the build compares the decorators’ generated Candid with the committed .did', () => {
  const committed = read('src/interface/registry/registry.did');

  it('accepts the same service written inline, as azle writes it', () => {
    const inline = `service: (opt record {admins:vec principal; heartbeat_interval_seconds:opt nat64; heartbeat_ttl_seconds:opt nat64}) -> {
    get_task_config: () -> (record {ledger:opt principal}) query;
}`;
    expect(() =>
      checkCandid(
        'registry',
        'registry.did',
        'service : (opt record { admins : vec principal; heartbeat_interval_seconds : opt nat64; heartbeat_ttl_seconds : opt nat64 }) -> { get_task_config : () -> (record { ledger : opt principal }) query; }',
        inline
      )
    ).not.toThrow();
  });

  it('fails naming the method whose decorator drifted from the contract', () => {
    const drifted = committed.replace(
      'quote_reward : (nat, nat8) -> (RewardQuote) query;',
      'quote_reward : (nat, nat16) -> (RewardQuote) query;'
    );
    expect(drifted).not.toBe(committed);
    expect(() => checkCandid('registry', 'registry.did', committed, drifted)).toThrow(/quote_reward/);
    const mode = committed.replace('get_task_config : () -> (TaskConfigView) query;', 'get_task_config : () -> (TaskConfigView);');
    expect(() => checkCandid('registry', 'registry.did', committed, mode)).toThrow(/get_task_config/);
    const extra = committed.replace('service : (opt InitArgs) -> {', 'service : (opt InitArgs) -> {\n  extra_method : () -> ();');
    expect(() => checkCandid('registry', 'registry.did', committed, extra)).toThrow(/extra_method/);
  });
});

describe('built canisters carry the committed .did as candid:service metadata', () => {
  for (const [name, path] of [
    ['registry', 'src/interface/registry/registry.did'],
    ['ledger', 'src/interface/ledger/ledger.did']
  ] as const) {
    const wasm = join(root, '.azle', name, `${name}.wasm`);
    it.skipIf(!existsSync(wasm))(`.azle/${name}/${name}.wasm (npm run build)`, () => {
      const section = readMetadataSections(new Uint8Array(readFileSync(wasm))).get('candid:service');
      expect(section?.visibility).toBe('public');
      expect(new TextDecoder().decode(section?.content)).toBe(read(path));
    });
  }
});
