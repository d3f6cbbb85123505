import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

import type { Command } from 'commander';

import { DEFAULT_IDENTITY_PATH } from '../defaults.js';
import { CliError } from '../errors.js';
import { output, run } from '../output.js';

interface IdentityFlags {
  path: string;
  json: boolean;
  force?: boolean;
}

/** Refuses to replace a key file unless asked: losing a key loses whatever it controls. */
function refuseOverwrite(path: string, force: boolean | undefined): void {
  if (existsSync(path) && force !== true)
    throw new CliError('IdentityExists', `${path} already exists: pass --force to replace it (the old key is lost)`);
}

/** The key libraries, loaded on use (they take a noticeable part of a second to import). */
async function keys(): Promise<
  typeof import('../../ic/identity.js') & { Ed25519KeyIdentity: typeof import('@dfinity/identity').Ed25519KeyIdentity }
> {
  const [identity, { Ed25519KeyIdentity }] = await Promise.all([import('../../ic/identity.js'), import('@dfinity/identity')]);
  return { ...identity, Ed25519KeyIdentity };
}

export function registerIdentity(program: Command): void {
  const identity = program
    .command('identity')
    .description('the PEM identity the CLI signs with (Ed25519 or secp256k1, as dfx writes them)');
  identity
    .command('show')
    .description('print the principal of an identity file')
    .option('--path <pem>', 'identity file', DEFAULT_IDENTITY_PATH)
    .option('--json', 'print JSON', false)
    .action(async (flags: IdentityFlags) =>
      run(flags.json, async () => {
        const path = resolve(flags.path);
        if (!existsSync(path))
          throw Object.assign(
            new Error(`${path} does not exist: create one with \`deai identity new\` or import one with \`deai identity import <pem>\``),
            { code: 'IdentityMissing' }
          );
        const { parseIdentityPem } = await keys();
        const principal = parseIdentityPem(readFileSync(path, 'utf8'), path).getPrincipal().toText();
        output(flags.json).result(`${principal}  (${flags.path})`, { principal, path });
      })
    );
  identity
    .command('new')
    .description('create a new Ed25519 identity (file mode 0600)')
    .option('--path <pem>', 'where to write it', DEFAULT_IDENTITY_PATH)
    .option('--force', 'replace an existing file', false)
    .option('--json', 'print JSON', false)
    .action(async (flags: IdentityFlags) =>
      run(flags.json, async () => {
        const path = resolve(flags.path);
        refuseOverwrite(path, flags.force);
        const { Ed25519KeyIdentity, ed25519Pem } = await keys();
        const created = Ed25519KeyIdentity.generate();
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, ed25519Pem(created), { mode: 0o600 });
        chmodSync(path, 0o600);
        const principal = created.getPrincipal().toText();
        output(flags.json).result(`Created ${flags.path}: ${principal}`, { principal, path });
      })
    );
  identity
    .command('import <pem>')
    .description('check a PEM key (e.g. from dfx: ~/.config/dfx/identity/<name>/identity.pem) and copy it in (0600)')
    .option('--path <pem>', 'where to copy it', DEFAULT_IDENTITY_PATH)
    .option('--force', 'replace an existing file', false)
    .option('--json', 'print JSON', false)
    .action(async (source: string, flags: IdentityFlags) =>
      run(flags.json, async () => {
        const from = resolve(source);
        if (!existsSync(from)) throw new CliError('IdentityMissing', `${from} does not exist`);
        const { parseIdentityPem } = await keys();
        const principal = parseIdentityPem(readFileSync(from, 'utf8'), from).getPrincipal().toText();
        const path = resolve(flags.path);
        refuseOverwrite(path, flags.force);
        mkdirSync(dirname(path), { recursive: true });
        copyFileSync(from, path);
        chmodSync(path, 0o600);
        output(flags.json).result(`Imported ${source} as ${flags.path}: ${principal}`, { principal, path });
      })
    );
}
