import { z } from 'zod';

import { signedReceiptFromJson, signedReceiptToJson, type SignedReceipt } from '../../core/credit/index.js';

/**
 * The payer's own books per credit line: the cumulative totals it signs, what it has settled, and what it reserved.
 * Saved after each accepted charge through a PayerStateStore, so a restarted payer resumes its seq and owed (a
 * receipt signed again with an old seq would be refused by the runner and the registry).
 */
export interface PayerLine {
  lineId: bigint;
  runner: string;
  seq: bigint;
  owedE8s: bigint;
  inputTokens: bigint;
  outputTokens: bigint;
  requests: bigint;
  /** Highest seq settled on-chain. */
  settledSeq: bigint;
  reservedE8s: bigint;
  /** The latest signed receipt, and the charge seqs it covers that the runner has not been told of yet. */
  latest?: SignedReceipt;
  unsentCovers: bigint[];
}

/** Where the payer's books live: a file (src/sdk/paid/file-store.ts, Node), memory, or a browser's storage. */
export interface PayerStateStore {
  load(): string | undefined;
  save(text: string): void;
  /**
   * Resolves once every `save` made before it is durable (stores that write asynchronously, as filePayerStore). The
   * payer awaits it before a receipt leaves it (sent to a runner, settled on-chain) and at close.
   */
  flush?(): Promise<void>;
}

export const memoryPayerStore = (): PayerStateStore & { text?: string } => {
  const store: PayerStateStore & { text?: string } = {
    load: () => store.text,
    save: (text) => {
      store.text = text;
    }
  };
  return store;
};

const Big = z
  .string()
  .regex(/^\d{1,39}$/)
  .transform((s) => BigInt(s));
const LineSchema = z.object({
  lineId: Big,
  runner: z.string().min(1).max(64),
  seq: Big,
  owedE8s: Big,
  inputTokens: Big,
  outputTokens: Big,
  requests: Big,
  settledSeq: Big,
  reservedE8s: Big,
  latest: z.unknown().optional(),
  unsentCovers: z.array(Big).max(10_000)
});
const FileSchema = z.object({ version: z.literal(1), payer: z.string(), lines: z.array(LineSchema), overReporting: z.array(z.string()) });

export interface PayerBooks {
  lines: PayerLine[];
  overReporting: string[];
}

export function encodeBooks(payer: string, books: PayerBooks): string {
  return JSON.stringify(
    {
      version: 1,
      payer,
      lines: books.lines.map((l) => ({ ...l, latest: l.latest === undefined ? undefined : signedReceiptToJson(l.latest) })),
      overReporting: books.overReporting
    },
    (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)
  );
}

/** The books saved for `payer`; empty for nothing saved, another payer's file, or a file that does not parse. */
export function decodeBooks(payer: string, text: string | undefined): PayerBooks {
  if (text === undefined) return { lines: [], overReporting: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { lines: [], overReporting: [] };
  }
  const parsed = FileSchema.safeParse(raw);
  if (!parsed.success || parsed.data.payer !== payer) return { lines: [], overReporting: [] };
  return {
    lines: parsed.data.lines.map(({ latest, ...line }) => {
      const signed = latest === undefined ? undefined : signedReceiptFromJson(latest);
      return signed === undefined ? line : { ...line, latest: signed };
    }),
    overReporting: parsed.data.overReporting
  };
}
