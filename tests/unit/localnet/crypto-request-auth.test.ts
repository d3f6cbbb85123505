import { describe, expect, it } from 'vitest';
import { AnonymousIdentity, HttpAgent, requestIdOf, SignIdentity, type Identity, type PublicKey, type Signature } from '@dfinity/agent';
import { DelegationChain, DelegationIdentity, ECDSAKeyIdentity, Ed25519KeyIdentity } from '@dfinity/identity';
import { Secp256k1KeyIdentity } from '@dfinity/identity-secp256k1';
import { Principal } from '@dfinity/principal';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils';
import { z } from 'zod';
import { decodeCbor, encodeCbor } from '../../../src/localnet/crypto/cbor.js';
import { generateHostKeys } from '../../../src/localnet/crypto/host-keys.js';
import {
  authenticateEnvelope,
  formatIcTime,
  type AuthenticateOptions,
  type AuthenticateResult
} from '../../../src/localnet/crypto/request-auth.js';

const CANISTER = Principal.fromText('guva5-raaaa-aaaaa-aaeaa-cai');
const OTHER_CANISTER = Principal.fromText('ryjl3-tyaaa-aaaaa-aaaba-cai');
const ARG = hexToBytes('4449444c0001710568656c6c6f');
const rootKey = generateHostKeys().rootKeyDer;
const MINUTE_NS = 60n * 1_000_000_000n;
const nowNs = () => BigInt(Date.now()) * 1_000_000n;

const envelopeShape = z.looseObject({
  content: z.looseObject({}),
  sender_sig: z.instanceof(Uint8Array).optional(),
  sender_delegation: z.array(z.looseObject({ delegation: z.looseObject({}) })).optional()
});
type Envelope = z.infer<typeof envelopeShape>;

/** Lets the real HttpAgent build, sign (identity.transformRequest) and CBOR-encode a request; returns it decoded. */
async function envelopeFrom(
  identity: Identity,
  kind: 'call' | 'query' | 'read_state' = 'call',
  canisterId: Principal = CANISTER
): Promise<Envelope> {
  let sent: Uint8Array | undefined;
  const fetch: typeof globalThis.fetch = async (_url, init) => {
    if (init?.body instanceof Uint8Array) sent = init.body;
    const reply = encodeCbor({ status: 'replied', reply: { arg: new Uint8Array() } });
    return kind === 'query' ? new Response(new Uint8Array(reply), { status: 200 }) : new Response(null, { status: 202 });
  };
  const agent = HttpAgent.createSync({ host: 'http://127.0.0.1:9', identity, fetch, rootKey, verifyQuerySignatures: false, retryTimes: 0 });
  if (kind === 'call') await agent.call(canisterId, { methodName: 'greet', arg: ARG });
  if (kind === 'query') await agent.query(canisterId, { methodName: 'greet', arg: ARG });
  if (kind === 'read_state') await agent.readState(canisterId, { paths: [[utf8ToBytes('time')]] }).catch(() => undefined);
  if (!sent) throw new Error('agent sent nothing');
  return envelopeShape.parse(decodeCbor(sent));
}

function authenticate(envelope: unknown, opts: Partial<AuthenticateOptions> = {}): AuthenticateResult {
  return authenticateEnvelope(envelope, { nowNs: nowNs(), ...opts });
}

function expectRejected(result: AuthenticateResult, message: RegExp | string) {
  expect(result.ok).toBe(false);
  if (!result.ok) {
    expect(result.httpStatus).toBe(400);
    expect(result.message).toMatch(message);
  }
}

/** A SignIdentity that signs with one key but claims another principal as sender. */
class ImpostorIdentity extends SignIdentity {
  constructor(
    private readonly inner: SignIdentity,
    private readonly claimed: Principal
  ) {
    super();
  }
  getPublicKey(): PublicKey {
    return this.inner.getPublicKey();
  }
  sign(blob: Uint8Array): Promise<Signature> {
    return this.inner.sign(blob);
  }
  override getPrincipal(): Principal {
    return this.claimed;
  }
}

describe('request ids', () => {
  it('match the HTTPS interface spec vector', () => {
    const content = {
      request_type: 'call',
      sender: Uint8Array.of(4),
      ingress_expiry: 1_685_570_400_000_000_000n,
      canister_id: hexToBytes('00000000000004d2'),
      method_name: 'hello',
      arg: hexToBytes('4449444c00fd2a')
    };
    const decoded = decodeCbor(encodeCbor(content));
    expect(bytesToHex(requestIdOf(z.record(z.string(), z.unknown()).parse(decoded)))).toBe(
      '1d1091364d6bb8a6c16b203ee75467d59ead468f523eb058880ae8ec80e2b101'
    );
  });
});

