import { resolve } from 'node:path';

import type { Command } from 'commander';

import { clientOptions, connectClient, runClient, table, type ClientFlags } from '../client.js';
import { DEFAULT_PAYER_BOOKS_FILE } from '../../gateway/payer.js';
import type { PayerClientOptions } from '../../sdk/paid/payer.js';
import { e8sFlag, e8sOption, jsonParseErrors, nonNegativeIntOption, positiveE8sOption, positiveIntOption } from '../flags.js';
import { lineWriter } from '../line-writer.js';
import { output, run } from '../output.js';
import { portOption } from './localnet.js';

export const DEFAULT_GATEWAY_PORT = 4960;
const KEYS_FILE = '.deai/gateway-keys.json';

interface KeysFlags {
  keys: string;
  json: boolean;
}

interface GatewayFlags extends ClientFlags, KeysFlags {
  port: number;
  bind: string;
  attemptTimeout: number;
  payerBooks: string;
  depositE8s?: bigint;
  settleEvery: number;
  settleInterval: number;
  maxReservePerRunnerE8s: bigint;
  closeIdleAfter: number;
  unpaid: boolean;
}

/** The payer's defaults (src/sdk/paid/payer.ts), shown in the help. */
export const DEFAULT_MAX_RESERVE_PER_RUNNER_E8S = 100_000_000n;
export const DEFAULT_CLOSE_IDLE_AFTER_MS = 3_600_000;

/** The payer's reservation, settlement and idle-close policy the flags set. */
export function payerPolicyOf(
  flags: Pick<GatewayFlags, 'settleEvery' | 'settleInterval' | 'maxReservePerRunnerE8s' | 'closeIdleAfter'>
): Pick<PayerClientOptions, 'settleEveryRequests' | 'settleEveryMs' | 'maxReservePerRunnerE8s' | 'closeIdleAfterMs'> {
  return {
    settleEveryRequests: flags.settleEvery,
    settleEveryMs: flags.settleInterval,
    maxReservePerRunnerE8s: flags.maxReservePerRunnerE8s,
    closeIdleAfterMs: flags.closeIdleAfter
  };
}

const jsonSafe = (value: unknown): unknown =>
  JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));

