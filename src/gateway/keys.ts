import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

import { z } from 'zod';

import { CodedError } from '../core/errors/coded-error.js';
import { withFileLock, withFileLockAsync } from './file-lock.js';

/**
 * The gateway's API keys, in one JSON file (default `.deai/gateway-keys.json`, mode 0600). A key is 32 random bytes
 * after `sk-deai-`; only its SHA-256 and its first characters (to tell keys apart) are stored, so the file does not
 * hold a usable key. Each key has a spend limit and what it has spent so far (e8s), updated durably after each
 * request; `deai gateway keys` and a running gateway share the file under a lock, and the gateway rereads it when
 * it changes: a key created by another process works at once (an unknown key makes it stat the file), one revoked
 * there takes effect within KEY_FILE_MAX_STALE_MS (one by this process at once).
 */
export const KEY_PREFIX = 'sk-deai-';
export const DEFAULT_KEYS_FILE = '.deai/gateway-keys.json';
/** Requests per minute a key may send unless created with another rate. */
export const DEFAULT_RATE_PER_MINUTE = 600;
const SHOWN_CHARS = KEY_PREFIX.length + 6;
/**
 * Spend is written to the file at most this often (it counts in memory at once; close() writes the rest): under load
 * a write per request (a locked read, write and rename, synchronous) held the gateway's event loop for milliseconds.
 * The write is asynchronous too (flushAsync), so requests go on while it runs.
 */
const SPEND_FLUSH_MS = 100;
/**
 * How long the key file's last look is trusted without another: a request later than this starts an asynchronous
 * stat (and reread when it changed) and is served from what was read, so no request waits on the disk once warm…
 */
export const KEY_FILE_REVALIDATE_MS = 200;
/**
 * …and the most a look may be trusted: past this (an idle gateway, or a stat that has not answered), the request
 * stats the file itself first. A key revoked by `deai gateway keys revoke` is refused within this long.
 */
export const KEY_FILE_MAX_STALE_MS = 1_000;

const Digits = z.string().regex(/^\d{1,30}$/);
const StoredKeySchema = z.object({
  id: z.string().regex(/^key_[0-9a-f]{12}$/),
  name: z.string().max(100),
  prefix: z.string().max(64),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  limitE8s: Digits,
  spentE8s: Digits,
  ratePerMinute: z.int().positive(),
  createdAt: z.string(),
  revokedAt: z.string().optional()
});
const KeyFileSchema = z.object({ version: z.literal(1), keys: z.array(StoredKeySchema).max(100_000) });
type StoredKey = z.infer<typeof StoredKeySchema>;
type KeyFile = z.infer<typeof KeyFileSchema>;

/** A key as listed: never the key itself. */
export interface ApiKeyView {
  id: string;
  name: string;
  /** The key's first characters (`sk-deai-Ab3xYz`), to recognise it. */
  prefix: string;
  limitE8s: bigint;
  spentE8s: bigint;
  ratePerMinute: number;
  createdAt: string;
  revokedAt?: string;
}

/** A request's worst-case cost held against a key (KeyStore.tryHold). */
export interface SpendHold {
  readonly heldE8s: bigint;
  /** Releases the hold and adds `chargeE8s` to the key's spend; later calls do nothing. */
  settle(chargeE8s: bigint): void;
}

export type KeyStoreErrorCode = 'KeyNotFound' | 'KeyFileInvalid' | 'InvalidKeyOptions';

export class KeyStoreError extends CodedError<KeyStoreErrorCode> {
  constructor(code: KeyStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'KeyStoreError';
  }
}

const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');

function viewOf(key: StoredKey, pendingE8s = 0n): ApiKeyView {
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    limitE8s: BigInt(key.limitE8s),
    spentE8s: BigInt(key.spentE8s) + pendingE8s,
    ratePerMinute: key.ratePerMinute,
    createdAt: key.createdAt,
    ...(key.revokedAt === undefined ? {} : { revokedAt: key.revokedAt })
  };
}

