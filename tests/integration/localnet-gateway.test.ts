import { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { generateHostKeys } from '../../src/localnet/crypto/host-keys.ts';
import { serveFromCanister } from '../../src/localnet/http/gateway/handler.ts';
import { MAX_REQUEST_BYTES } from '../../src/localnet/http/server.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { probeWasm } from '../support/probe.ts';
import { getWithHost, webWasm } from '../support/web.ts';

describe('HTTP gateway: browser requests to canisters on the localnet port', () => {
  let net: Localnet;
  let web: Principal;
  let probe: Principal;
  const at = (path: string, host = `${web.toText()}.localhost:${net.port}`) => getWithHost(net.port, host, path);
  const byQuery = (path: string) => fetch(`${net.url}${path}${path.includes('?') ? '&' : '?'}canisterId=${web.toText()}`);

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    web = await net.installCanister({ wasm: webWasm() });
    probe = await net.installCanister({ wasm: probeWasm() });
  });

  afterAll(async () => {
    await net.stop();
  });

  it('serves a certified page at <id>.localhost after verifying it, and keeps /api/v2 there for agents', async () => {
    const page = await at('/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.text).toContain('Hello from a certified canister');
    expect(page.headers['ic-certificate']).toMatch(/^certificate=:.+:, tree=:.+:, expr_path=:.+:, version=2$/);
    const status = await at('/api/v2/status');
    expect(status.status).toBe(200);
    expect(status.headers['content-type']).toBe('application/cbor');
  });

  it('serves the same page at 127.0.0.1 with ?canisterId=', async () => {
    const response = await byQuery('/');
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('Hello from a certified canister');
  });

  it('refuses a body other than the certified one with 503, and the raw domain serves it', async () => {
    const refused = await at('/tampered');
    expect(refused.status).toBe(503);
    expect(refused.text).toMatch(/^error: response_verification_error\n/);
    expect(refused.text).not.toContain('tampered bytes');
    const raw = await at('/tampered', `${web.toText()}.raw.localhost:${net.port}`);
    expect(raw.status).toBe(200);
    expect(raw.text).toBe('tampered bytes');
  });

  it('refuses an uncertified page with 503 unless asked on raw.localhost (host or ?canisterId=)', async () => {
    expect((await at('/uncertified')).status).toBe(503);
    expect((await byQuery('/uncertified')).status).toBe(503);
    const rawHost = await at('/uncertified', `${web.toText()}.raw.localhost:${net.port}`);
    expect(rawHost.status).toBe(200);
    expect(rawHost.text).toContain('Uncertified');
    const rawQuery = await getWithHost(net.port, `raw.localhost:${net.port}`, `/uncertified?canisterId=${web.toText()}`);
    expect(rawQuery.status).toBe(200);
  });

  it('follows streaming callbacks until the token is none', async () => {
    const streamed = await at('/stream');
    expect(streamed.status).toBe(200);
    expect(streamed.text).toBe('chunk-0;chunk-1;chunk-2;');
    expect(Number(streamed.headers['content-length'])).toBe(streamed.text.length);
  });

  it('verifies a streamed body once assembled: a certificate for other bytes is a 503, the raw domain serves them', async () => {
    const refused = await at('/stream-tampered');
    expect(refused.status).toBe(503);
    expect(refused.text).toMatch(/^error: response_verification_error\n/);
    expect(refused.text).not.toContain('chunk-');
    const raw = await at('/stream-tampered', `${web.toText()}.raw.localhost:${net.port}`);
    expect(raw.status).toBe(200);
    expect(raw.text).toBe('chunk-0;chunk-1;chunk-2;');
  });

  it('yields the event loop between streaming callbacks, so a long stream does not stall other requests', async () => {
    let ticks = 0;
    let spinning = true;
    const spin = (): void => {
      if (!spinning) return;
      ticks += 1;
      setImmediate(spin);
    };
    setImmediate(spin);
    const request = { method: 'GET', url: '/stream-forever', headers: [], body: new Uint8Array() };
    const deps = { engine: net.engine, rounds: net.rounds, rootKeyDer: net.rootKey, maxStreamingCallbacks: 50 };
    const endless = await serveFromCanister(deps, { canisterId: web, raw: true }, request);
    spinning = false;
    expect(endless.status).toBe(503);
    // One turn of the loop per callback (a synchronous loop would let none run before it ends).
    expect(ticks).toBeGreaterThanOrEqual(40);
  });

  it('fails a streaming callback that names another canister (the spec fails the request)', async () => {
    const response = await at('/stream-elsewhere');
    expect(response.status).toBe(503);
    expect(response.text).toMatch(/streaming callback is a method of another canister/);
  });

  it('gives up on a stream that never ends (bounded callbacks) and on a status code HTTP has not', async () => {
    const request = { method: 'GET', url: '/stream-forever', headers: [], body: new Uint8Array() };
    const deps = { engine: net.engine, rounds: net.rounds, rootKeyDer: net.rootKey, maxStreamingCallbacks: 5 };
    const endless = await serveFromCanister(deps, { canisterId: web, raw: false }, request);
    expect(endless.status).toBe(503);
    expect(new TextDecoder().decode(endless.body)).toMatch(/exceeds 5 callbacks/);
    const badStatus = await at('/bad-status', `${web.toText()}.raw.localhost:${net.port}`);
    expect(badStatus.status).toBe(503);
    expect(badStatus.text).toMatch(/invalid status 999/);
  });

  it('answers a request body over the limit with 413', async () => {
    const response = await fetch(`${net.url}/upload?canisterId=${web.toText()}`, {
      method: 'POST',
      body: new Uint8Array(MAX_REQUEST_BYTES + 1)
    });
    expect(response.status).toBe(413);
    expect(await response.text()).toMatch(/^error: payload_too_large\n/);
  });

  it('makes the update call http_request_update when the query answers upgrade = opt true', async () => {
    const first = await at('/update');
    const second = await at('/update');
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(first.text).toBe('updated 1 GET /update');
    expect(second.text).toBe('updated 2 GET /update');
  });

  it('answers a trap with 503 canister_error and the replica error', async () => {
    const response = await at('/trap');
    expect(response.status).toBe(503);
    expect(response.text).toMatch(/^error: canister_error\n/);
    expect(response.text).toContain('IC0503');
  });

  it('answers 404 for a canister no subnet hosts and 400 for a host that is not a principal', async () => {
    const missing = await getWithHost(net.port, `rrkah-fqaaa-aaaaa-aaaaq-cai.localhost:${net.port}`, '/');
    expect(missing.status).toBe(404);
    expect(missing.text).toMatch(/^error: canister_not_found\n/);
    expect((await getWithHost(net.port, `not-a-principal.localhost:${net.port}`, '/')).status).toBe(400);
    expect((await fetch(`${net.url}/?canisterId=nope`)).status).toBe(400);
  });

  it('answers 503 canister_error (IC0536) for a canister without http_request', async () => {
    const response = await getWithHost(net.port, `${probe.toText()}.localhost:${net.port}`, '/');
    expect(response.status).toBe(503);
    expect(response.text).toMatch(/^error: canister_error\n/);
    expect(response.text).toContain('IC0536');
  });

  it('refuses a certificate signed by another root key or too old, as boundary nodes do', async () => {
    const request = { method: 'GET', url: '/', headers: [], body: new Uint8Array() };
    const target = { canisterId: web, raw: false };
    const deps = { engine: net.engine, rounds: net.rounds, rootKeyDer: net.rootKey };
    expect((await serveFromCanister(deps, target, request)).status).toBe(200);
    const otherKey = await serveFromCanister({ ...deps, rootKeyDer: generateHostKeys().rootKeyDer }, target, request);
    expect(otherKey.status).toBe(503);
    const late = BigInt(Date.now() + 6 * 60_000) * 1_000_000n;
    expect((await serveFromCanister({ ...deps, nowNs: () => late }, target, request)).status).toBe(503);
  });
});