describe('authenticateEnvelope accepts what the agent signs', () => {
  const identities: Array<[string, () => Promise<SignIdentity>]> = [
    ['Ed25519', async () => Ed25519KeyIdentity.generate()],
    ['secp256k1', async () => Secp256k1KeyIdentity.generate()],
    ['P-256 (WebCrypto)', async () => ECDSAKeyIdentity.generate()]
  ];
  for (const [name, make] of identities) {
    it(`${name}: call, query and read_state`, async () => {
      const identity = await make();
      for (const kind of ['call', 'query', 'read_state'] as const) {
        const envelope = await envelopeFrom(identity, kind);
        const result = authenticate(envelope, { expectedRequestType: kind, effectiveCanisterId: CANISTER });
        expect(result).toMatchObject({ ok: true });
        if (result.ok) {
          expect(result.sender.toText()).toBe(identity.getPrincipal().toText());
          expect(result.content.request_type).toBe(kind);
          expect(bytesToHex(result.requestId)).toBe(bytesToHex(requestIdOf(envelope.content)));
        }
      }
    });
  }

  it('anonymous: unsigned; expiry ignored for queries but enforced for calls', async () => {
    const query = await envelopeFrom(new AnonymousIdentity(), 'query');
    const later = nowNs() + 60n * MINUTE_NS;
    expect(authenticate(query, { nowNs: later })).toMatchObject({ ok: true, delegationTargets: undefined });
    const call = await envelopeFrom(new AnonymousIdentity(), 'call');
    expect(authenticate(call)).toMatchObject({ ok: true });
    expectRejected(authenticate(call, { nowNs: later }), /^Invalid request expiry: /);
  });

  it('delegation chains (two levels, targets) via DelegationIdentity', async () => {
    const root = Ed25519KeyIdentity.generate();
    const middle = Secp256k1KeyIdentity.generate();
    const session = await ECDSAKeyIdentity.generate();
    const first = await DelegationChain.create(root, middle.getPublicKey(), new Date(Date.now() + 3600_000), {
      targets: [CANISTER, OTHER_CANISTER]
    });
    const chain = await DelegationChain.create(middle, session.getPublicKey(), new Date(Date.now() + 600_000), {
      previous: first,
      targets: [CANISTER]
    });
    const identity = DelegationIdentity.fromDelegation(session, chain);
    const result = authenticate(await envelopeFrom(identity, 'call'));
    expect(result).toMatchObject({ ok: true });
    if (result.ok) {
      expect(result.sender.toText()).toBe(root.getPrincipal().toText());
      expect(result.delegationTargets?.map((t) => t.toText())).toEqual([CANISTER.toText()]);
    }
    const readState = await envelopeFrom(identity, 'read_state');
    expect(authenticate(readState, { effectiveCanisterId: CANISTER }).ok).toBe(true);
    expectRejected(authenticate(readState, { effectiveCanisterId: OTHER_CANISTER }), /not one of the delegation targets/);
    expectRejected(authenticate(await envelopeFrom(identity, 'call', OTHER_CANISTER)), /not one of the delegation targets/);
  });
});

