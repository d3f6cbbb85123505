import { InvalidArgumentError, type Command } from 'commander';

import { DEFAULT_PORT, DEFAULT_STATE_DIR } from '../../localnet/defaults.js';
import type { Localnet } from '../../localnet/localnet.js';
import { output, run } from '../output.js';
import { localnetStatus, stopLocalnet, NOT_RUNNING_EXIT_CODE } from '../localnet-control.js';

export interface LocalnetFlags {
  port: number;
  stateDir: string;
  clean: boolean;
  json: boolean;
}

export function portOption(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new InvalidArgumentError('must be an integer between 0 and 65535 (0 picks a free port)');
  }
  return port;
}

/** Starts the embedded network and resolves once it serves; stops it on SIGINT/SIGTERM. */
export async function startLocalnet(flags: LocalnetFlags, out: ReturnType<typeof output>): Promise<Localnet> {
  out.info(`Starting the local ICP network (state in ${flags.stateDir}${flags.clean ? ', starting clean' : ''}) …`);
  // Loaded on use: the engine (binaryen) takes a second to import, which other commands should not pay.
  const { Localnet } = await import('../../localnet/localnet.js');
  const localnet = await Localnet.start({ port: flags.port, stateDir: flags.stateDir, clean: flags.clean });
  const shutdown = (signal: string): void => {
    out.info(`${signal}: stopping the local network …`);
    localnet.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`Error while stopping: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
      }
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  return localnet;
}

export function registerLocalnet(program: Command): void {
  const localnet = program.command('localnet').description('the embedded local ICP network');
  localnet
    .command('start')
    .description('run the local network in the foreground (Ctrl-C stops it and keeps its state)')
    .option('--port <port>', `TCP port on 127.0.0.1, 0 for a free one`, portOption, DEFAULT_PORT)
    .option('--state-dir <dir>', 'where canisters and keys are kept', DEFAULT_STATE_DIR)
    .option('--clean', 'discard the saved state first', false)
    .option('--json', 'print the connection details as JSON', false)
    .action(async (flags: LocalnetFlags) =>
      run(flags.json, async () => {
        const out = output(flags.json);
        const net = await startLocalnet(flags, out);
        out.result(
          [
            `Local ICP network listening on ${net.url}`,
            `Root key: ${net.rootKeyHex}`,
            `Canisters: ${net.engine.canisters.size} restored`,
            'Press Ctrl-C to stop.'
          ].join('\n'),
          { url: net.url, port: net.port, rootKey: net.rootKeyHex, stateDir: flags.stateDir, canisters: [...net.engine.canisters.keys()] }
        );
      })
    );
  registerLocalnetControl(localnet);
}

/** `deai localnet status|stop`: find the network that owns a state directory through its `server.json`. */
function registerLocalnetControl(localnet: Command): void {
  localnet
    .command('status')
    .description(`is a local network running on this state directory? (exit 0: running, ${NOT_RUNNING_EXIT_CODE}: not running)`)
    .option('--state-dir <dir>', 'the network’s state directory', DEFAULT_STATE_DIR)
    .option('--json', 'print the status as JSON', false)
    .action(async (flags: { stateDir: string; json: boolean }) =>
      run(flags.json, async () => {
        const status = await localnetStatus(flags.stateDir);
        output(flags.json).result(status.human, status.json);
        if (!status.running) process.exitCode = NOT_RUNNING_EXIT_CODE;
      })
    );
  localnet
    .command('stop')
    .description('stop the local network that runs on this state directory (SIGTERM: it checkpoints and exits); a no-op if none runs')
    .option('--state-dir <dir>', 'the network’s state directory', DEFAULT_STATE_DIR)
    .option('--timeout <seconds>', 'how long to wait for it to exit', secondsOption, 30)
    .option('--json', 'print the outcome as JSON', false)
    .action(async (flags: { stateDir: string; timeout: number; json: boolean }) =>
      run(flags.json, async () => {
        const out = output(flags.json);
        const stopped = await stopLocalnet(flags.stateDir, flags.timeout * 1000, (message) => out.info(message));
        out.result(stopped.human, stopped.json);
      })
    );
}

function secondsOption(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600)
    throw new InvalidArgumentError('must be a number of seconds between 0 and 3600');
  return seconds;
}
