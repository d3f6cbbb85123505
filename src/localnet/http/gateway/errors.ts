import type { Reject } from '../../errors.js';
import { RejectCode } from '../../errors.js';

/**
 * The client-facing failures of ic-gateway (the boundary nodes' HTTP gateway, `ErrorClientFacing`), with its
 * status codes and texts: a missing canister is 404, a canister's reject or error and a failed verification 503.
 */
const CAUSES = {
  canister_not_found: [404, 'The requested canister does not exist.'],
  canister_reject: [503, 'The canister explicitly rejected the request.'],
  canister_error: [503, 'The canister encountered an error while processing the request.'],
  canister_frozen: [503, 'The canister is temporarily unable to process the request due to insufficient funds.'],
  canister_id_incorrect: [400, 'The canister ID is incorrect.'],
  response_verification_error: [
    503,
    'The response from the canister failed verification and cannot be trusted. If you understand the risks, you can retry using the raw domain to bypass certification.'
  ],
  upstream_error: [503, 'The HTTP gateway is temporarily unable to process the request. Please try again later.'],
  payload_too_large: [413, 'The payload is too large.']
} as const satisfies Record<string, readonly [number, string]>;

export type GatewayErrorCause = keyof typeof CAUSES;

export interface GatewayResponse {
  status: number;
  headers: [string, string][];
  body: Uint8Array;
}

/** An error answer in ic-gateway's plain-text form (`error: <cause>\ndetails: <text>`), with what went wrong here. */
export function errorResponse(cause: GatewayErrorCause, detail?: string): GatewayResponse {
  const [status, text] = CAUSES[cause];
  const body = `error: ${cause}\ndetails: ${text}${detail === undefined ? '' : `\n${detail}`}\n`;
  return { status, headers: [['content-type', 'text/plain; charset=utf-8']], body: new TextEncoder().encode(body) };
}

/** ic-gateway's mapping of a reject: code 3 means no such canister, 4 and 5 are the canister's doing. */
export function rejectResponse(reject: Reject): GatewayResponse {
  const detail = `Replica error: reject code ${reject.code}, error code ${reject.errorCode}: ${reject.message}`;
  if (reject.code === RejectCode.DestinationInvalid) return errorResponse('canister_not_found', detail);
  if (reject.code === RejectCode.CanisterReject) return errorResponse('canister_reject', detail);
  if (reject.message.includes('frozen')) return errorResponse('canister_frozen', detail);
  if (reject.code === RejectCode.CanisterError) return errorResponse('canister_error', detail);
  return errorResponse('upstream_error', detail);
}
