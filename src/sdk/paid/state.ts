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
  /** Worst cases of requests that ended without a charge seen (a broken or aborted stream): fetched from the runner. */
  unbilled?: bigint[];
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
  unsentCovers: z.array(Big).max(10_000),
  unbilled: z.array(Big).max(64).optional()
});
const FileSchema = z.object({
  version: z.literal(1),
  payer: z.string(),
  /** The network the lines are on (its registry id): books of another network are never used. */
  network: z.string().max(200).optional(),
  lines: z.array(LineSchema),
  overReporting: z.array(z.string())
});

export interface PayerBooks {
  lines: PayerLine[];
  overReporting: string[];
}

export function encodeBooks(payer: string, books: PayerBooks, network?: string): string {
  return JSON.stringify(
    {
      version: 1,
      payer,
      ...(network === undefined ? {} : { network }),
      lines: books.lines.map((l) => ({ ...l, latest: l.latest === undefined ? undefined : signedReceiptToJson(l.latest) })),
      overReporting: books.overReporting
    },
    (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)
  );
}

/** The network (registry id) a books file was written for, when it names one. */
export function booksNetworkOf(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  try {
    const parsed = FileSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data.network : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The books saved for `payer` on `network`; empty for nothing saved, another payer's or another network's file, or a
 * file that does not parse (lines of another network mean nothing here: their ids name other lines).
 */
export function decodeBooks(payer: string, text: string | undefined, network?: string): PayerBooks {
  if (text === undefined) return { lines: [], overReporting: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { lines: [], overReporting: [] };
  }
  const parsed = FileSchema.safeParse(raw);
  if (!parsed.success || parsed.data.payer !== payer) return { lines: [], overReporting: [] };
  if (network !== undefined && parsed.data.network !== undefined && parsed.data.network !== network)
    return { lines: [], overReporting: [] };
  return {
    lines: parsed.data.lines.map(({ latest, ...line }) => {
      const signed = latest === undefined ? undefined : signedReceiptFromJson(latest);
      return signed === undefined ? line : { ...line, latest: signed };
    }),
    overReporting: parsed.data.overReporting
  };
}
