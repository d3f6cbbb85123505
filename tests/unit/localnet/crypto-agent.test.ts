import { describe, expect, it } from 'vitest';
import { Actor, HttpAgent, type Identity } from '@dfinity/agent';
import { IDL } from '@dfinity/candid';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import { Secp256k1KeyIdentity } from '@dfinity/identity-secp256k1';
import { Principal } from '@dfinity/principal';
import { utf8ToBytes } from '@noble/hashes/utils';
import { z } from 'zod';
import { Certifier } from '../../../src/localnet/certification/certificate.js';
import { buildTree, leb128, prune, type LabeledTree } from '../../../src/localnet/certification/hash-tree.js';
import { decodeCbor, encodeCbor } from '../../../src/localnet/crypto/cbor.js';
import { generateHostKeys, type HostKeys } from '../../../src/localnet/crypto/host-keys.js';
import { signQueryResponse, type QueryResponseBody } from '../../../src/localnet/crypto/query-signature.js';
import { authenticateEnvelope, type RequestContent } from '../../../src/localnet/crypto/request-auth.js';

/**
 * A minimal in-memory host built only from the crypto/certification layer, driven through an
 * unmodified HttpAgent (default settings: query-signature verification, v3 sync calls, BLS checks).
 */
const keys = generateHostKeys();
const CANISTER = Principal.fromText('guva5-raaaa-aaaaa-aaeaa-cai');
const rangeId = (i: number) => Uint8Array.of(0, 0, 0, 0, (i >>> 24) & 255, (i >>> 16) & 255, (i >>> 8) & 255, i & 255, 1, 1);
const nowNs = () => BigInt(Date.now()) * 1_000_000n;

function stateTree(extra: ReadonlyArray<readonly [string, LabeledTree]> = []) {
  const sid = keys.subnetId.toUint8Array();
  const subnet: LabeledTree = new Map<string | Uint8Array, LabeledTree | Uint8Array>([
    ['canister_ranges', encodeCbor([[rangeId(0), rangeId(0x2ffffff)]])],
    ['node', new Map([[keys.nodeId.toUint8Array(), new Map([['public_key', keys.nodeKeyDer]])]])],
    ['public_key', keys.rootKeyDer],
    ['type', utf8ToBytes('application')]
  ]);
  return buildTree(new Map<string, LabeledTree | Uint8Array>([['time', leb128(nowNs())], ['subnet', new Map([[sid, subnet]])], ...extra]));
}

function execute(content: RequestContent): { reply: Uint8Array } | { reject: string } {
  if (content.request_type === 'read_state') return { reject: 'not a method call' };
  const [name] = IDL.decode([IDL.Text], content.arg);
  if (content.method_name.startsWith('fail')) return { reject: `no luck, ${String(name)}` };
  return { reply: IDL.encode([IDL.Text], [`Hello, ${String(name)} (${content.method_name})`]) };
}

function fakeHost(signingKeys: Pick<HostKeys, 'nodeSecretKey' | 'nodeId'> = keys) {
  const certifier = new Certifier(keys);
  const seen: string[] = [];
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const url = new URL(String(input));
    const [, version, , ecid, endpoint] = url.pathname.split('/').slice(1);
    seen.push(`${version} ${endpoint}`);
    if (!(init?.body instanceof Uint8Array)) return new Response('no body', { status: 400 });
    const auth = authenticateEnvelope(decodeCbor(init.body), {
      nowNs: nowNs(),
      expectedRequestType: endpoint === 'query' ? 'query' : endpoint === 'call' ? 'call' : 'read_state',
      effectiveCanisterId: Principal.fromText(ecid ?? '')
    });
    if (!auth.ok) return new Response(auth.message, { status: auth.httpStatus });
    const cbor = (value: unknown) => new Response(new Uint8Array(encodeCbor(value)), { status: 200 });
    const { content, requestId } = auth;
    if (content.request_type === 'read_state') {
      const witness = prune(stateTree(), [[utf8ToBytes('time')], ...content.paths]);
      return cbor({ certificate: certifier.certify(witness) });
    }
    const outcome = execute(content);
    if (content.request_type === 'query') {
      const body: QueryResponseBody =
        'reply' in outcome
          ? { status: 'replied', reply: { arg: outcome.reply } }
          : { status: 'rejected', reject_code: 4, reject_message: outcome.reject, error_code: 'IC0406' };
      return cbor({ ...body, signatures: signQueryResponse(body, requestId, signingKeys, nowNs()) });
    }
    const status: LabeledTree =
      'reply' in outcome
        ? new Map([
            ['status', utf8ToBytes('replied')],
            ['reply', outcome.reply]
          ])
        : new Map([
            ['status', utf8ToBytes('rejected')],
            ['reject_code', leb128(4n)],
            ['reject_message', utf8ToBytes(outcome.reject)],
            ['error_code', utf8ToBytes('IC0406')]
          ]);
    const tree = stateTree([['request_status', new Map([[requestId, status]])]]);
    const witness = prune(tree, [[utf8ToBytes('time')], [utf8ToBytes('request_status'), requestId]]);
    return cbor({ status: 'replied', certificate: certifier.certify(witness) });
  };
  return { fetch, seen };
}

const idlFactory: IDL.InterfaceFactory = ({ IDL: I }) =>
  I.Service({
    greet: I.Func([I.Text], [I.Text], ['query']),
    fail: I.Func([I.Text], [I.Text], ['query']),
    set: I.Func([I.Text], [I.Text], []),
    fail_update: I.Func([I.Text], [I.Text], [])
  });

async function actorFor(identity: Identity, signingKeys?: Pick<HostKeys, 'nodeSecretKey' | 'nodeId'>) {
  const { fetch, seen } = fakeHost(signingKeys);
  const agent = await HttpAgent.create({ host: 'http://127.0.0.1:4943', identity, fetch, rootKey: keys.rootKeyDer, retryTimes: 0 });
  const actor = Actor.createActor(idlFactory, { agent, canisterId: CANISTER });
  const call = async (method: string, arg: string) => z.string().parse(await actor[method]?.(arg));
  return { call, seen };
}

describe('unmodified HttpAgent against the crypto layer', () => {
  for (const [name, identity] of [
    ['Ed25519', Ed25519KeyIdentity.generate()],
    ['secp256k1', Secp256k1KeyIdentity.generate()]
  ] as const) {
    it(`${name}: verified query (node signature + subnet read_state) and certified v3 update`, async () => {
      const { call, seen } = await actorFor(identity);
      expect(await call('greet', 'Ada')).toBe('Hello, Ada (greet)');
      expect(await call('set', 'Bob')).toBe('Hello, Bob (set)');
      expect(seen).toEqual(expect.arrayContaining(['v2 query', 'v2 read_state', 'v3 call']));
    });
  }

  it('verifies signed query rejections and certified update rejections', async () => {
    const { call } = await actorFor(Ed25519KeyIdentity.generate());
    await expect(call('fail', 'Eve')).rejects.toThrow(/no luck, Eve/);
    await expect(call('fail_update', 'Eve')).rejects.toThrow(/no luck, Eve/);
  });

  it('rejects query responses signed by a key the subnet does not list', async () => {
    const stranger = generateHostKeys();
    const { call } = await actorFor(Ed25519KeyIdentity.generate(), { nodeSecretKey: stranger.nodeSecretKey, nodeId: keys.nodeId });
    await expect(call('greet', 'Mallory')).rejects.toThrow(/signature/i);
  });
});
