import { Principal } from '@dfinity/principal';
import { bytesToHex, concatBytes, utf8ToBytes } from '@noble/hashes/utils';
import { z } from 'zod';
import { parsePublicKey } from './public-key.js';
import { hashOfMap, requestIdOf } from './request-id.js';

/** Envelope authentication for the HTTP interface (ic-host-spec §4, S-HTTPS "Authentication"). */

export type RequestType = 'call' | 'query' | 'read_state';

export const IC_REQUEST_DOMAIN = utf8ToBytes('\x0Aic-request');
export const IC_DELEGATION_DOMAIN = utf8ToBytes('\x1Aic-request-auth-delegation');
export const MAX_DELEGATIONS = 20;
export const MAX_DELEGATION_TARGETS = 1000;
/** Accepted `ingress_expiry` window around the host wall clock: [now − 30 s, now + 6 min]. */
export const INGRESS_EXPIRY_PAST_TOLERANCE_NS = 30n * 1_000_000_000n;
export const INGRESS_EXPIRY_MAX_FUTURE_NS = 6n * 60n * 1_000_000_000n;

const bytes = z.instanceof(Uint8Array, { message: 'expected a byte string' });
const principalBytes = bytes.refine((b) => b.length <= 29, 'principal longer than 29 bytes');
// Kept as decoded (number or bigint) so that hashing the parsed object equals hashing the input.
const nat = z.union([z.number().int().nonnegative(), z.bigint().nonnegative()], { message: 'expected a nat' });

const commonFields = {
  sender: principalBytes,
  ingress_expiry: nat,
  nonce: bytes.refine((b) => b.length <= 32, 'nonce longer than 32 bytes').optional(),
  sender_info: z.unknown().optional()
};
const canisterRequest = { canister_id: principalBytes, method_name: z.string(), arg: bytes };

// Loose objects keep unknown fields: they are part of the request id.
const contentSchema = z.discriminatedUnion('request_type', [
  z.looseObject({ request_type: z.literal('call'), ...canisterRequest, ...commonFields }),
  z.looseObject({ request_type: z.literal('query'), ...canisterRequest, ...commonFields }),
  z.looseObject({ request_type: z.literal('read_state'), paths: z.array(z.array(bytes)), ...commonFields })
]);

export type RequestContent = z.infer<typeof contentSchema>;

const delegationSchema = z.looseObject({
  pubkey: bytes,
  expiration: nat,
  targets: z.array(principalBytes).max(MAX_DELEGATION_TARGETS).optional(),
  senders: z.array(principalBytes).optional()
});

const envelopeSchema = z.object({
  content: z.record(z.string(), z.unknown()),
  sender_pubkey: bytes.optional(),
  sender_sig: bytes.optional(),
  sender_delegation: z
    .array(z.object({ delegation: delegationSchema, signature: bytes }))
    .max(MAX_DELEGATIONS, `at most ${MAX_DELEGATIONS} delegations are allowed`)
    .optional()
});

export interface AuthenticateOptions {
  /** Host wall-clock time in nanoseconds since the epoch. */
  nowNs: bigint;
  /** Request type(s) this endpoint accepts. */
  expectedRequestType?: RequestType | readonly RequestType[];
  /** Effective canister id of the route; checked against delegation targets for read_state. */
  effectiveCanisterId?: Principal;
}

export type AuthenticateResult =
  | {
      ok: true;
      content: RequestContent;
      sender: Principal;
      requestId: Uint8Array;
      /** Canister ids the delegation chain is restricted to; undefined = unrestricted. */
      delegationTargets: Principal[] | undefined;
    }
  | { ok: false; httpStatus: 400; message: string };

const reject = (message: string): AuthenticateResult => ({ ok: false, httpStatus: 400, message });

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

