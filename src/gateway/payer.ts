import { copyFileSync, existsSync } from 'node:fs';

import type { CreditAccountView, SettleOutcome } from '../core/credit/index.js';
import type { DeaiClient } from '../sdk/index.js';
import type { PayerClient } from '../sdk/paid/payer.js';
import { paidTransport } from './paid-transport.js';
import type { UpstreamTransport } from './transport.js';

/** Where the gateway keeps its payer's books (the seq and owed per line it signs), beside its key file. */
export const DEFAULT_PAYER_BOOKS_FILE = '.deai/gateway-payer.json';

export interface GatewayPayer {
  payer: PayerClient;
  transport: UpstreamTransport;
  /** The payer's credit account after the optional deposit. */
  account: CreditAccountView;
  /** What settling the books a previous run left unsettled did (empty when there were none). */
  resumed: SettleOutcome[];
  /** Where books of another network were moved before fresh ones replace them. */
  booksSetAside?: string;
}

/**
 * The gateway's paid side (README "Gateway"): the client's payer (its identity signs requests and receipts, IcCredit
 * reserves and settles, books in a file), an optional deposit, and the settlement of whatever a previous run signed
 * and did not settle (a gateway killed before its batch). The caller flushes `payer.close()` on shutdown.
 */
export async function openGatewayPayer(
  client: Pick<DeaiClient, 'payer' | 'depositCredit' | 'creditAccount'>,
  options: { depositE8s?: bigint; booksFile?: string } = {}
): Promise<GatewayPayer> {
  const payer = client.payer;
  if (payer === undefined) throw new Error('the gateway pays runners as its identity: pass --identity <pem> (or --unpaid)');
  // Books of another network name lines that are not this one's: kept aside, never used or overwritten.
  let booksSetAside: string | undefined;
  if (payer.foreignBooksNetwork !== undefined && options.booksFile !== undefined && existsSync(options.booksFile)) {
    booksSetAside = `${options.booksFile}.${payer.foreignBooksNetwork.replace(/[^a-z0-9-]/gi, '_')}.json`;
    copyFileSync(options.booksFile, booksSetAside);
    // The books are the file and its log (src/durable/keyed-log.ts).
    if (existsSync(`${options.booksFile}.log`)) copyFileSync(`${options.booksFile}.log`, `${booksSetAside}.log`);
  }
  if (options.depositE8s !== undefined && options.depositE8s > 0n) await client.depositCredit(options.depositE8s);
  const resumed = await payer.flush();
  return {
    payer,
    transport: paidTransport(payer),
    account: await client.creditAccount(),
    resumed,
    ...(booksSetAside === undefined ? {} : { booksSetAside })
  };
}

/** One line for a human: the payer, its credit, and what resuming settled. */
export function describePayer(p: GatewayPayer): string {
  const settled = p.resumed.filter((o) => o.ok);
  const foreign = p.payer.foreignBooksNetwork;
  return [
    `Paying runners as ${p.payer.payer}: free credit ${p.account.freeE8s} e8s, reserved ${p.account.reservedE8s} e8s`,
    ...(foreign === undefined
      ? []
      : [
          `  the payer books on file were for another network (${foreign}): starting fresh books for this one${p.booksSetAside ? ` (the old ones kept as ${p.booksSetAside})` : ''}`
        ]),
    ...(p.resumed.length === 0
      ? []
      : [`  settled ${settled.length} of ${p.resumed.length} line(s) left unsettled by the previous run (books in the payer file)`])
  ].join('\n');
}
