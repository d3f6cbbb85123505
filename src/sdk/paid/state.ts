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

/**
 * Where the payer's books live: a file (src/sdk/paid/file-store.ts, Node: an append-only log), memory, or a browser's
 * storage. The books are records by key (JSON values): one for the payer and its network, one per line, so a charge
 * saves the one line it changed.
 */
export interface PayerStateStore {
  /** Every record saved, by key (empty when nothing was). */
  load(): ReadonlyMap<string, unknown>;
  /** Sets each record given a value and removes each given `undefined`. */
  save(changes: ReadonlyMap<string, unknown>): void;
  /**
   * Resolves once every `save` made before it is durable (stores that write asynchronously, as filePayerStore). The
   * payer awaits it before a receipt leaves it (sent to a runner, settled on-chain) and at close.
   */
  flush?(): Promise<void>;
}

export const memoryPayerStore = (): PayerStateStore & { records: Map<string, unknown> } => {
  const records = new Map<string, unknown>();
  return {
    records,
    load: () => records,
    save: (changes) => {
      for (const [key, value] of changes) {
        if (value === undefined) records.delete(key);
        else records.set(key, value);
      }
    }
  };
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
const HeaderSchema = z.object({
  payer: z.string(),
  /** The network the lines are on (its registry id): books of another network are never used. */
  network: z.string().max(200).optional(),
  overReporting: z.array(z.string())
});
/** The whole-file books written before the log (`{ version: 1, payer, network, lines, overReporting }`). */
const LegacySchema = HeaderSchema.extend({ version: z.literal(1), lines: z.array(z.object({ runner: z.string() }).passthrough()) });

const HEADER_KEY = 'books';
const lineKey = (runner: string): string => `line:${runner}`;

export interface PayerBooks {
  lines: PayerLine[];
  overReporting: string[];
}

/** The books as records: the header (payer, network, runners caught over-reporting) and one per line. */
export function encodeBooks(payer: string, books: PayerBooks, network?: string): Map<string, unknown> {
  const records = new Map<string, unknown>();
  records.set(HEADER_KEY, { payer, ...(network === undefined ? {} : { network }), overReporting: books.overReporting });
  for (const l of books.lines) records.set(lineKey(l.runner), lineToJson(l));
  return records;
}

function lineToJson(l: PayerLine): Record<string, unknown> {
  const str = (n: bigint): string => n.toString();
  return {
    lineId: str(l.lineId),
    runner: l.runner,
    seq: str(l.seq),
    owedE8s: str(l.owedE8s),
    inputTokens: str(l.inputTokens),
    outputTokens: str(l.outputTokens),
    requests: str(l.requests),
    settledSeq: str(l.settledSeq),
    reservedE8s: str(l.reservedE8s),
    ...(l.latest === undefined ? {} : { latest: signedReceiptToJson(l.latest) }),
    unsentCovers: l.unsentCovers.map(str),
    ...(l.unbilled === undefined ? {} : { unbilled: l.unbilled.map(str) })
  };
}

/** Records of books saved whole (the format before the log), or undefined for anything else. */
export function legacyBooksRecords(raw: unknown): Map<string, unknown> | undefined {
  const parsed = LegacySchema.safeParse(raw);
  if (!parsed.success) return undefined;
  const { payer, network, overReporting, lines } = parsed.data;
  const records = new Map<string, unknown>();
  records.set(HEADER_KEY, { payer, ...(network === undefined ? {} : { network }), overReporting });
  for (const line of lines) records.set(lineKey(line.runner), line);
  return records;
}

/** The network (registry id) saved books were written for, when they name one. */
export function booksNetworkOf(records: ReadonlyMap<string, unknown>): string | undefined {
  const header = HeaderSchema.safeParse(records.get(HEADER_KEY));
  return header.success ? header.data.network : undefined;
}

/**
 * The books saved for `payer` on `network`; empty for nothing saved, another payer's or another network's books (lines
 * of another network mean nothing here: their ids name other lines). A line record that does not parse is left out.
 */
export function decodeBooks(payer: string, records: ReadonlyMap<string, unknown>, network?: string): PayerBooks {
  const header = HeaderSchema.safeParse(records.get(HEADER_KEY));
  if (!header.success || header.data.payer !== payer) return { lines: [], overReporting: [] };
  if (network !== undefined && header.data.network !== undefined && header.data.network !== network)
    return { lines: [], overReporting: [] };
  const lines: PayerLine[] = [];
  for (const [key, raw] of records) {
    if (!key.startsWith('line:')) continue;
    const parsed = LineSchema.safeParse(raw);
    if (!parsed.success || lineKey(parsed.data.runner) !== key) continue;
    const { latest, ...line } = parsed.data;
    const signed = latest === undefined ? undefined : signedReceiptFromJson(latest);
    lines.push(signed === undefined ? line : { ...line, latest: signed });
  }
  return { lines, overReporting: header.data.overReporting };
}

/**
 * Hands `store` the records that changed since they were last saved (`saved`: each record's JSON text, kept up to date
 * here), and removes the records no longer there.
 */
export function saveChanged(store: PayerStateStore, saved: Map<string, string>, records: Map<string, unknown>): void {
  const changes = new Map<string, unknown>();
  for (const [key, value] of records) {
    const text = JSON.stringify(value);
    if (saved.get(key) === text) continue;
    saved.set(key, text);
    changes.set(key, value);
  }
  for (const key of [...saved.keys()])
    if (!records.has(key)) {
      saved.delete(key);
      changes.set(key, undefined);
    }
  if (changes.size > 0) store.save(changes);
}