/** Formats IC time like the replica: `2025-05-01 23:55:18.005285297 UTC` (fraction only if non-zero). */
export function formatIcTime(ns: bigint): string {
  const seconds = ns / 1_000_000_000n;
  const fraction = ns % 1_000_000_000n;
  const iso = new Date(Number(seconds) * 1000).toISOString();
  const base = `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
  return `${base}${fraction === 0n ? '' : `.${fraction.toString().padStart(9, '0')}`} UTC`;
}

/** The replica's 400 text; agent-js re-syncs its clock when the body starts with `Invalid request expiry: `. */
export function checkIngressExpiry(expiryNs: bigint, nowNs: bigint): string | undefined {
  const min = nowNs - INGRESS_EXPIRY_PAST_TOLERANCE_NS;
  const max = nowNs + INGRESS_EXPIRY_MAX_FUTURE_NS;
  if (expiryNs >= min && expiryNs <= max) return undefined;
  return (
    'Invalid request expiry: Specified ingress_expiry not within expected range: ' +
    `Minimum allowed expiry: ${formatIcTime(min)}, Maximum allowed expiry: ${formatIcTime(max)}, ` +
    `Provided expiry: ${formatIcTime(expiryNs)}`
  );
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => bytesToHex(a) === bytesToHex(b);

/**
 * Validates an envelope decoded from CBOR and authenticates its sender: shape, request type,
 * ingress expiry, self-authenticating sender, delegation chain (signatures, expiry, targets,
 * senders) and `sender_sig` over `"\x0Aic-request" ‖ request_id`. Every failure is a 400.
 */
export function authenticateEnvelope(envelope: unknown, opts: AuthenticateOptions): AuthenticateResult {
  const env = envelopeSchema.safeParse(envelope);
  if (!env.success) return reject(`Malformed envelope: ${describeIssues(env.error)}`);
  const parsed = contentSchema.safeParse(env.data.content);
  if (!parsed.success) return reject(`Malformed request content: ${describeIssues(parsed.error)}`);
  const content = parsed.data;
  const { sender_pubkey: senderPubkey, sender_sig: senderSig, sender_delegation: delegations } = env.data;

  const expected = opts.expectedRequestType;
  const allowed: readonly RequestType[] = expected === undefined ? [] : typeof expected === 'string' ? [expected] : expected;
  if (allowed.length > 0 && !allowed.includes(content.request_type)) {
    return reject(`Request type '${content.request_type}' is not accepted here (expected ${allowed.join(' or ')})`);
  }

  const sender = Principal.fromUint8Array(content.sender);
  const anonymous = sender.isAnonymous();
  if (anonymous && (senderPubkey || senderSig || delegations)) {
    return reject('Anonymous requests must not carry sender_pubkey, sender_sig or sender_delegation');
  }
  if (!anonymous && (!senderPubkey || !senderSig)) {
    return reject(`Request from ${sender.toText()} lacks sender_pubkey or sender_sig`);
  }
  if (content.sender_info !== undefined) {
    return reject('sender_info is only allowed with canister signatures, which this host does not support');
  }

  if (content.request_type === 'call' || !anonymous) {
    const expiryError = checkIngressExpiry(BigInt(content.ingress_expiry), opts.nowNs);
    if (expiryError) return reject(expiryError);
  }

  let requestId: Uint8Array;
  try {
    requestId = requestIdOf(content);
  } catch (error) {
    return reject(`Cannot compute the request id: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (anonymous || !senderPubkey || !senderSig) {
    return { ok: true, content, sender, requestId, delegationTargets: undefined };
  }

  const derived = Principal.selfAuthenticating(senderPubkey);
  if (!sameBytes(derived.toUint8Array(), content.sender)) {
    return reject(`Sender ${sender.toText()} does not match sender_pubkey (which authenticates ${derived.toText()})`);
  }

  let signingKey = senderPubkey;
  let targets: Principal[] | undefined;
  const seenKeys = [senderPubkey];
  for (const [index, { delegation, signature }] of (delegations ?? []).entries()) {
    const issuer = parsePublicKey(signingKey);
    if (!issuer.ok) return reject(`Delegation ${index}: ${issuer.message}`);
    const expirationNs = BigInt(delegation.expiration);
    if (expirationNs < opts.nowNs) {
      return reject(`Delegation ${index} expired at ${formatIcTime(expirationNs)} (now ${formatIcTime(opts.nowNs)})`);
    }
    const message = concatBytes(IC_DELEGATION_DOMAIN, hashOfMap(delegation));
    if (!issuer.verify(signature, message)) return reject(`Delegation ${index}: invalid signature`);
    if (delegation.targets) {
      const these = delegation.targets.map((t) => Principal.fromUint8Array(t));
      targets = targets ? targets.filter((t) => these.some((x) => x.toText() === t.toText())) : these;
    }
    if (delegation.senders && !delegation.senders.some((s) => sameBytes(s, content.sender))) {
      return reject(`Delegation ${index} does not allow sender ${sender.toText()}`);
    }
    if (seenKeys.some((k) => sameBytes(k, delegation.pubkey))) {
      return reject(`Delegation ${index}: the delegation chain contains a cycle`);
    }
    seenKeys.push(delegation.pubkey);
    signingKey = delegation.pubkey;
  }

  const signer = parsePublicKey(signingKey);
  if (!signer.ok) return reject(signer.message);
  if (!signer.verify(senderSig, concatBytes(IC_REQUEST_DOMAIN, requestId))) {
    return reject(`Invalid signature: sender_sig does not verify for request 0x${bytesToHex(requestId)}`);
  }

  if (targets) {
    const target = content.request_type === 'read_state' ? opts.effectiveCanisterId : Principal.fromUint8Array(content.canister_id);
    if (!target || !targets.some((t) => t.toText() === target.toText())) {
      return reject(
        `Canister ${target?.toText() ?? '(none)'} is not one of the delegation targets ` + `[${targets.map((t) => t.toText()).join(', ')}]`
      );
    }
  }
  return { ok: true, content, sender, requestId, delegationTargets: targets };
}
