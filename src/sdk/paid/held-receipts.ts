/**
 * The runner's view of a line, taken up by the payer: the receipt the runner holds (ahead of the payer's books after
 * they were lost, or signed by another instance of this payer) and the charges of requests that ended unseen.
 */
import {
  authHeaders,
  chargeFromJson,
  NONCE_BYTES,
  receiptProblem,
  requestSigningBytes,
  signedReceiptFromJson,
  type AcceptedCharge,
  type SignedReceipt
} from '../../core/credit/index.js';
import { ERROR_BODY_MAX_BYTES, readBodyText, type HttpPost } from '../bounded-body.js';
import type { PaidTarget, PayerSigner } from './payer-types.js';
import { bounded, CHARGES_BODY_MAX_BYTES, SIDE_CALL_TIMEOUT_MS, toBytes } from './runner-calls.js';
import type { PayerLine } from './state.js';

/** What a payer signed toward a line: its cost, tokens and requests. */
export interface ChargeTally {
  costE8s: bigint;
  inputTokens: bigint;
  outputTokens: bigint;
  requests: bigint;
}

export const NO_CHARGES: ChargeTally = { costE8s: 0n, inputTokens: 0n, outputTokens: 0n, requests: 0n };

/** The parts of a payer client that taking up a runner's view reads and changes. */
export interface HeldReceiptBooks {
  readonly payer: string;
  readonly publicKey: Uint8Array;
  readonly identity: PayerSigner;
  readonly fetch: HttpPost;
  /** How long a signed request stays valid. */
  readonly requestValidityMs: number;
  nowMs(): number;
  /** Per line, what this client signed since it opened or last took up a receipt from elsewhere (see adoptHeldReceipt). */
  readonly fromHere: Map<bigint, ChargeTally>;
  /** Charge seqs signed for lately per line: a listed charge already paid is never paid twice. */
  readonly signedCharges: Map<bigint, bigint[]>;
  /** The runner's charges were just listed: nothing is left to ask it before the next request. */
  synced(runner: string): void;
  signReceipt(line: PayerLine, chargeSeq: bigint, accepted: AcceptedCharge): Promise<SignedReceipt>;
  save(): void;
}

/**
 * Asks the runner (`GET /deai/v1/charges`, signed) for the line's latest receipt it holds and its charges no receipt
 * covers: the books resume from the higher of theirs and the held receipt (signed by this payer), and charges of
 * requests that ended without one seen (a broken or aborted stream) are signed for, each up to such a request's
 * worst case. Charges the payer cannot match are not signed (the runner then refuses this payer, nothing more).
 */
export async function reconcileLine(books: HeldReceiptBooks, target: PaidTarget, line: PayerLine, signal?: AbortSignal): Promise<void> {
  const path = `/deai/v1/charges?line=${line.lineId}`;
  const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  const expiresAtNs = BigInt(books.nowMs() + books.requestValidityMs) * 1_000_000n;
  const toSign = { runner: target.runner, lineId: line.lineId, method: 'GET', path, body: new Uint8Array(0), nonce, expiresAtNs };
  const signature = toBytes(await books.identity.sign(requestSigningBytes(toSign)));
  const response = await books.fetch(new URL(path, target.endpoint), {
    method: 'GET',
    headers: authHeaders(toSign, books.publicKey, signature),
    signal: bounded(signal, SIDE_CALL_TIMEOUT_MS)
  });
  // Read (bounded) even when refused: an unread body holds its connection.
  const { text, truncated } = await readBodyText(response, response.ok ? CHARGES_BODY_MAX_BYTES : ERROR_BODY_MAX_BYTES);
  if (!response.ok) return;
  if (truncated) return;
  books.synced(target.runner);
  adoptHeldReceipt(books, line, text);
  let listed: unknown;
  try {
    listed = (JSON.parse(text) as { charges?: unknown }).charges;
  } catch {
    return;
  }
  // Unmatched ones stay (a charge may be listed later: the runner sees an abort after the payer does).
  const unbilled = (line.unbilled ?? []).slice().sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (!Array.isArray(listed)) return;
  for (const item of listed.slice(0, 256)) {
    const charge = chargeFromJson(item);
    if (charge === undefined || charge.lineId !== line.lineId || charge.owedE8s <= line.owedE8s) continue;
    if (line.unsentCovers.includes(charge.chargeSeq) || books.signedCharges.get(line.lineId)?.includes(charge.chargeSeq)) continue;
    // The smallest worst case of a request that ended unseen, if it bounds the charge, pays for it.
    const index = unbilled.findIndex((worst) => worst >= charge.costE8s);
    if (index < 0) continue;
    unbilled.splice(index, 1);
    line.unbilled = unbilled.slice();
    const { inputTokens, outputTokens, costE8s } = charge;
    await books.signReceipt(line, charge.chargeSeq, { inputTokens, outputTokens, costE8s, overReported: [] });
  }
  books.save();
}

/**
 * Takes up the runner's held receipt from a response body when it is this payer's, for this line, and ahead of the
 * books: by seq (the books resume from it), or by owed under a lower seq. The latter is a fork: another instance of
 * this payer (or an earlier life without books) signed it, so it covers none of the charges this client signed since
 * it opened or last took up a receipt from elsewhere; the books resume from it plus those (`fromHere`), under their own seq
 * (the next receipt is above both). Refusing it left every later receipt `NotCumulative`: each request a 409, no
 * charge signed again.
 */
export function adoptHeldReceipt(books: HeldReceiptBooks, line: PayerLine, body: string): void {
  let held: SignedReceipt | undefined;
  try {
    held = signedReceiptFromJson((JSON.parse(body) as { held_receipt?: unknown }).held_receipt);
  } catch {
    return;
  }
  if (held === undefined || receiptProblem(held) !== undefined) return;
  const r = held.receipt;
  if (r.lineId !== line.lineId || r.payer !== books.payer || r.runner !== line.runner) return;
  const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);
  if (r.seq < line.seq && r.owedE8s > line.owedE8s) {
    const own = books.fromHere.get(line.lineId) ?? NO_CHARGES;
    Object.assign(line, {
      owedE8s: r.owedE8s + own.costE8s,
      inputTokens: r.inputTokens + own.inputTokens,
      outputTokens: r.outputTokens + own.outputTokens,
      requests: r.requests + own.requests,
      latest: held
    });
    books.fromHere.delete(line.lineId);
    books.save();
    return;
  }
  if (r.seq < line.seq || (r.seq === line.seq && r.owedE8s <= line.owedE8s)) return;
  books.fromHere.delete(line.lineId);
  Object.assign(line, {
    seq: r.seq,
    owedE8s: max(r.owedE8s, line.owedE8s),
    inputTokens: max(r.inputTokens, line.inputTokens),
    outputTokens: max(r.outputTokens, line.outputTokens),
    requests: max(r.requests, line.requests),
    latest: held
  });
  books.save();
}
