import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Localnet } from '../../src/localnet/localnet.ts';
import { getWithHost } from '../support/web.ts';

const PutError = IDL.Variant({
  NotController: IDL.Null,
  TooMany: IDL.Null,
  TooLarge: IDL.Null,
  InvalidPath: IDL.Null,
  InvalidContentType: IDL.Null
});
const PutResult = IDL.Variant({ Ok: IDL.Null, Err: PutError });
const wasm = () =>
  new Uint8Array(readFileSync(join(import.meta.dirname, '..', '..', 'canisters', 'explorer', '.azle', 'explorer', 'explorer.wasm')));

/** The explorer's asset canister (canisters/explorer) on the built Wasm: its bounds and who may upload. */
describe('explorer asset canister', () => {
  let net: Localnet;
  let id: Principal;

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    id = await net.installCanister({ wasm: wasm() });
  });
  afterAll(async () => {
    await net.stop();
  });

  const put = async (path: string, type: string, body: Uint8Array, caller?: Principal): Promise<unknown> => {
    const arg = new Uint8Array(IDL.encode([IDL.Text, IDL.Text, IDL.Vec(IDL.Nat8)], [path, type, body]));
    return IDL.decode([PutResult], await net.update(id, 'put_asset', arg, caller))[0];
  };
  const small = new TextEncoder().encode('x');

  it('serves what a controller uploads, certified, and refuses everyone else', async () => {
    expect(await put('/index.html', 'text/html', new TextEncoder().encode('<title>ok</title>'))).toEqual({ Ok: null });
    const page = await getWithHost(net.port, `${id.toText()}.localhost:${net.port}`, '/');
    expect([page.status, page.text]).toEqual([200, '<title>ok</title>']);
    expect(await put('/index.html', 'text/html', small, Principal.anonymous())).toEqual({ Err: { NotController: null } });
    const clear = IDL.decode(
      [PutResult],
      await net.update(id, 'clear_assets', new Uint8Array(IDL.encode([], [])), Principal.anonymous())
    )[0];
    expect(clear).toEqual({ Err: { NotController: null } });
    expect((await getWithHost(net.port, `${id.toText()}.localhost:${net.port}`, '/index.html')).text).toBe('<title>ok</title>');
  });

  it('refuses bad paths, content types and sizes with typed errors', async () => {
    for (const path of ['index.html', '/a/', '/a//b', '/a?b', '/<*>', 'x'.repeat(300)])
      expect(await put(path, 'text/plain', small)).toEqual({ Err: { InvalidPath: null } });
    for (const type of ['', 'text/html\r\nx-evil: 1', 't'.repeat(129)])
      expect(await put('/a', type, small)).toEqual({ Err: { InvalidContentType: null } });
    expect(await put('/big', 'application/octet-stream', new Uint8Array(1_900_001))).toEqual({ Err: { TooLarge: null } });
  });

  it('holds at most 16 files', async () => {
    for (let i = 0; i < 15; i++) expect(await put(`/f${i}`, 'text/plain', small)).toEqual({ Ok: null });
    expect(await put('/one-too-many', 'text/plain', small)).toEqual({ Err: { TooMany: null } });
    expect(await put('/f1', 'text/plain', small)).toEqual({ Ok: null }); // replacing one is fine
  });
});