/** `deai gateway`: the OpenAI-compatible API over the registry's runners; `deai gateway keys …` manages its keys. */
export function registerGateway(program: Command): void {
  const gateway = clientOptions(
    jsonParseErrors(
      program.command('gateway').description('serve an OpenAI-compatible API (/v1/chat/completions, /v1/completions, /v1/models)')
    )
  )
    // Its options before `keys`, so that `gateway keys list --json` is the subcommand's --json.
    .enablePositionalOptions()
    .option('--port <port>', 'TCP port, 0 for a free one', portOption, DEFAULT_GATEWAY_PORT)
    .option('--bind <address>', 'address to listen on', '127.0.0.1')
    .option('--keys <file>', 'API key file', KEYS_FILE)
    .option('--attempt-timeout <ms>', "one runner's time to its first token before the next is tried", positiveIntOption, 30_000)
    .option('--payer-books <file>', "the payer's books (seq and owed per credit line it signed)", DEFAULT_PAYER_BOOKS_FILE)
    .option('--deposit-e8s <e8s>', "deposit this much of the identity's ledger balance as credit at start", e8sOption)
    .option('--settle-every <requests>', 'settle all lines on-chain after this many paid requests', positiveIntOption, 100)
    .option(
      '--settle-interval <ms>',
      'settle at most this long after the first unsettled request, 0: only by count and at stop',
      nonNegativeIntOption,
      10_000
    )
    .addOption(
      e8sFlag(
        '--max-reserve-per-runner-e8s <e8s>',
        "the most one runner's credit line may hold unsettled after a top-up (a request that needs more is refused: 402 reserve_cap)",
        positiveE8sOption,
        DEFAULT_MAX_RESERVE_PER_RUNNER_E8S
      )
    )
    .option(
      '--close-idle-after <ms>',
      'close a credit line unused this long once settled (its unspent credit returns after the dispute window), 0: never',
      nonNegativeIntOption,
      DEFAULT_CLOSE_IDLE_AFTER_MS
    )
    .option('--unpaid', 'development: post to runners unsigned and unpaid (metered runners refuse it)', false)
    .action(async (flags: GatewayFlags) =>
      runClient(flags.json, async () => {
        const out = output(flags.json);
        const [{ startGateway }, { KeyStore }, { openGatewayPayer, describePayer }, { filePayerStore }, { nativeSignerOf }] =
          await Promise.all([
            import('../../gateway/server.js'),
            import('../../gateway/keys.js'),
            import('../../gateway/payer.js'),
            import('../../sdk/paid/file-store.js'),
            import('../../gateway/native-signer.js')
          ]);
        const client = await connectClient(flags, process.cwd(), (identity) =>
          flags.unpaid
            ? { paid: false }
            : {
                paid: {
                  // Signed with OpenSSL where the key allows (Ed25519): pure-JS signing sits before every first token.
                  ...(nativeSignerOf(identity) === undefined ? {} : { signer: nativeSignerOf(identity) }),
                  store: filePayerStore(resolve(flags.payerBooks)),
                  ...payerPolicyOf(flags)
                }
              }
        );
        const paid = flags.unpaid
          ? undefined
          : await openGatewayPayer(client, {
              booksFile: resolve(flags.payerBooks),
              ...(flags.depositE8s === undefined ? {} : { depositE8s: flags.depositE8s })
            });
        if (paid !== undefined) out.info(describePayer(paid));
        const log = lineWriter(flags.json ? 2 : 1);
        const keys = new KeyStore(flags.keys);
        const live = keys.list().filter((k) => k.revokedAt === undefined).length;
        const running = await startGateway({
          registry: client,
          keys,
          ...(paid === undefined ? {} : { transport: paid.transport }),
          port: flags.port,
          bind: flags.bind,
          attemptTimeoutMs: flags.attemptTimeout,
          // With --json, stdout holds the one JSON result: the log goes to stderr, as out.info does.
          log: (event, fields) => log.line(`  ${event} ${JSON.stringify(fields)}`)
        });
        const stop = (): void => {
          out.info('Stopping: finishing requests in flight, then settling the payer’s lines …');
          void running
            .close()
            .then(() => paid?.payer.close())
            .then(
              async (outcomes) => {
                await log.flush();
                if (outcomes !== undefined && outcomes.length > 0) out.info(`  settled ${outcomes.filter((o) => o.ok).length} line(s)`);
                process.exit(0);
              },
              async (error: unknown) => {
                await log.flush();
                out.info(`  settling failed (the books are kept; the next start settles them): ${String(error)}`);
                process.exit(1);
              }
            );
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        out.result(
          [
            `Gateway: ${running.baseURL} (OpenAI-compatible; registry ${client.registryId.toText()} on ${flags.host})`,
            paid === undefined
              ? 'Unpaid (development): requests go to runners unsigned.'
              : `Payer ${paid.payer.payer}: ${paid.account.freeE8s} e8s free credit, books in ${flags.payerBooks}`,
            `${live} live API key(s) in ${flags.keys}${live === 0 ? ': create one with `deai gateway keys create --name app --limit <e8s>`' : ''}`,
            'Serving. Press Ctrl-C to stop.'
          ].join('\n'),
          {
            url: running.baseURL,
            baseURL: running.baseURL,
            keys: flags.keys,
            liveKeys: live,
            payer: paid === undefined ? null : jsonSafe({ principal: paid.payer.payer, ...paid.account, resumed: paid.resumed })
          }
        );
      })
    );

  const keys = gateway.command('keys').description('API keys of the gateway (stored hashed, each with a spend limit)');
  keys
    .command('create')
    .description('create a key; it is shown once')
    .requiredOption('--name <name>', 'what the key is for')
    .addOption(e8sFlag('--limit <e8s>', 'spend limit, e8s', e8sOption, 100_000_000n))
    .option('--rate <perMinute>', 'requests per minute', positiveIntOption, 600)
    .option('--keys <file>', 'API key file', KEYS_FILE)
    .option('--json', 'print machine-readable JSON', false)
    .action(async (flags: KeysFlags & { name: string; limit: bigint; rate: number }) =>
      run(flags.json, async () => {
        const { KeyStore } = await import('../../gateway/keys.js');
        const { key, view } = new KeyStore(flags.keys).create({ name: flags.name, limitE8s: flags.limit, ratePerMinute: flags.rate });
        output(flags.json).result(
          `${key}\n  ${view.id} "${view.name}": limit ${view.limitE8s} e8s, ${view.ratePerMinute} requests/min. Keep it: it is not shown again.`,
          { key, ...(jsonSafe(view) as object) }
        );
      })
    );
  keys
    .command('list')
    .description('keys: id, shown prefix, limit, spent, state')
    .option('--keys <file>', 'API key file', KEYS_FILE)
    .option('--json', 'print machine-readable JSON', false)
    .action(async (flags: KeysFlags) =>
      run(flags.json, async () => {
        const { KeyStore } = await import('../../gateway/keys.js');
        const list = new KeyStore(flags.keys).list();
        const human =
          list.length === 0
            ? 'No keys yet: `deai gateway keys create --name app`.'
            : table(
                ['ID', 'PREFIX', 'NAME', 'SPENT/LIMIT (E8S)', 'RATE/MIN', 'STATE'],
                list.map((k) => [
                  k.id,
                  k.prefix,
                  k.name,
                  `${k.spentE8s}/${k.limitE8s}`,
                  String(k.ratePerMinute),
                  k.revokedAt === undefined ? 'live' : 'revoked'
                ])
              );
        output(flags.json).result(human, jsonSafe(list));
      })
    );
  keys
    .command('revoke')
    .description('revoke a key by id or shown prefix (at once, also for a running gateway)')
    .argument('<key>', 'key id (key_…) or shown prefix (sk-deai-…)')
    .option('--keys <file>', 'API key file', KEYS_FILE)
    .option('--json', 'print machine-readable JSON', false)
    .action(async (idOrPrefix: string, flags: KeysFlags) =>
      run(flags.json, async () => {
        const { KeyStore } = await import('../../gateway/keys.js');
        const view = new KeyStore(flags.keys).revoke(idOrPrefix);
        output(flags.json).result(`Revoked ${view.id} (${view.prefix}, "${view.name}")`, jsonSafe(view));
      })
    );
}