type KeyIndexes = { stamp: string; byHash: Map<string, StoredKey>; byId: Map<string, StoredKey> };

export class KeyStore {
  private cache: KeyIndexes | undefined;
  /** When the file was last looked at (clock ms): the cache is what it held then. */
  private checkedAtMs = -Infinity;
  /** The asynchronous look in flight, if any. */
  private revalidating: Promise<void> | undefined;
  /** Spend not yet written, by key id. */
  private readonly pending = new Map<string, bigint>();
  /** Worst-case cost of requests in flight, by key id (in memory: held only while a request runs). */
  private readonly held = new Map<string, bigint>();
  private flushScheduled = false;
  private flushing: Promise<void> | undefined;

  constructor(
    readonly file: string = DEFAULT_KEYS_FILE,
    private readonly random: (size: number) => Uint8Array = randomBytes,
    private readonly now: () => Date = () => new Date(),
    /** The clock the key file's looks are timed by (monotonic ms). */
    private readonly clockMs: () => number = () => performance.now()
  ) {}

  /** A new key; the returned `key` is the only time it is seen. */
  create(options: { name: string; limitE8s: bigint; ratePerMinute?: number }): { key: string; view: ApiKeyView } {
    const rate = options.ratePerMinute ?? DEFAULT_RATE_PER_MINUTE;
    if (options.name.length > 100) throw new KeyStoreError('InvalidKeyOptions', 'a key name is at most 100 characters');
    if (options.limitE8s < 0n || options.limitE8s >= 10n ** 30n) throw new KeyStoreError('InvalidKeyOptions', 'the limit is out of range');
    if (!Number.isInteger(rate) || rate <= 0) throw new KeyStoreError('InvalidKeyOptions', 'the rate must be a positive integer');
    const key = `${KEY_PREFIX}${Buffer.from(this.random(32)).toString('base64url')}`;
    const stored: StoredKey = {
      id: `key_${Buffer.from(this.random(6)).toString('hex')}`,
      name: options.name,
      prefix: key.slice(0, SHOWN_CHARS),
      sha256: sha256Hex(key),
      limitE8s: options.limitE8s.toString(),
      spentE8s: '0',
      ratePerMinute: rate,
      createdAt: this.now().toISOString()
    };
    this.update((file) => file.keys.push(stored));
    return { key, view: viewOf(stored) };
  }

  list(): ApiKeyView[] {
    return this.read().keys.map((key) => viewOf(key, this.pending.get(key.id)));
  }

  /** Revokes the key with this id or shown prefix (revoking twice keeps the first time). */
  revoke(idOrPrefix: string): ApiKeyView {
    let revoked: StoredKey | undefined;
    this.update((file) => {
      const matches = file.keys.filter((k) => k.id === idOrPrefix || k.prefix === idOrPrefix);
      if (matches.length !== 1)
        throw new KeyStoreError('KeyNotFound', `${matches.length === 0 ? 'No' : 'More than one'} key with id or prefix ${idOrPrefix}`);
      revoked = matches[0];
      if (revoked !== undefined) revoked.revokedAt ??= this.now().toISOString();
    });
    if (revoked === undefined) throw new KeyStoreError('KeyNotFound', `No key ${idOrPrefix}`);
    return viewOf(revoked, this.pending.get(revoked.id));
  }

  /** The live (not revoked) key `presented` is, or undefined. Rereads the file when it changed. */
  authenticate(presented: string): ApiKeyView | undefined {
    if (!presented.startsWith(KEY_PREFIX) || presented.length > 200) return undefined;
    const hash = sha256Hex(presented);
    // A key not known here may have just been created by another process (`deai gateway keys create`): one stat shows
    // whether the file changed since it was read (then it is read again), so a new key works at once. A revocation
    // still takes up to KEY_FILE_MAX_STALE_MS (a known key is never looked up on the request path).
    const stored = this.index().get(hash) ?? this.reread().byHash.get(hash);
    if (stored === undefined || stored.revokedAt !== undefined) return undefined;
    // The map lookup already matched; compare again in constant time so no timing depends on the stored hash.
    if (!timingSafeEqual(Buffer.from(stored.sha256, 'hex'), Buffer.from(hash, 'hex'))) return undefined;
    return viewOf(stored, this.pending.get(stored.id));
  }

