import { principalBytes } from '../principal-text.js';
import { concatBytes, domainSeparator, lengthPrefixed, u128be, u64be } from './encoding.js';
import { selfAuthenticatingPrincipal, verifyPayerSignature, type SignatureVerifier } from './signature.js';

/**
 * A payer's cumulative receipt toward one credit line (README "Paid direct path"): after each request the payer signs
 * the running totals it owes the runner on that line. Receipts are cumulative and ordered by `seq`, so settling the
 * latest one settles everything before it, and settling one twice (or an older one after it) moves nothing.
 */
export interface Receipt {
  /** The credit line, assigned by the registry when the line opened (a reopened line gets a new id). */
  lineId: bigint;
  /** Textual principals; the payer's is the self-authenticating principal of the signing key. */
  payer: string;
  runner: string;
  /** Strictly increasing per line; 1 for the first request. */
  seq: bigint;
  /** Everything the payer owes the runner on this line so far, e8s. */
  owedE8s: bigint;
  inputTokens: bigint;
  outputTokens: bigint;
  requests: bigint;
}

export interface SignedReceipt {
  receipt: Receipt;
  /** DER public key of the payer's identity. */
  publicKey: Uint8Array;
  signature: Uint8Array;
}

const RECEIPT_DOMAIN = domainSeparator('deai-receipt-v1');

function principalField(text: string): Uint8Array {
  const bytes = principalBytes(text);
  if (bytes === undefined) throw new RangeError(`not a principal: ${text}`);
  return lengthPrefixed(bytes);
}

/** The exact bytes a payer signs for `receipt`. Throws RangeError on a field out of range (u64/u128, principals). */
export function receiptSigningBytes(receipt: Receipt): Uint8Array {
  return concatBytes([
    RECEIPT_DOMAIN,
    u64be(receipt.lineId),
    principalField(receipt.payer),
    principalField(receipt.runner),
    u64be(receipt.seq),
    u128be(receipt.owedE8s),
    u64be(receipt.inputTokens),
    u64be(receipt.outputTokens),
    u64be(receipt.requests)
  ]);
}

export type ReceiptProblem = 'KeyNotPayer' | 'BadSignature' | 'OutOfRange';

/** Why a signed receipt is not the payer's, or undefined when it is. Never throws (nor may `verify`). */
export function receiptProblem(signed: SignedReceipt, verify: SignatureVerifier = verifyPayerSignature): ReceiptProblem | undefined {
  let message: Uint8Array;
  try {
    message = receiptSigningBytes(signed.receipt);
  } catch {
    return 'OutOfRange';
  }
  if (selfAuthenticatingPrincipal(signed.publicKey) !== signed.receipt.payer) return 'KeyNotPayer';
  return verify(signed.publicKey, message, signed.signature) ? undefined : 'BadSignature';
}

//#region JSON form (HTTP headers and bodies between payer and runner; bigints as decimal strings)
export interface SignedReceiptJson {
  receipt: Record<keyof Receipt, string>;
  publicKey: string;
  signature: string;
}

const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
function unhex(text: string): Uint8Array | undefined {
  if (!/^(?:[0-9a-f]{2})*$/i.test(text)) return undefined;
  return Uint8Array.from(text.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

const BIGINT_FIELDS = ['lineId', 'seq', 'owedE8s', 'inputTokens', 'outputTokens', 'requests'] as const;

export function signedReceiptToJson(signed: SignedReceipt): SignedReceiptJson {
  const r = signed.receipt;
  return {
    receipt: {
      lineId: r.lineId.toString(),
      payer: r.payer,
      runner: r.runner,
      seq: r.seq.toString(),
      owedE8s: r.owedE8s.toString(),
      inputTokens: r.inputTokens.toString(),
      outputTokens: r.outputTokens.toString(),
      requests: r.requests.toString()
    },
    publicKey: hex(signed.publicKey),
    signature: hex(signed.signature)
  };
}

/** Parses the JSON form; undefined when any field is missing or malformed (the signature is not checked here). */
export function signedReceiptFromJson(value: unknown): SignedReceipt | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { receipt, publicKey, signature } = value as Record<string, unknown>;
  if (typeof receipt !== 'object' || receipt === null || typeof publicKey !== 'string' || typeof signature !== 'string') return undefined;
  const fields = receipt as Record<string, unknown>;
  const numbers: Partial<Record<(typeof BIGINT_FIELDS)[number], bigint>> = {};
  for (const key of BIGINT_FIELDS) {
    const text = fields[key];
    if (typeof text !== 'string' || !/^\d{1,39}$/.test(text)) return undefined;
    numbers[key] = BigInt(text);
  }
  const key = unhex(publicKey);
  const sig = unhex(signature);
  if (typeof fields.payer !== 'string' || typeof fields.runner !== 'string' || !key || !sig) return undefined;
  if (key.length > 200 || sig.length > 200) return undefined;
  return {
    receipt: {
      lineId: numbers.lineId!,
      payer: fields.payer,
      runner: fields.runner,
      seq: numbers.seq!,
      owedE8s: numbers.owedE8s!,
      inputTokens: numbers.inputTokens!,
      outputTokens: numbers.outputTokens!,
      requests: numbers.requests!
    },
    publicKey: key,
    signature: sig
  };
}
//#endregion
