import { CodedError } from '../core/errors/coded-error.js';

/** Writes either human lines or one JSON document, and turns failures into a message and an exit code. */
export interface Output {
  json: boolean;
  info(message: string): void;
  result(human: string, json: unknown): void;
}

export function output(json: boolean): Output {
  return {
    json,
    info: (message) => {
      if (!json) console.log(message);
      else console.error(message);
    },
    result: (human, value) => {
      if (json) console.log(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2));
      else console.log(human);
    }
  };
}

/** Runs a command body; an error is printed (as JSON with --json) and the process exits non-zero. */
export async function run(json: boolean, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    const { code, message } = describeFailure(error);
    if (json) console.log(JSON.stringify({ error: { code, message } }, null, 2));
    else console.error(`Error: ${message}`);
    process.exit(1);
  }
}

/** The code and message the CLI prints for a failure: a CodedError's own code, else a Node error's code, else `Error`. */
export function describeFailure(error: unknown): { code: string; message: string } {
  if (error instanceof CodedError) return { code: error.code, message: error.message };
  const message = error instanceof Error ? error.message : String(error);
  // Errors that are not ours (Node's ENOENT, commander's) still carry a code worth printing.
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : 'Error';
  return { code, message };
}

export function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new Error(`--port must be an integer between 0 and 65535, got "${value}"`);
  return port;
}
