import type { IncomingMessage, ServerResponse } from 'node:http';

import { signedReceiptFromJson, signedReceiptToJson, type RequestAuthProblem, type SignedReceipt } from '../../core/credit/index.js';
import type { LineRefusal, ReceiptRefusal } from './line-book.js';

/** The metered endpoint's answers other than the engine's: OpenAI error bodies for each refusal, and request parsing. */

export type OpenAiError = { status: number; type: string; code: string; message: string };

export function sendError(res: ServerResponse, e: OpenAiError): void {
  res.writeHead(e.status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { message: e.message, type: e.type, code: e.code, param: null } }));
}

export const json = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));

export function lineError(r: LineRefusal): OpenAiError {
  const base = { status: 402, type: 'insufficient_quota' };
  switch (r.code) {
    case 'NoLine':
      return { ...base, code: 'no_credit_line', message: 'no credit line with this id: reserve credit toward this runner first' };
    case 'NotYourLine':
      return { ...base, code: 'not_your_line', message: 'the credit line is not the signer’s line toward this runner' };
    case 'LineNotOpen':
      return { ...base, code: 'line_not_open', message: `the credit line is ${r.state}` };
    case 'InsufficientCredit':
      return {
        ...base,
        code: 'insufficient_credit',
        message: `the line has ${r.availableE8s} e8s left; this request may cost ${r.neededE8s} e8s`
      };
    case 'UnpaidCharges':
      return {
        ...base,
        code: 'unpaid_charges',
        message: `charges on line ${r.lineId} up to ${r.claimE8s} e8s (receipts cover ${r.coveredE8s}) were never acknowledged: GET /deai/v1/charges?line=${r.lineId} and sign a receipt covering them`
      };
    case 'ExposureCap':
      return {
        ...base,
        code: 'exposure_cap',
        message: `${r.unsignedRequests} requests (${r.unsignedE8s} e8s) not covered by a receipt: send a receipt first`
      };
  }
}

const behind = (r: ReceiptRefusal): boolean => r.code === 'Stale' || r.code === 'NotCumulative';

/** A receipt behind the one held is a 409 carrying the held receipt, so a payer that lost its books resumes from it. */
export function sendReceiptError(res: ServerResponse, r: ReceiptRefusal, held: SignedReceipt | undefined): void {
  const status = behind(r) ? 409 : 400;
  const message = `receipt refused: ${json(r)}`;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(
    json({
      error: { message, type: 'invalid_request_error', code: 'invalid_receipt', param: null },
      ...(behind(r) && held !== undefined ? { held_receipt: signedReceiptToJson(held) } : {})
    })
  );
}

export const authError = (p: RequestAuthProblem): OpenAiError => ({
  status: 401,
  type: 'authentication_error',
  code: 'invalid_signature',
  message: `request not authenticated: ${'header' in p ? `${p.code} ${p.header}` : p.code}`
});

/** Parses the receipt JSON (header or body) with its optional `covers` (charge seqs it accounts for). */
export function parseReceipt(text: string): { signed: ReturnType<typeof signedReceiptFromJson>; covers: bigint[] } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const signed = signedReceiptFromJson(value);
  const covers = (value as { covers?: unknown }).covers;
  if (signed === undefined || (covers !== undefined && (!Array.isArray(covers) || covers.length > 1024))) return undefined;
  const seqs = (covers ?? []) as unknown[];
  if (!seqs.every((s) => typeof s === 'string' && /^\d{1,20}$/.test(s))) return undefined;
  return { signed, covers: seqs.map((s) => BigInt(s as string)) };
}

export async function readBody(req: IncomingMessage, max: number): Promise<Uint8Array | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) return undefined;
    chunks.push(chunk);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

/** A receipt the runner could not make durable is not acknowledged: the payer keeps it and sends it again. */
export const NOT_DURABLE = {
  status: 503,
  type: 'server_error',
  code: 'receipts_not_durable',
  message: 'the runner could not store the receipt; retry'
} as const;
