import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Actor, type HttpAgent } from '@dfinity/agent';
import type { IDL } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';

import { IcError } from './errors.js';

/** The explorer asset canister's interface (canisters/explorer/explorer.did). */
const explorerIdl: IDL.InterfaceFactory = ({ IDL: I }) => {
  const result = I.Variant({
    Ok: I.Null,
    Err: I.Variant({ NotController: I.Null, TooMany: I.Null, TooLarge: I.Null, InvalidPath: I.Null, InvalidContentType: I.Null })
  });
  return I.Service({
    put_asset: I.Func([I.Text, I.Text, I.Vec(I.Nat8)], [result], []),
    clear_assets: I.Func([], [result], []),
    list_assets: I.Func([], [I.Vec(I.Text)], ['query'])
  });
};

type PutResult = { Ok: null } | { Err: Record<string, null> };
interface ExplorerActor {
  put_asset(path: string, contentType: string, body: Uint8Array): Promise<PutResult>;
  clear_assets(): Promise<PutResult>;
  list_assets(): Promise<string[]>;
}

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  json: 'application/json; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon'
};

function check(result: PutResult, what: string): void {
  if ('Err' in result)
    throw new IcError('DeployFailed', `Uploading ${what} to the explorer canister failed: ${Object.keys(result.Err).join(', ')}`);
}

/**
 * Replaces the explorer canister's assets with the built page in `dir` (files as `BundleFile.path` lists them) and
 * `config.json`; the canister certifies each one for the HTTP gateway.
 */
export async function uploadExplorer(
  agent: HttpAgent,
  canisterId: Principal,
  dir: string,
  files: string[],
  config: unknown
): Promise<string[]> {
  const actor = Actor.createActor<ExplorerActor>(explorerIdl, { agent, canisterId });
  check(await actor.clear_assets(), 'the reset');
  for (const file of files) {
    const type = TYPES[file.split('.').pop() ?? ''] ?? 'application/octet-stream';
    check(await actor.put_asset(`/${file}`, type, new Uint8Array(readFileSync(join(dir, file)))), file);
  }
  check(await actor.put_asset('/config.json', TYPES.json ?? '', new TextEncoder().encode(JSON.stringify(config, null, 2))), 'config.json');
  return actor.list_assets();
}
