import type { Command } from 'commander';

import { clientOptions, connectClient, runClient, table, type ClientFlags } from '../client.js';
import { positiveIntOption } from '../flags.js';
import { output } from '../output.js';
import { requestOf, requestOptions, type RequestFlags } from '../request-flags.js';

export function registerRunners(program: Command): void {
  const runners = program.command('runners').description('discover inference runners');

  requestOptions(clientOptions(runners.command('find').description('live runners that can serve a model, best first')))
    .requiredOption('--model <id>', 'model id (a published card)')
    .option('--limit <n>', 'at most this many runners', positiveIntOption)
    .option('--digest <digest...>', 'only runners serving these weights (sha256:…)')
    .action(async (flags: ClientFlags & RequestFlags & { model: string; limit?: number; digest?: string[] }) =>
      runClient(flags.json, async () => {
        const client = await connectClient(flags);
        const found = await client.findRunners({
          ...requestOf(flags),
          model: flags.model,
          ...(flags.limit === undefined ? {} : { limit: flags.limit }),
          ...(flags.digest === undefined ? {} : { digests: flags.digest })
        });
        const human =
          found.length === 0
            ? `No live runner serves ${flags.model}.`
            : table(
                ['RUNNER', 'ENGINE', 'STATE', 'FREE SLOTS', 'SCORE', 'PRICE (IN/OUT PER M)', 'CONTEXT'],
                found.map((r) => [
                  r.runner,
                  r.engine,
                  r.state,
                  String(r.freeSlots),
                  r.score.toFixed(3),
                  `${r.inputPricePerMillion}/${r.outputPricePerMillion}`,
                  r.servedContext === undefined ? '-' : String(r.servedContext)
                ])
              );
        output(flags.json).result(human, found);
      })
    );
}
