import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';

import type { Engine } from '../../execution/engine.js';
import { encodeToken, StreamingCallbackHttpResponse, type StreamingCallback } from './candid.js';
import { errorResponse, rejectResponse, type GatewayResponse } from './errors.js';

/**
 * A canister that never ends its stream must not hold the gateway: bytes and callbacks are bounded (ic-http-gateway
 * stops at 1,000 callbacks too), and the event loop is yielded between callbacks, each a synchronous Wasm query, so
 * one long stream does not stall every other request on the port.
 */
export const MAX_STREAMED_BYTES = 256 * 1024 * 1024;
export const MAX_STREAMING_CALLBACKS = 1_000;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

type Streamed = { ok: true; body: Uint8Array } | { ok: false; response: GatewayResponse };

/**
 * Appends the chunks of a `Callback` streaming strategy: calls the callback query with the token until the
 * canister returns no token. The callback must be a method of the same canister (the spec fails the request).
 */
export async function readStream(
  engine: Engine,
  canisterId: Principal,
  first: Uint8Array,
  strategy: StreamingCallback,
  maxCallbacks = MAX_STREAMING_CALLBACKS
): Promise<Streamed> {
  const [callee, method] = strategy.callback;
  if (callee.toText() !== canisterId.toText())
    return {
      ok: false,
      response: errorResponse('upstream_error', `The streaming callback is a method of another canister (${callee.toText()})`)
    };
  const chunks = [first];
  let size = first.length;
  let token: Uint8Array | undefined = strategy.token;
  for (let calls = 0; token !== undefined; calls += 1) {
    if (calls >= maxCallbacks || size > MAX_STREAMED_BYTES)
      return {
        ok: false,
        response: errorResponse('upstream_error', `The streamed body exceeds ${maxCallbacks} callbacks or ${MAX_STREAMED_BYTES} bytes`)
      };
    if (calls > 0) await nextTurn();
    const answer = engine.query({ canisterId, method, arg: token, sender: Principal.anonymous() });
    if (answer.kind === 'reject') return { ok: false, response: rejectResponse(answer.reject) };
    let decoded: StreamingCallbackHttpResponse;
    try {
      decoded = IDL.decode([StreamingCallbackHttpResponse], answer.bytes)[0] as unknown as StreamingCallbackHttpResponse;
    } catch {
      return {
        ok: false,
        response: errorResponse(
          'upstream_error',
          'The streaming callback replied with something that is not a StreamingCallbackHttpResponse'
        )
      };
    }
    const chunk = new Uint8Array(decoded.body);
    chunks.push(chunk);
    size += chunk.length;
    const next = decoded.token[0];
    token = next === undefined ? undefined : encodeToken(next);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return { ok: true, body };
}
