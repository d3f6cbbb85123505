import { Actor, Certificate, lookupResultToBuffer, pollForResponse, requestIdOf } from '@dfinity/agent';
import { IDL } from '@dfinity/candid';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { decodeCbor, encodeCbor } from '../../src/localnet/crypto/cbor.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { MAX_REQUEST_BYTES } from '../../src/localnet/http/server.ts';
import { agentFor, probeActor, probeWasm } from '../support/probe.ts';

const identity = Ed25519KeyIdentity.generate();

/** A signed envelope built by hand, so tests can break one field at a time. */
async function envelope(content: Record<string, unknown>, signer = identity): Promise<Uint8Array> {
  const requestId = requestIdOf(content);
  const message = new Uint8Array([...new TextEncoder().encode('\x0Aic-request'), ...requestId]);
  const signature = await signer.sign(message);
  return encodeCbor({ content, sender_pubkey: new Uint8Array(signer.getPublicKey().toDer()), sender_sig: new Uint8Array(signature) });
}

function callContent(canisterId: Principal, method: string, arg: Uint8Array, expiryOffsetMs = 60_000): Record<string, unknown> {
  return {
    request_type: 'call',
    canister_id: canisterId.toUint8Array(),
    method_name: method,
    arg,
    sender: identity.getPrincipal().toUint8Array(),
    ingress_expiry: BigInt(Date.now() + expiryOffsetMs) * 1_000_000n,
    nonce: crypto.getRandomValues(new Uint8Array(16))
  };
}

