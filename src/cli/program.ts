import { Command } from 'commander';

import { registerDeploy } from './commands/deploy.js';
import { registerExplorer } from './commands/explorer.js';
import { registerGateway } from './commands/gateway.js';
import { registerLedger } from './commands/ledger.js';
import { registerIdentity } from './commands/identity.js';
import { registerLocalnet } from './commands/localnet.js';
import { registerModels } from './commands/models.js';
import { registerRunner } from './commands/runner.js';
import { registerRunners } from './commands/runners.js';
import { registerStart } from './commands/start.js';
import { registerTask } from './commands/task.js';

/** The `deai` command line: one small module per command. */
export const program = new Command()
  .name('deai')
  .description('DeAI Registry: decentralized AI inference on the Internet Computer')
  .version('0.1.0')
  .showHelpAfterError()
  // A command's own options come before its subcommand (`deai gateway --port 0` vs `deai gateway keys list --json`).
  .enablePositionalOptions();

registerLocalnet(program);
registerDeploy(program);
registerStart(program);
registerIdentity(program);
registerRunner(program);
registerModels(program);
registerRunners(program);
registerTask(program);
registerLedger(program);
registerExplorer(program);
registerGateway(program);
