import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { KEY_FILE_MAX_STALE_MS, KEY_FILE_REVALIDATE_MS, KeyStore, KeyStoreError } from '../../../src/gateway/keys.ts';
import { RateLimiter } from '../../../src/gateway/rate-limit.ts';

describe('KeyStore: hashed keys with spend limits in one shared file', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'deai-keys-'));
    file = join(dir, '.deai', 'gateway-keys.json');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates a key shown once: the file holds its SHA-256 and prefix only; authenticate finds it', () => {
    const store = new KeyStore(file);
    const { key, view } = store.create({ name: 'app', limitE8s: 500n });
    expect(key).toMatch(/^sk-deai-[A-Za-z0-9_-]{43}$/);
    expect(view).toMatchObject({ name: 'app', limitE8s: 500n, spentE8s: 0n, ratePerMinute: 600, prefix: key.slice(0, 14) });
    const stored = readFileSync(file, 'utf8');
    expect(stored).not.toContain(key);
    expect(stored).toContain(view.prefix);
    expect(store.authenticate(key)?.id).toBe(view.id);
    expect(store.authenticate(`${key.slice(0, -1)}x`)).toBeUndefined();
    expect(store.authenticate('not-a-key')).toBeUndefined();
    expect(store.authenticate(`sk-deai-${'a'.repeat(300)}`)).toBeUndefined();
  });

  it('sees keys created by another process (another store on the same file) at once and revoked within KEY_FILE_MAX_STALE_MS', async () => {
    let clockMs = 0;
    const gateway = new KeyStore(file, undefined, undefined, () => clockMs);
    const cli = new KeyStore(file);
    const { key, view } = cli.create({ name: 'late', limitE8s: 1n });
    expect(gateway.authenticate(key)?.id).toBe(view.id);
    expect(cli.revoke(view.prefix).revokedAt).toBeDefined();
    // Within the revalidation interval the last look is trusted (no stat on the request path)…
    clockMs = KEY_FILE_REVALIDATE_MS - 1;
    expect(gateway.authenticate(key)?.id).toBe(view.id);
    // …after it, a request is served from that look while the file is looked at asynchronously…
    clockMs = KEY_FILE_REVALIDATE_MS;
    expect(gateway.authenticate(key)?.id).toBe(view.id);
    await gateway.revalidate();
    expect(gateway.authenticate(key)).toBeUndefined();
    expect(gateway.list()[0]?.revokedAt).toBeDefined();
    // A key it does not know makes it look at the file at once (one stat): a key just created works on its first use
    // (it used to be refused for up to KEY_FILE_MAX_STALE_MS, and `keys create` then a request failed with 401).
    const late = cli.create({ name: 'later', limitE8s: 1n });
    clockMs += KEY_FILE_REVALIDATE_MS - 1;
    expect(gateway.authenticate(late.key)?.id).toBe(late.view.id);
    // A key never created costs a stat, no read (the file did not change).
    expect(gateway.authenticate(`sk-deai-${'b'.repeat(40)}`)).toBeUndefined();
    // …and past the bound a request looks at the file itself first: a revocation is never trusted away longer.
    cli.revoke(late.view.prefix);
    clockMs += KEY_FILE_MAX_STALE_MS;
    expect(gateway.authenticate(late.key)).toBeUndefined();
  });

  it('adds spend at once in memory and durably on flush, without losing a key created meanwhile', () => {
    const gateway = new KeyStore(file);
    const { key, view } = gateway.create({ name: 'app', limitE8s: 10n });
    gateway.addSpend(view.id, 4n);
    gateway.addSpend(view.id, 3n);
    gateway.addSpend(view.id, 0n);
    expect(gateway.authenticate(key)?.spentE8s).toBe(7n);
    new KeyStore(file).create({ name: 'other', limitE8s: 1n });
    gateway.flush();
    const reread = new KeyStore(file).list();
    expect(reread.map((k) => [k.name, k.spentE8s])).toEqual([
      ['app', 7n],
      ['other', 0n]
    ]);
    expect(gateway.authenticate(key)?.spentE8s).toBe(7n);
  });

  it('names failures: an unknown or ambiguous key to revoke, a corrupt file, bad options', () => {
    const store = new KeyStore(file);
    expect(() => store.revoke('key_000000000000')).toThrow(KeyStoreError);
    store.create({ name: 'a', limitE8s: 1n });
    expect(() => store.revoke('sk-deai-')).toThrowError(/No key/);
    expect(() => store.create({ name: 'x'.repeat(101), limitE8s: 1n })).toThrowError(/at most 100/);
    expect(() => store.create({ name: 'a', limitE8s: -1n })).toThrowError(/out of range/);
    expect(() => store.create({ name: 'a', limitE8s: 1n, ratePerMinute: 0 })).toThrowError(/positive/);
    writeFileSync(file, '{"version":1,"keys":[{"id":"nope"}]}');
    expect(() => new KeyStore(file).list()).toThrowError(expect.objectContaining({ code: 'KeyFileInvalid' }));
    writeFileSync(file, 'not json');
    expect(() => new KeyStore(file).list()).toThrowError(expect.objectContaining({ code: 'KeyFileInvalid' }));
  });

  it('writes spend asynchronously under the lock: nothing on the caller’s turn; close() waits for a write in flight and writes the rest', async () => {
    const gateway = new KeyStore(file);
    const { key, view } = gateway.create({ name: 'app', limitE8s: 100n });
    gateway.addSpend(view.id, 4n);
    const writing = gateway.flushAsync();
    expect(new KeyStore(file).list()[0]?.spentE8s).toBe(0n); // the file work is off this turn
    gateway.addSpend(view.id, 3n); // while the write runs: pending for the next one
    await writing;
    expect(new KeyStore(file).list()[0]?.spentE8s).toBe(4n);
    expect(gateway.authenticate(key)?.spentE8s).toBe(7n);
    await gateway.close();
    expect(new KeyStore(file).list()[0]?.spentE8s).toBe(7n);
  });

  it('the asynchronous lock excludes the synchronous one: a fresh lock file is waited for (then refused), a stale one taken over', async () => {
    const { withFileLock, withFileLockAsync } = await import('../../../src/gateway/file-lock.ts');
    const target = join(dir, 'shared.json');
    writeFileSync(`${target}.lock`, '');
    await expect(withFileLockAsync(target, async () => 'ran', { timeoutMs: 20 })).rejects.toThrow(/is held by another process/);
    expect(await withFileLockAsync(target, async () => 'ran', { staleMs: -1 })).toBe('ran');
    // A synchronous section of this process while the asynchronous one awaits runs at once (waiting would block the
    // event loop the other needs: it timed out), and the asynchronous one is told.
    let entered = (): void => undefined;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    let release = (): void => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const section = withFileLockAsync(target, async (syncSectionsHere) => {
      entered();
      await gate;
      return syncSectionsHere();
    });
    await inside;
    expect(withFileLock(target, () => 'sync')).toBe('sync');
    release();
    expect(await section).toBe(1);
    expect(() => readFileSync(`${target}.lock`)).toThrow(/ENOENT/);
  });
});

describe('RateLimiter: requests per minute per key', () => {
  it('allows a burst of a tenth of the rate, then one request per 60/rate seconds', () => {
    let now = 0;
    const limiter = new RateLimiter(() => now);
    for (let i = 0; i < 6; i++) expect(limiter.take('k', 60)).toEqual({ ok: true });
    expect(limiter.take('k', 60)).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(limiter.take('other', 60)).toEqual({ ok: true });
    now += 1_000;
    expect(limiter.take('k', 60)).toEqual({ ok: true });
    expect(limiter.take('k', 60).ok).toBe(false);
    const slow = new RateLimiter(() => now);
    expect(slow.take('s', 1)).toEqual({ ok: true });
    expect(slow.take('s', 1)).toEqual({ ok: false, retryAfterSeconds: 60 });
  });
});