describe('IC HTTP interface: bad input gets the answer the spec prescribes', () => {
  let net: Localnet;
  let probe: Principal;

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    probe = await net.installCanister({ wasm: probeWasm() });
  });
  afterAll(async () => {
    await net.stop();
  });

  const post = (path: string, body: Uint8Array) =>
    fetch(`${net.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: Buffer.from(body) });

  async function stillServing(): Promise<void> {
    const status = await fetch(`${net.url}/api/v2/status`);
    expect(status.status).toBe(200);
    expect(await probeActor(await agentFor(net.url), probe).greet('ok')).toBe('Hello, ok!');
  }

  it('serves /api/v2/status with the 133-byte BLS root key and no floats', async () => {
    const response = await fetch(`${net.url}/api/v2/status`);
    const body = decodeCbor(new Uint8Array(await response.arrayBuffer()));
    expect(body).toMatchObject({ replica_health_status: 'healthy' });
    const rootKey = (body as { root_key: Uint8Array }).root_key;
    expect(rootKey.length).toBe(133);
    expect(Buffer.from(rootKey).toString('hex')).toBe(net.rootKeyHex);
  });

  it('answers malformed CBOR with 400 and keeps serving', async () => {
    const response = await post(`/api/v3/canister/${probe.toText()}/call`, Uint8Array.from([0xd9, 0xd9, 0xf7, 0xbf, 0x01]));
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/CBOR/);
    await stillServing();
  });

  it('answers an envelope without content with 400', async () => {
    const response = await post(`/api/v2/canister/${probe.toText()}/query`, encodeCbor({ hello: 'world' }));
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/Malformed envelope/);
  });

  it('answers an expired ingress_expiry with the replica text agent-js recognises', async () => {
    const arg = new Uint8Array(IDL.encode([], []));
    const response = await post(
      `/api/v3/canister/${probe.toText()}/call`,
      await envelope(callContent(probe, 'increment', arg, -10 * 60_000))
    );
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/^Invalid request expiry: Specified ingress_expiry not within expected range/);
    await stillServing();
  });

  it('answers a wrong sender signature with 400', async () => {
    const content = callContent(probe, 'increment', new Uint8Array(IDL.encode([], [])));
    const forged = decodeCbor(await envelope(content, Ed25519KeyIdentity.generate())) as Record<string, unknown>;
    forged.sender_pubkey = new Uint8Array(identity.getPublicKey().toDer());
    const response = await post(`/api/v3/canister/${probe.toText()}/call`, encodeCbor(forged));
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/Invalid signature/);
  });

  it('answers an oversized body with 413 and keeps serving', async () => {
    const response = await post(`/api/v3/canister/${probe.toText()}/call`, new Uint8Array(MAX_REQUEST_BYTES + 1));
    expect(response.status).toBe(413);
    await stillServing();
  });

  it('answers a mismatched effective canister id with 400 and unknown routes with 404', async () => {
    const other = Principal.fromText('rrkah-fqaaa-aaaaa-aaaaq-cai');
    const body = await envelope(callContent(probe, 'increment', new Uint8Array(IDL.encode([], []))));
    const response = await post(`/api/v3/canister/${other.toText()}/call`, body);
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/does not match effective canister id/);
    expect((await post('/api/v9/canister/x/call', body)).status).toBe(404);
    expect((await post('/api/v2/canister/not-a-principal!/call', body)).status).toBe(400);
  });

  it('rejects calls to unknown canisters as a non-replicated rejection (code 3)', async () => {
    const missing = Principal.fromText('rrkah-fqaaa-aaaaa-aaaaq-cai');
    const response = await post(`/api/v3/canister/${missing.toText()}/call`, await envelope(callContent(missing, 'x', new Uint8Array())));
    expect(response.status).toBe(200);
    expect(decodeCbor(new Uint8Array(await response.arrayBuffer()))).toMatchObject({
      status: 'non_replicated_rejection',
      error_code: 'IC0301'
    });
    const actor = probeActor(await agentFor(net.url), missing);
    await expect(actor.greet('x')).rejects.toThrow(/not found/);
  });

  it('rejects unknown methods with IC0536 for queries and updates', async () => {
    const agent = await agentFor(net.url, identity);
    await expect(
      agent.query(probe, { methodName: 'nope', arg: new Uint8Array(IDL.encode([], [])) }).then((r) => {
        if (r.status === 'rejected') throw new Error(`${r.error_code}: ${r.reject_message}`);
      })
    ).rejects.toThrow(/IC0536/);
    const fake = Actor.createActor<{ nope: () => Promise<void> }>(() => IDL.Service({ nope: IDL.Func([], [], []) }), {
      agent,
      canisterId: probe
    });
    await expect(fake.nope()).rejects.toThrow(/no update method 'nope'/);
  });

  it('answers the CORS preflight like a boundary node', async () => {
    const response = await fetch(`${net.url}/api/v2/canister/${probe.toText()}/query`, { method: 'OPTIONS' });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('executes a resent request once (request-id deduplication) and certifies its status', async () => {
    const actor = probeActor(await agentFor(net.url), probe);
    const before = await actor.heap_counter();
    const content = callContent(probe, 'increment', new Uint8Array(IDL.encode([], [])));
    const body = await envelope(content);
    const first = await post(`/api/v3/canister/${probe.toText()}/call`, body);
    const second = await post(`/api/v3/canister/${probe.toText()}/call`, body);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(await actor.heap_counter()).toBe(before + 1n);
    const { certificate } = decodeCbor(new Uint8Array(await second.arrayBuffer())) as { certificate: Uint8Array };
    const verified = await Certificate.create({ certificate, rootKey: net.rootKey, canisterId: probe });
    const requestId = requestIdOf(content);
    const status = lookupResultToBuffer(verified.lookup_path(['request_status', requestId, 'status']));
    expect(new TextDecoder().decode(status)).toBe('replied');
  });

  it('supports the v2 asynchronous call with read_state polling', async () => {
    const agent = await agentFor(net.url, identity);
    const arg = new Uint8Array(IDL.encode([IDL.Text, IDL.Text], ['async', 'yes']));
    const submitted = await agent.call(probe, { methodName: 'put', arg, callSync: false });
    expect(submitted.response.status).toBe(202);
    const { reply } = await pollForResponse(agent, probe, submitted.requestId);
    expect(IDL.decode([IDL.Opt(IDL.Text)], reply)).toEqual([[]]);
    expect(await probeActor(agent, probe).get('async')).toEqual(['yes']);
  });
});
