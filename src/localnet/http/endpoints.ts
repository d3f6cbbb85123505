import { Principal } from '@dfinity/principal';

import type { AsyncSigner } from '../certification/async-signer.js';
import { reconstruct } from '../certification/hash-tree.js';
import { encodeCbor } from '../crypto/cbor.js';
import type { HostKeys } from '../crypto/host-keys.js';
import { signQueryResponse, type QueryResponseBody } from '../crypto/query-signature.js';
import { authenticateEnvelope, type RequestContent } from '../crypto/request-auth.js';
import type { Response } from '../execution/context.js';
import type { Engine } from '../execution/engine.js';
import { MANAGEMENT_CANISTER_ID } from '../ids.js';
import { targetOf } from '../management/target.js';
import type { RoundCertifier } from './round-certifier.js';
import { isForbiddenPath, readStateTree } from './state-tree.js';

/** What an endpoint answers: a CBOR body with a status, or a plain-text client error. */
export type EndpointResult = { status: 200; body: unknown } | { status: 202 } | { status: 400 | 403 | 404 | 413; text: string };

export interface EndpointDeps {
  engine: Engine;
  keys: HostKeys;
  signer: AsyncSigner;
  rounds: RoundCertifier;
  /** How long a synchronous call waits before answering 202 and letting the client poll. */
  syncCallTimeoutMs: number;
}

const CREATION_METHODS = new Set(['create_canister', 'provisional_create_canister_with_cycles']);

/** The effective canister id rule of the HTTP interface: a mismatch is the client's error. */
function checkEffectiveId(content: { canister_id: Uint8Array; method_name: string; arg: Uint8Array }, ecid: Principal): string | undefined {
  const canisterId = Principal.fromUint8Array(content.canister_id);
  if (canisterId.toText() !== MANAGEMENT_CANISTER_ID.toText()) {
    return canisterId.toText() === ecid.toText()
      ? undefined
      : `Specified CanisterId ${canisterId.toText()} does not match effective canister id in URL ${ecid.toText()}`;
  }
  if (CREATION_METHODS.has(content.method_name) || content.method_name === 'raw_rand') return undefined;
  const target = targetOf(content.method_name, content.arg);
  if (target === undefined) return undefined; // the management canister itself answers with a decode error
  return target.toText() === ecid.toText()
    ? undefined
    : `Effective canister id in URL ${ecid.toText()} does not match the canister ${target.toText()} addressed by ${content.method_name}`;
}

function badRequest(text: string): EndpointResult {
  return { status: 400, text };
}

function rejectFields(response: Extract<Response, { kind: 'reject' }>): {
  reject_code: number;
  reject_message: string;
  error_code: string;
} {
  return { reject_code: response.reject.code, reject_message: response.reject.message, error_code: response.reject.errorCode };
}

export function handleQuery(deps: EndpointDeps, ecid: Principal, envelope: unknown): EndpointResult {
  const auth = authenticateEnvelope(envelope, { nowNs: deps.engine.wallNow(), expectedRequestType: 'query', effectiveCanisterId: ecid });
  if (!auth.ok) return badRequest(auth.message);
  const content = auth.content;
  if (content.request_type !== 'query') return badRequest('expected a query');
  const mismatch = checkEffectiveId(content, ecid);
  if (mismatch !== undefined) return badRequest(mismatch);
  const response = deps.engine.query({
    canisterId: Principal.fromUint8Array(content.canister_id),
    method: content.method_name,
    arg: content.arg,
    sender: auth.sender
  });
  const body: QueryResponseBody =
    response.kind === 'reply' ? { status: 'replied', reply: { arg: response.bytes } } : { status: 'rejected', ...rejectFields(response) };
  const signatures = signQueryResponse(body, auth.requestId, deps.keys, deps.engine.wallNow());
  return { status: 200, body: { ...body, signatures } };
}

export async function handleCall(deps: EndpointDeps, ecid: Principal, envelope: unknown, version: 2 | 3 | 4): Promise<EndpointResult> {
  const auth = authenticateEnvelope(envelope, { nowNs: deps.engine.wallNow(), expectedRequestType: 'call', effectiveCanisterId: ecid });
  if (!auth.ok) return badRequest(auth.message);
  const content: RequestContent = auth.content;
  if (content.request_type !== 'call') return badRequest('expected a call');
  const mismatch = checkEffectiveId(content, ecid);
  if (mismatch !== undefined) return badRequest(mismatch);
  const submitted = deps.engine.submitIngress({
    canisterId: Principal.fromUint8Array(content.canister_id),
    effectiveCanisterId: ecid,
    method: content.method_name,
    arg: content.arg,
    sender: auth.sender,
    requestId: auth.requestId,
    expiryNs: BigInt(content.ingress_expiry)
  });
  if ('reject' in submitted) {
    const fields = rejectFields({ kind: 'reject', reject: submitted.reject });
    return { status: 200, body: version === 2 ? fields : { status: 'non_replicated_rejection', ...fields } };
  }
  if (version === 2) return { status: 202 };
  const done = await deps.rounds.wait(submitted.record, deps.syncCallTimeoutMs);
  const certificate = done ? deps.rounds.certificateFor(submitted.record) : undefined;
  if (certificate === undefined) return { status: 202 };
  return { status: 200, body: { status: 'replied', certificate } };
}

export async function handleReadState(
  deps: EndpointDeps,
  ecid: Principal | undefined,
  subnet: Principal | undefined,
  envelope: unknown
): Promise<EndpointResult> {
  const auth = authenticateEnvelope(envelope, {
    nowNs: deps.engine.wallNow(),
    expectedRequestType: 'read_state',
    effectiveCanisterId: ecid
  });
  if (!auth.ok) return badRequest(auth.message);
  const content = auth.content;
  if (content.request_type !== 'read_state') return badRequest('expected read_state');
  if (subnet !== undefined && subnet.toText() !== deps.keys.subnetId.toText()) {
    return { status: 404, text: `Subnet ${subnet.toText()} not found` };
  }
  const forbidden = content.paths.find(isForbiddenPath);
  if (forbidden !== undefined) return { status: 403, text: 'Reading /canister/<id>/certified_data through read_state is not allowed' };
  const tree = readStateTree(deps.engine, deps.keys, content.paths, auth.sender, deps.engine.wallNow());
  // The tree may reveal replies of the last rounds: like certificates, they wait for their rounds to be on disk.
  const [signature] = await Promise.all([deps.signer.sign(reconstruct(tree)), deps.rounds.durable()]);
  return { status: 200, body: { certificate: encodeCbor({ tree, signature }) } };
}

export function handleStatus(deps: EndpointDeps): EndpointResult {
  return {
    status: 200,
    body: {
      root_key: deps.keys.rootKeyDer,
      impl_version: '0.1.0-deai-localnet',
      impl_hash: 'deai-localnet',
      replica_health_status: 'healthy',
      certified_height: deps.engine.round
    }
  };
}
