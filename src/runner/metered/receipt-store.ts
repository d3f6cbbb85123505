import { z } from 'zod';

import { signedReceiptFromJson, signedReceiptToJson, type SignedReceipt } from '../../core/credit/index.js';
import { KeyedLog } from '../../durable/keyed-log.js';

/**
 * The payer's latest signed receipt per credit line, kept durably so a restarted runner can still settle alone what
 * it served: an append-only log of one JSON line per receipt kept, compacted now and then into one snapshot file
 * (src/durable/keyed-log.ts).
 *
 * `put` takes effect in memory at once and never touches the disk on the caller's turn; the puts of one turn (and
 * those made while an append runs) are appended and fsynced together. `flush()` resolves once the disk holds every put
 * made before it: the server awaits it before it answers the request that carried a receipt (the payer takes a 2xx as
 * the runner holding the receipt), the settler before it settles alone with one, and closing flushes. A crash loses
 * only receipts not yet acknowledged to their payer, who sends them again (its books hold them).
 */
export interface StoredReceipt {
  signed: SignedReceipt;
  /** When this line first held a receipt ahead of what is settled on-chain (ms since the epoch). */
  unsettledSinceMs: number;
  /** The highest receipt seq known settled on-chain (by the payer or by this runner). */
  settledSeq: bigint;
  /**
   * The amount known settled on-chain. The runner decides by this, never by the seq: a payer can settle the runner's
   * seq itself with a smaller owed amount (the highest signed owed binds on-chain).
   */
  settledE8s: bigint;
}

const RecordSchema = z.object({
  signed: z.unknown(),
  unsettledSinceMs: z.number(),
  settledSeq: z.string().regex(/^\d{1,20}$/),
  settledE8s: z
    .string()
    .regex(/^\d{1,38}$/)
    .optional()
});

/** The whole-file format this store wrote before its log (`{ version: 1, lines: [...] }`): read once, then compacted over. */
const LegacySchema = z.object({ version: z.literal(1), lines: z.array(z.unknown()) });

function legacyRecords(raw: unknown): Map<string, unknown> | undefined {
  const parsed = LegacySchema.safeParse(raw);
  if (!parsed.success) return undefined;
  const records = new Map<string, unknown>();
  for (const line of parsed.data.lines) {
    const stored = fromRecord(line);
    if (stored !== undefined) records.set(stored.signed.receipt.lineId.toString(), line);
  }
  return records;
}

function fromRecord(raw: unknown): StoredReceipt | undefined {
  const parsed = RecordSchema.safeParse(raw);
  if (!parsed.success) return undefined;
  const signed = signedReceiptFromJson(parsed.data.signed);
  if (signed === undefined) return undefined;
  return {
    signed,
    unsettledSinceMs: parsed.data.unsettledSinceMs,
    settledSeq: BigInt(parsed.data.settledSeq),
    settledE8s: BigInt(parsed.data.settledE8s ?? '0')
  };
}

export class ReceiptStore {
  private readonly lines = new Map<string, StoredReceipt>();
  private readonly log: KeyedLog;

  constructor(path: string, options: { compactAfterRecords?: number } = {}) {
    this.log = new KeyedLog(path, { legacy: legacyRecords, ...options });
    for (const [key, raw] of this.log.entries()) {
      const stored = fromRecord(raw);
      if (stored !== undefined && stored.signed.receipt.lineId.toString() === key) this.lines.set(key, stored);
    }
  }

  get(lineId: bigint): StoredReceipt | undefined {
    return this.lines.get(lineId.toString());
  }

  all(): StoredReceipt[] {
    return [...this.lines.values()];
  }

  put(stored: StoredReceipt): void {
    const key = stored.signed.receipt.lineId.toString();
    this.lines.set(key, stored);
    this.log.put(key, {
      signed: signedReceiptToJson(stored.signed),
      unsettledSinceMs: stored.unsettledSinceMs,
      settledSeq: stored.settledSeq.toString(),
      settledE8s: stored.settledE8s.toString()
    });
  }

  /** Resolves once the disk holds every put made before this call (rejects if the disk refused the write). */
  flush(): Promise<void> {
    return this.log.flush();
  }

  /** Writes everything, then one snapshot (closing the runner leaves one file to read). */
  compact(): Promise<void> {
    return this.log.compact();
  }
}
