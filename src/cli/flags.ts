import { InvalidArgumentError, Option, type Command, type CommanderError } from 'commander';

/** A non-negative whole number of e8s (commander argument parser). */
export function e8sOption(value: string): bigint {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`expected a whole number of e8s, got "${value}"`);
  return BigInt(value);
}

/** A positive integer (commander argument parser). */
export function positiveIntOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return n;
}

/** A whole number, 0 or more (commander argument parser). */
export function nonNegativeIntOption(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`expected a whole number, got "${value}"`);
  return n;
}

/** A whole number of e8s above 0 (commander argument parser). */
export function positiveE8sOption(value: string): bigint {
  const e8s = e8sOption(value);
  if (e8s === 0n) throw new InvalidArgumentError(`expected a whole number of e8s above 0, got "${value}"`);
  return e8s;
}

/** An option whose value is e8s (a bigint): its default is shown in the help as digits (JSON cannot write a bigint). */
export function e8sFlag(flags: string, description: string, parse: (value: string) => bigint, defaultE8s: bigint): Option {
  return new Option(flags, description).argParser(parse).default(defaultE8s, defaultE8s.toString());
}

/**
 * With `--json` among `argv`, a flag commander refuses (a bad value, an unknown option, a missing argument) is printed
 * as the CLI's JSON error, `{ "error": { "code", "message" } }` on stdout and exit 1 (as `run` prints a failure), not a
 * message and the help on stderr. Subcommands added after this call inherit it.
 */
export function jsonParseErrors(command: Command, argv: readonly string[] = process.argv): Command {
  if (!argv.includes('--json')) return command;
  return command.configureOutput({ outputError: () => undefined, writeErr: () => undefined }).exitOverride((error: CommanderError) => {
    if (error.exitCode !== 0)
      console.log(JSON.stringify({ error: { code: error.code, message: error.message.replace(/^error: /, '') } }, null, 2));
    process.exit(error.exitCode);
  });
}
