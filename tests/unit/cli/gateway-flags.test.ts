import { execFile } from 'node:child_process';
import { join } from 'node:path';

import { Command } from 'commander';
import { describe, expect, it } from 'vitest';

import {
  DEFAULT_CLOSE_IDLE_AFTER_MS,
  DEFAULT_MAX_RESERVE_PER_RUNNER_E8S,
  payerPolicyOf,
  registerGateway
} from '../../../src/cli/commands/gateway.js';

const deai = join(import.meta.dirname, '..', '..', '..', 'bin', 'deai.mjs');

/** `deai gateway <args>` parsed by the real command; its action replaced by one that hands back the flags. */
async function parse(args: string[]): Promise<{ flags?: Parameters<typeof payerPolicyOf>[0]; error?: string }> {
  let error = '';
  const program = new Command()
    .exitOverride()
    .configureOutput({ writeErr: (s) => (error += s), writeOut: () => undefined })
    .enablePositionalOptions();
  registerGateway(program);
  let flags: Parameters<typeof payerPolicyOf>[0] | undefined;
  program.commands
    .find((c) => c.name() === 'gateway')!
    .action((f: Parameters<typeof payerPolicyOf>[0]) => {
      flags = f;
    });
  try {
    await program.parseAsync(['gateway', ...args], { from: 'user' });
  } catch {
    return { error };
  }
  return flags === undefined ? {} : { flags };
}

/** The real CLI as a process: exit code and what it printed. */
function runDeai(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [deai, ...args], { timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr })
    );
  });
}

describe('deai gateway: the payer’s reserve cap and idle close', () => {
  it('default to the payer’s own defaults, and reach the payer as its options', async () => {
    const { flags } = await parse([]);
    expect(payerPolicyOf(flags!)).toEqual({
      settleEveryRequests: 100,
      settleEveryMs: 10_000,
      maxReservePerRunnerE8s: DEFAULT_MAX_RESERVE_PER_RUNNER_E8S,
      closeIdleAfterMs: DEFAULT_CLOSE_IDLE_AFTER_MS
    });
    const set = await parse(['--max-reserve-per-runner-e8s', '5000000', '--close-idle-after', '0']);
    expect(payerPolicyOf(set.flags!)).toMatchObject({ maxReservePerRunnerE8s: 5_000_000n, closeIdleAfterMs: 0 });
  });

  it.each([
    [['--max-reserve-per-runner-e8s', '0'], /above 0, got "0"/],
    [['--max-reserve-per-runner-e8s', '-5'], /whole number of e8s, got "-5"/],
    [['--max-reserve-per-runner-e8s', '1e8'], /whole number of e8s, got "1e8"/],
    [['--close-idle-after', '1.5'], /whole number, got "1.5"/],
    [['--close-idle-after', 'soon'], /whole number, got "soon"/]
  ])('refuses %j with a clear error', async (args, message) => {
    const { flags, error } = await parse(args);
    expect(flags).toBeUndefined();
    expect(error).toMatch(message);
    expect(error).toContain(`option '${args[0]}`);
  });

  it('with --json a bad value is the CLI’s JSON error (exit 1), and the help shows both flags with their defaults', async () => {
    const bad = await runDeai(['gateway', '--max-reserve-per-runner-e8s', '0', '--json']);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toEqual({
      error: { code: 'commander.invalidArgument', message: expect.stringMatching(/--max-reserve-per-runner-e8s .*above 0/) }
    });
    expect(bad.stderr).toBe('');
    const help = await runDeai(['gateway', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--max-reserve-per-runner-e8s <e8s>[\s\S]*\(default: 100000000\)/);
    expect(help.stdout).toMatch(/--close-idle-after <ms>[\s\S]*\(default:\s+3600000\)/);
    // A bigint default no longer breaks the help (it threw "Do not know how to serialize a BigInt").
    expect((await runDeai(['gateway', 'keys', 'create', '--help'])).stdout).toMatch(
      /--limit <e8s>\s+spend limit, e8s \(default: 100000000\)/
    );
  }, 60_000);
});
