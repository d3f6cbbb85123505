import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

import { z } from 'zod';

import { signedReceiptFromJson, signedReceiptToJson, type SignedReceipt } from '../../core/credit/index.js';

/**
 * The payer's latest signed receipt per credit line, kept durably (one small JSON file, replaced atomically) so a
 * restarted runner can still settle alone what it served.
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

const FileSchema = z.object({
  version: z.literal(1),
  lines: z.array(
    z.object({
      signed: z.unknown(),
      unsettledSinceMs: z.number(),
      settledSeq: z.string().regex(/^\d{1,20}$/),
      settledE8s: z
        .string()
        .regex(/^\d{1,38}$/)
        .optional()
    })
  )
});

export class ReceiptStore {
  private readonly lines = new Map<string, StoredReceipt>();

  constructor(private readonly path: string) {
    if (!existsSync(path)) return;
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'));
    } catch {
      return; // a torn write cannot happen (rename is atomic); an operator's edit gone wrong starts empty
    }
    const parsed = FileSchema.safeParse(raw);
    if (!parsed.success) return;
    for (const line of parsed.data.lines) {
      const signed = signedReceiptFromJson(line.signed);
      if (signed === undefined) continue;
      this.lines.set(signed.receipt.lineId.toString(), {
        signed,
        unsettledSinceMs: line.unsettledSinceMs,
        settledSeq: BigInt(line.settledSeq),
        settledE8s: BigInt(line.settledE8s ?? '0')
      });
    }
  }

  get(lineId: bigint): StoredReceipt | undefined {
    return this.lines.get(lineId.toString());
  }

  all(): StoredReceipt[] {
    return [...this.lines.values()];
  }

  put(stored: StoredReceipt): void {
    this.lines.set(stored.signed.receipt.lineId.toString(), stored);
    this.save();
  }

  private save(): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const lines = [...this.lines.values()].map((l) => ({
      signed: signedReceiptToJson(l.signed),
      unsettledSinceMs: l.unsettledSinceMs,
      settledSeq: l.settledSeq.toString(),
      settledE8s: l.settledE8s.toString()
    }));
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify({ version: 1, lines }));
    renameSync(tmp, this.path);
  }
}
