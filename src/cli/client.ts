import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

import type { Command } from 'commander';

import { CodedError } from '../core/errors/coded-error.js';
import { LOCAL_HOST } from '../ic/hosts.js';
import { readRecordedIds } from '../ic/recorded-ids.js';
import type { ConnectOptions, DeaiClient } from '../sdk/index.js';
import { DEFAULT_IDENTITY_PATH } from './defaults.js';
import { CliError } from './errors.js';
import { run } from './output.js';

export { DEFAULT_IDENTITY_PATH };

/** Flags every command that talks to a deployed registry shares. */
export interface ClientFlags {
  host: string;
  identity?: string;
  registry?: string;
  json: boolean;
}

/** Adds --host, --identity, --registry and --json to `command`. */
export function clientOptions(command: Command): Command {
  return command
    .option('--host <url>', 'IC network', LOCAL_HOST)
    .option('--identity <pem>', `PEM identity (Ed25519 or secp256k1); default ${DEFAULT_IDENTITY_PATH}, else anonymous`)
    .option('--registry <id>', 'registry canister id (default: the id `deai deploy` recorded in .dfx/local/canister_ids.json)')
    .option('--json', 'print machine-readable JSON', false);
}

/** The registry id from the flag, else the one recorded by `deai deploy` in `projectDir`. */
export function resolveRegistryId(flag: string | undefined, projectDir = process.cwd()): string {
  if (flag !== undefined) return flag;
  const recorded = readRecordedIds(projectDir).registry;
  if (recorded !== undefined) return recorded;
  throw new CliError(
    'RegistryUnknown',
    `No registry id recorded in ${resolve(projectDir, '.dfx', 'local', 'canister_ids.json')}: run \`deai deploy\` here first, or pass --registry <id>`
  );
}

/** Connects the SDK as the chosen identity (the default PEM when present, else anonymous). */
export async function connectClient(
  flags: ClientFlags,
  projectDir = process.cwd(),
  extra: Pick<ConnectOptions, 'paid'> | ((identity: ConnectOptions['identity']) => Pick<ConnectOptions, 'paid'>) = {}
): Promise<DeaiClient> {
  const registryId = resolveRegistryId(flags.registry, projectDir);
  const defaultPath = resolve(projectDir, DEFAULT_IDENTITY_PATH);
  const identityPath = flags.identity !== undefined ? resolve(flags.identity) : existsSync(defaultPath) ? defaultPath : undefined;
  // Loaded on use: the agent and key libraries take a noticeable part of a second to import.
  const [{ loadIdentity }, { DeaiClient }, { workerBlsVerify }, { httpPost }] = await Promise.all([
    import('../ic/identity.js'),
    import('../sdk/index.js'),
    import('../ic/bls-verify.js'),
    import('../inference/http-post.js')
  ]);
  const identity = identityPath === undefined ? undefined : loadIdentity(identityPath);
  const more = typeof extra === 'function' ? extra(identity) : extra;
  // Certificates are checked on worker threads: `deai gateway` serves requests while its payer settles. Runners are
  // paid through Node's own HTTP client (a fraction of fetch's CPU per request and per streamed chunk).
  return DeaiClient.connect({
    host: flags.host,
    registryId,
    blsVerify: workerBlsVerify,
    fetch: httpPost,
    ...(identity === undefined ? {} : { identity }),
    ...more
  });
}

const NEXT_STEPS: Record<string, string> = {
  CallRejected: 'check that the network is running at --host (`deai localnet start`) and that --registry names the registry canister',
  NetworkUnreachable: 'start the network (`deai localnet start`) or pass the right --host',
  NotFound: 'check the id (`deai models list`, `deai task status <id>`)',
  NotConfigured: 'deploy the ledger with the registry (`deai deploy`) so tasks can escrow rewards',
  InsufficientFunds: 'fund the identity first (`deai ledger balance` shows what it holds)',
  LedgerError: 'fund the identity or lower the reward (`deai ledger balance`)',
  Unauthorized: 'pass --identity with the PEM of the principal allowed to do this',
  AnonymousCaller: 'pass --identity <pem>: anonymous callers may only read',
  CardNotPublished: 'publish the model first (`deai models publish <manifest>`) or pick one from `deai models list`',
  NoCapacity: 'no runner has a free slot for this model now: retry later (`deai runners find --model <id>`)',
  InvalidArgument: 'fix the flag named in the message (`deai <command> --help`)',
  NotInReview: 'see the task state with `deai task status <id>`: only a task in review can be accepted or rejected',
  ReviewEnded: 'the review window has closed: the result counts as accepted',
  TaskNotClaimable: 'see the task state with `deai task status <id>`',
  ImplausibleUsage:
    'report the token counts the engine measured: they cannot exceed the input size, the served context or max_output_tokens',
  PriceAboveBudget: 'raise the task budget (its reward) to cover the runner prices, or pick a cheaper runner',
  NotServing: 'the runner has no live deployment of this model (`deai runners find --model <id>`)',
  BondRequired:
    'fund the runner identity with the bond plus two ledger fees (`deai runner bond` shows the amount); `deai runner start` approves it',
  IdentityNotFound: 'pass --identity with an existing PEM file',
  IdentityInvalid: 'pass --identity with a PEM private key, as `dfx identity export` writes it'
};

/** Like {@link run}, but adds what to do next to a coded error's message. */
export async function runClient(json: boolean, body: () => Promise<void>): Promise<void> {
  await run(json, async () => {
    try {
      await body();
    } catch (error) {
      const next = error instanceof CodedError ? NEXT_STEPS[error.code] : undefined;
      if (next === undefined || !(error instanceof CodedError)) throw error;
      throw new CodedError(error.code, `${error.message}\nNext: ${next}`, {
        cause: error,
        retryable: error.retryable,
        details: error.details
      });
    }
  });
}

/** Left-aligned columns under a header row. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}
