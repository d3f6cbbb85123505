import type { Command } from 'commander';

import { clientOptions, connectClient, runClient, type ClientFlags } from '../client.js';
import { e8sOption } from '../flags.js';
import { output } from '../output.js';

export function registerLedger(program: Command): void {
  const ledger = program.command('ledger').description('balances and transfers on the reward ledger');

  clientOptions(ledger.command('balance').description('ledger balance of your identity (or --of a principal), in e8s'))
    .option('--of <principal>', 'whose balance (default: the --identity principal)')
    .action(async (flags: ClientFlags & { of?: string }) =>
      runClient(flags.json, async () => {
        const client = await connectClient(flags);
        const owner = flags.of ?? client.principal.toText();
        const balanceE8s = await client.balance(owner);
        output(flags.json).result(`${owner}: ${balanceE8s} e8s`, { owner, balanceE8s });
      })
    );

  clientOptions(ledger.command('transfer').description('send e8s to a principal (the ledger fee is charged on top)'))
    .requiredOption('--to <principal>', 'recipient principal')
    .requiredOption('--amount <e8s>', 'amount in e8s', e8sOption)
    .action(async (flags: ClientFlags & { to: string; amount: bigint }) =>
      runClient(flags.json, async () => {
        const client = await connectClient(flags);
        const block = await client.transfer(flags.to, flags.amount);
        output(flags.json).result(`Sent ${flags.amount} e8s to ${flags.to} (block ${block}).`, {
          from: client.principal.toText(),
          to: flags.to,
          amountE8s: flags.amount,
          block
        });
      })
    );
}