  /** What requests in flight hold against the key (their worst-case cost), e8s. */
  heldE8s(id: string): bigint {
    return this.held.get(id) ?? 0n;
  }

  /**
   * Holds a request's worst-case cost against the key while it runs, so concurrent requests cannot together spend past
   * the limit: undefined (nothing held) when spent + held + `worstE8s` would exceed it, or the key is gone or revoked.
   * The hold is settled once, to the request's charge (which may be 0).
   */
  tryHold(id: string, worstE8s: bigint): SpendHold | undefined {
    const stored = this.indexes().byId.get(id);
    if (stored === undefined || stored.revokedAt !== undefined || worstE8s < 0n) return undefined;
    const committed = BigInt(stored.spentE8s) + (this.pending.get(id) ?? 0n) + this.heldE8s(id);
    if (committed + worstE8s > BigInt(stored.limitE8s)) return undefined;
    this.held.set(id, this.heldE8s(id) + worstE8s);
    let settled = false;
    return {
      heldE8s: worstE8s,
      settle: (chargeE8s: bigint) => {
        if (settled) return;
        settled = true;
        const left = this.heldE8s(id) - worstE8s;
        if (left > 0n) this.held.set(id, left);
        else this.held.delete(id);
        this.addSpend(id, chargeE8s);
      }
    };
  }

  /** Adds a request's charge to a key's spend: at once in memory, in the file within SPEND_FLUSH_MS (writes coalesce). */
  addSpend(id: string, chargeE8s: bigint): void {
    if (chargeE8s <= 0n) return;
    this.pending.set(id, (this.pending.get(id) ?? 0n) + chargeE8s);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setTimeout(() => this.flushSoon(), SPEND_FLUSH_MS).unref();
  }

  /** The periodic write, off the event loop: the lock, the read, the write and the rename are asynchronous. */
  private flushSoon(): void {
    this.flushing = this.flushAsync().then(
      () => {
        this.flushScheduled = false;
        // Spend added while this write ran is written by the next one.
        if (this.pending.size > 0) this.scheduleFlush();
      },
      () => {
        // The lock was held too long (or the disk refused): the spend stays pending, counted in memory, and is retried.
        setTimeout(() => this.flushSoon(), 250).unref();
      }
    );
  }

  /** Writes pending spend now, synchronously (`deai gateway keys`, tests); a running gateway closes with `close()`. */
  flush(): void {
    if (this.pending.size === 0) return;
    const pending = new Map(this.pending);
    this.update((file) => addPending(file, pending));
    this.written(pending);
  }

