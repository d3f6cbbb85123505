import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { Secp256k1KeyIdentity } from '@dfinity/identity-secp256k1';
import { afterAll, describe, expect, it } from 'vitest';

import { parseIdentityPem } from '../../src/ic/identity.ts';

const exec = promisify(execFile);
const deai = join(import.meta.dirname, '..', '..', 'bin', 'deai.mjs');

describe('deai identity', () => {
  const dir = mkdtempSync(join(tmpdir(), 'deai-identity-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = (...args: string[]) => exec(process.execPath, [deai, 'identity', ...args], { cwd: dir, timeout: 60_000 });

  it('creates an Ed25519 key (0600), shows its principal, refuses to overwrite it, and imports a dfx secp256k1 key', async () => {
    const created = JSON.parse((await run('new', '--json')).stdout) as { principal: string; path: string };
    expect(created.path).toBe(join(dir, '.deai', 'identity.pem'));
    expect(statSync(created.path).mode & 0o777).toBe(0o600);
    expect(parseIdentityPem(readFileSync(created.path, 'utf8')).getPrincipal().toText()).toBe(created.principal);
    expect((await run('show')).stdout).toContain(created.principal);
    await expect(run('new')).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/already exists: pass --force/) });

    // A secp256k1 key as dfx writes it (SEC1 "EC PRIVATE KEY").
    const pem = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey.export({ type: 'sec1', format: 'pem' }).toString();
    writeFileSync(join(dir, 'dfx.pem'), pem);
    const imported = JSON.parse((await run('import', 'dfx.pem', '--path', 'ops.pem', '--json')).stdout) as { principal: string };
    expect(imported.principal).toBe(Secp256k1KeyIdentity.fromPem(pem).getPrincipal().toText());
    expect(statSync(join(dir, 'ops.pem')).mode & 0o777).toBe(0o600);
  });

  it('fails with a useful message for a missing or malformed key file', async () => {
    await expect(run('show', '--path', 'nope.pem')).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/does not exist: create one with `deai identity new`/)
    });
    writeFileSync(join(dir, 'bad.pem'), 'not a key');
    await expect(run('import', 'bad.pem', '--path', 'x.pem', '--json')).rejects.toMatchObject({
      code: 1,
      stdout: expect.stringMatching(/is not a PEM private key/)
    });
  });
});
