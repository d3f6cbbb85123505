import { existsSync, readFileSync } from 'node:fs';
import { mkdir, open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

import { z } from 'zod';

import { signedReceiptFromJson, signedReceiptToJson, type SignedReceipt } from '../../core/credit/index.js';

/**
 * The payer's latest signed receipt per credit line, kept durably (one small JSON file, replaced atomically) so a
 * restarted runner can still settle alone what it served.
 *
 * `put` takes effect in memory at once and never touches the disk on the request path: the file is rewritten
 * asynchronously (a temp file, fsynced, then renamed over the old one), at most one write at a time, one write for
 * every put made while the previous one ran (a burst of receipts costs one write). `flush()` resolves once the file
 * holds every put made before it; the settler flushes before it settles alone with a receipt, and closing flushes.
 *
 * What a crash (or power loss) loses is every receipt accepted since the last completed write: those put while a
 * write was in progress (a whole-file rewrite and an fsync, O(lines)) and those waiting for the next turn. The
 * runner then holds the payer's previous receipt for those lines. These receipts were signed, so what they cover
 * beyond the previous one is NOT bounded by `maxUnsignedE8s`: a payer that settles its own receipts still pays it,
 * one that never settles keeps it. Only what the settler settles alone with is known to be on disk.
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
  /** Puts made, and how many of them the file holds. */
  private version = 0;
  private written = 0;
  private writing: Promise<void> | undefined;
  private failure: unknown;

  constructor(private readonly path: string) {
    if (!existsSync(path)) return;
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'));
    } catch {
      return; // a torn write cannot happen (fsync, then an atomic rename); an operator's edit gone wrong starts empty
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
    this.version += 1;
    if (this.writing === undefined) this.writing = this.writeLoop();
  }

  /** Resolves once the file holds every put made before this call (rejects if the disk refused the write). */
  async flush(): Promise<void> {
    const wanted = this.version;
    while (this.written < wanted) {
      this.writing ??= this.writeLoop();
      await this.writing;
      if (this.written < wanted && this.failure !== undefined) throw this.failure;
    }
  }

  /** Writes until the file is current; a failed write is left for the next put or flush to retry. */
  private async writeLoop(): Promise<void> {
    // The next turn: the puts of this one (concurrent requests) share the write.
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      while (this.written < this.version) {
        const version = this.version;
        await this.save();
        this.written = version;
        this.failure = undefined;
      }
    } catch (error) {
      this.failure = error;
    } finally {
      this.writing = undefined;
    }
  }

  private async save(): Promise<void> {
    const lines = [...this.lines.values()].map((l) => ({
      signed: signedReceiptToJson(l.signed),
      unsettledSinceMs: l.unsettledSinceMs,
      settledSeq: l.settledSeq.toString(),
      settledE8s: l.settledE8s.toString()
    }));
    const text = JSON.stringify({ version: 1, lines });
    await mkdir(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp`;
    // On disk before the rename: else a power loss can leave the renamed file empty or torn.
    const file = await open(tmp, 'w');
    try {
      await file.writeFile(text);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, this.path);
    // The rename itself is durable once the directory is synced (where the platform allows opening one).
    const dir = await open(dirname(this.path), 'r').catch(() => undefined);
    if (dir !== undefined)
      await dir
        .sync()
        .catch(() => undefined)
        .finally(() => dir.close());
  }
}