  /** Writes pending spend without holding the event loop (the periodic write). */
  async flushAsync(): Promise<void> {
    if (this.pending.size === 0) return;
    const pending = new Map(this.pending);
    await mkdir(dirname(this.file), { recursive: true });
    await withFileLockAsync(this.file, async (syncSectionsHere) => {
      for (;;) {
        const before = syncSectionsHere();
        const file = parseKeyFile(this.file, await readFile(this.file, 'utf8').catch(absentAsUndefined));
        addPending(file, pending);
        const temp = `${this.file}.${process.pid}.async.tmp`;
        await writeFile(temp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
        // A key created or revoked by this process meanwhile is in the file now: redo over it.
        if (syncSectionsHere() !== before) continue;
        // Synchronous, so nothing of this process runs between the check and the rename (one syscall).
        renameSync(temp, this.file);
        this.remember(file);
        return;
      }
    });
    this.written(pending);
  }

  /** Waits for a periodic write in flight, then writes the rest (the gateway's shutdown). */
  async close(): Promise<void> {
    await this.flushing?.catch(() => undefined);
    await this.flushAsync();
  }

  private written(pending: Map<string, bigint>): void {
    for (const [id, amount] of pending) {
      const left = (this.pending.get(id) ?? 0n) - amount;
      if (left > 0n) this.pending.set(id, left);
      else this.pending.delete(id);
    }
  }

  private index(): Map<string, StoredKey> {
    return this.indexes().byHash;
  }

  private indexes(): { byHash: Map<string, StoredKey>; byId: Map<string, StoredKey> } {
    const ageMs = this.clockMs() - this.checkedAtMs;
    if (this.cache !== undefined && ageMs < KEY_FILE_MAX_STALE_MS) {
      if (ageMs >= KEY_FILE_REVALIDATE_MS) void this.revalidate();
      return this.cache;
    }
    return this.reread();
  }

  /**
   * Looks at the file off the request path: a stat, and a reread when it changed. What this process wrote meanwhile
   * (remember) is newer than what this look read: it is kept.
   */
  revalidate(): Promise<void> {
    this.revalidating ??= (async () => {
      const before = this.cache;
      const startedMs = this.clockMs();
      const stamp = stampOf(await stat(this.file).catch(absentAsUndefined));
      const indexes =
        before?.stamp === stamp
          ? before
          : indexesOf(stamp, parseKeyFile(this.file, await readFile(this.file, 'utf8').catch(absentAsUndefined)));
      if (this.cache !== before) return;
      this.cache = indexes;
      this.checkedAtMs = startedMs;
    })()
      .catch(() => undefined)
      .finally(() => (this.revalidating = undefined));
    return this.revalidating;
  }

  /** The indexes, read again now if the file changed since they were read (a stat when it did not). */
  private reread(): { byHash: Map<string, StoredKey>; byId: Map<string, StoredKey> } {
    const stamp = this.stamp();
    this.checkedAtMs = this.clockMs();
    if (this.cache?.stamp !== stamp) this.cache = indexesOf(stamp, this.read());
    return this.cache;
  }

  private stamp(): string {
    try {
      return stampOf(statSync(this.file));
    } catch {
      return 'absent';
    }
  }

  private read(): KeyFile {
    return parseKeyFile(this.file, existsSync(this.file) ? readFileSync(this.file, 'utf8') : undefined);
  }

  /** What was just written is the file's content: the next authenticate need not read and parse it again. */
  private remember(file: KeyFile): void {
    this.cache = indexesOf(this.stamp(), file);
    this.checkedAtMs = this.clockMs();
  }

  private update(change: (file: KeyFile) => void): void {
    mkdirSync(dirname(this.file), { recursive: true });
    withFileLock(this.file, () => {
      const file = this.read();
      change(file);
      const temp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(temp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
      renameSync(temp, this.file);
      this.remember(file);
    });
  }
}

const stampOf = (stats: Stats | undefined): string => (stats === undefined ? 'absent' : `${stats.mtimeMs}:${stats.size}:${stats.ino}`);

const indexesOf = (stamp: string, file: KeyFile): KeyIndexes => ({
  stamp,
  byHash: new Map(file.keys.map((k) => [k.sha256, k])),
  byId: new Map(file.keys.map((k) => [k.id, k]))
});

function parseKeyFile(path: string, text: string | undefined): KeyFile {
  if (text === undefined) return { version: 1, keys: [] };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new KeyStoreError('KeyFileInvalid', `${path} is not JSON`, { cause: error });
  }
  const parsed = KeyFileSchema.safeParse(json);
  if (!parsed.success) throw new KeyStoreError('KeyFileInvalid', `${path}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

function addPending(file: KeyFile, pending: Map<string, bigint>): void {
  for (const key of file.keys) {
    const add = pending.get(key.id);
    if (add !== undefined) key.spentE8s = (BigInt(key.spentE8s) + add).toString();
  }
}

const absentAsUndefined = (error: unknown): undefined => {
  if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return undefined;
  throw error;
};