describe('authenticateEnvelope rejects', () => {
  it('a wrong signature', async () => {
    const envelope = await envelopeFrom(Ed25519KeyIdentity.generate());
    const sig = envelope.sender_sig ?? new Uint8Array(64);
    expectRejected(authenticate({ ...envelope, sender_sig: Uint8Array.of((sig[0] ?? 0) ^ 1, ...sig.slice(1)) }), /^Invalid signature/);
    const other = await envelopeFrom(Ed25519KeyIdentity.generate());
    expectRejected(authenticate({ ...envelope, sender_sig: other.sender_sig }), /^Invalid signature/);
  });

  it('a sender that does not match sender_pubkey', async () => {
    const victim = Ed25519KeyIdentity.generate().getPrincipal();
    const envelope = await envelopeFrom(new ImpostorIdentity(Ed25519KeyIdentity.generate(), victim));
    expectRejected(authenticate(envelope), new RegExp(`Sender ${victim.toText()} does not match sender_pubkey`));
  });

  it('an expired delegation and a tampered delegation', async () => {
    const root = Ed25519KeyIdentity.generate();
    const session = Ed25519KeyIdentity.generate();
    const expired = await DelegationChain.create(root, session.getPublicKey(), new Date(Date.now() - 1000));
    expectRejected(authenticate(await envelopeFrom(DelegationIdentity.fromDelegation(session, expired))), /Delegation 0 expired at/);
    const valid = await DelegationChain.create(root, session.getPublicKey(), new Date(Date.now() + 60_000));
    const envelope = await envelopeFrom(DelegationIdentity.fromDelegation(session, valid));
    const [signed] = envelope.sender_delegation ?? [];
    const tampered = { ...signed, delegation: { ...signed?.delegation, expiration: nowNs() + 999n * MINUTE_NS } };
    expectRejected(authenticate({ ...envelope, sender_delegation: [tampered] }), /Delegation 0: invalid signature/);
  });

  it('an ingress expiry outside [now − 30 s, now + 6 min], with the replica wording', async () => {
    const envelope = await envelopeFrom(Ed25519KeyIdentity.generate(), 'query');
    for (const skew of [-20n * MINUTE_NS, 20n * MINUTE_NS]) {
      const result = authenticate(envelope, { nowNs: nowNs() + skew });
      expectRejected(
        result,
        /^Invalid request expiry: Specified ingress_expiry not within expected range: Minimum allowed expiry: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{9})? UTC, Maximum allowed expiry: .* UTC, Provided expiry: .* UTC$/
      );
    }
  });

  it('malformed envelopes and content', async () => {
    const envelope = await envelopeFrom(Ed25519KeyIdentity.generate());
    expectRejected(authenticate('nope'), /^Malformed envelope: /);
    expectRejected(authenticate({ sender_sig: new Uint8Array(64) }), /Malformed envelope: content/);
    expectRejected(
      authenticate({ ...envelope, content: { ...envelope.content, arg: 'text' } }),
      /content: arg|arg: expected a byte string/
    );
    expectRejected(authenticate({ ...envelope, content: { ...envelope.content, request_type: 'install' } }), /Malformed request content/);
    expectRejected(
      authenticate({ ...envelope, content: { ...envelope.content, nonce: new Uint8Array(33) } }),
      /nonce longer than 32 bytes/
    );
    expectRejected(authenticate({ ...envelope, content: { ...envelope.content, ingress_expiry: -1 } }), /ingress_expiry: /);
    const tooMany = Array.from({ length: 21 }, () => ({
      delegation: { pubkey: new Uint8Array(), expiration: 0 },
      signature: new Uint8Array()
    }));
    expectRejected(authenticate({ ...envelope, sender_delegation: tooMany }), /at most 20 delegations/);
    expectRejected(authenticate({ ...envelope, content: { ...envelope.content, sender_info: {} } }), /sender_info/);
  });

  it('the wrong request type, a signed anonymous request and an unsigned named sender', async () => {
    const envelope = await envelopeFrom(Ed25519KeyIdentity.generate(), 'call');
    expectRejected(authenticate(envelope, { expectedRequestType: ['query', 'read_state'] }), /Request type 'call' is not accepted/);
    const anon = { ...envelope, content: { ...envelope.content, sender: Uint8Array.of(4) } };
    expectRejected(authenticate(anon), /Anonymous requests must not carry/);
    expectRejected(authenticate({ content: envelope.content }), /lacks sender_pubkey or sender_sig/);
  });

  it('WebAuthn and canister-signature keys as unsupported', async () => {
    const envelope = await envelopeFrom(Ed25519KeyIdentity.generate());
    const cases: Array<[string, RegExp]> = [
      ['301f300c060a2b0601040183b8430101030f00a501020326200121582000', /WebAuthn \(COSE\) keys are not supported/],
      ['301f300c060a2b0601040183b8430102030f000a00000000000000070101', /canister signature keys are not supported/],
      ['3010300b06092a864886f70d010101030100', /unrecognised DER public key/]
    ];
    for (const [der, message] of cases) {
      const pubkey = hexToBytes(der);
      const content = { ...envelope.content, sender: Principal.selfAuthenticating(pubkey).toUint8Array() };
      expectRejected(authenticate({ ...envelope, content, sender_pubkey: pubkey }), message);
    }
  });
});

describe('formatIcTime', () => {
  it('prints UTC with nanoseconds only when non-zero, like the replica', () => {
    expect(formatIcTime(1_746_143_718_005_285_297n)).toBe('2025-05-01 23:55:18.005285297 UTC');
    expect(formatIcTime(1_746_102_300_000_000_000n)).toBe('2025-05-01 12:25:00 UTC');
    expect(formatIcTime(0n)).toBe('1970-01-01 00:00:00 UTC');
  });
});
