/**
 * kill -9 in the middle of a burst of commits: a child process commits rounds and prints each round number
 * after commit() returns (its acknowledgement); we SIGKILL it mid-burst, then a second child reopens the
 * directory and compares it with a reference store that replays the same rounds. A small
 * checkpointAfterLogBytes makes checkpoints frequent, so some kills land inside a checkpoint.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const storeModule = pathToFileURL(path.join(repoRoot, 'src/localnet/persistence/index.ts')).href;

// One definition of the rounds, shared by the writer and the verifier (both run in child processes).
const ROUNDS_JS = `
import { createHash } from 'node:crypto';
const KIB = 1024;
export function roundDelta(r) {
  const id = 'c' + (r % 4);
  const chunk = new Uint8Array(4 * KIB).fill(r & 0xff);
  new DataView(chunk.buffer).setUint32(0, r, true);
  const page = new Uint8Array(64 * KIB).fill((r * 7) & 0xff);
  new DataView(page.buffer).setUint32(100, r, true);
  const canister = {
    id,
    meta: { lastRound: r, cycles: BigInt(r) * 10n ** 20n },
    heap: { size: 128 * KIB + 4 * KIB * Math.floor(r / 100), chunks: [{ offset: (r % 32) * 4 * KIB, bytes: chunk }] },
    stable: r % 53 === 0 ? { clear: true } : { pages: [{ index: r % 16, bytes: page }, { index: 16 + (r % 3), bytes: r % 5 === 0 ? null : page }] }
  };
  const canisters = [canister];
  if (r % 211 === 0) canisters.push({ id: 'c' + ((r + 1) % 4), deleted: true });
  const delta = { host: { round: BigInt(r) }, canisters };
  if (r % 97 === 0) {
    const bytes = new TextEncoder().encode('module of round ' + r);
    delta.blobs = [{ hash: createHash('sha256').update(bytes).digest('hex'), bytes }];
  }
  return delta;
}
`;

const WRITER_JS = `
import { StateStore } from ${JSON.stringify(storeModule)};
import { roundDelta } from './rounds.mjs';
const store = StateStore.open(process.argv[2], { checkpointAfterLogBytes: Number(process.argv[3]) });
const start = typeof store.state.host?.round === 'bigint' ? Number(store.state.host.round) + 1 : 1;
for (let r = start; ; r += 1) {
  store.commit(roundDelta(r));
  // stdout to a pipe is synchronous on Linux: once this line is readable, the round was acknowledged.
  process.stdout.write(r + '\\n');
}
`;

const VERIFIER_JS = `
import fs from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { StateStore } from ${JSON.stringify(storeModule)};
import { roundDelta } from './rounds.mjs';
const crashed = StateStore.open(process.argv[2]);
const round = typeof crashed.state.host?.round === 'bigint' ? Number(crashed.state.host.round) : 0;
fs.rmSync(process.argv[3], { recursive: true, force: true });
const reference = StateStore.open(process.argv[3], { fsync: false });
for (let r = 1; r <= round; r += 1) reference.commit(roundDelta(r));
const mismatches = [];
for (const [id, expected] of reference.state.canisters) {
  const actual = crashed.state.canisters.get(id);
  if (!isDeepStrictEqual(actual, expected)) mismatches.push(id);
}
if (crashed.state.canisters.size !== reference.state.canisters.size) mismatches.push('canister count');
if (!isDeepStrictEqual(crashed.state.blobs, reference.state.blobs)) mismatches.push('blobs');
const files = fs.readdirSync(process.argv[2]);
crashed.close();
reference.close();
process.stdout.write(JSON.stringify({ round, mismatches, files }));
`;

const verdictSchema = z.object({ round: z.number().int(), mismatches: z.array(z.string()), files: z.array(z.string()) });

let workDir: string;
beforeAll(() => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'deai-persistence-crash-'));
  fs.writeFileSync(path.join(workDir, 'rounds.mjs'), ROUNDS_JS);
  fs.writeFileSync(path.join(workDir, 'writer.mjs'), WRITER_JS);
  fs.writeFileSync(path.join(workDir, 'verifier.mjs'), VERIFIER_JS);
});
afterAll(() => {
  fs.rmSync(workDir, { recursive: true, force: true });
});

/**
 * Runs the writer until it has acknowledged `killAfter` rounds (counted from its start), then SIGKILLs it
 * `delayMs` later. Without a delay the kill lands in the next commit's fdatasync; a few milliseconds later it
 * lands in the checkpoint that commit started.
 */
function runWriterAndKill(stateDir: string, killAfter: number, checkpointAfterLogBytes: number, delayMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(workDir, 'writer.mjs'), stateDir, String(checkpointAfterLogBytes)],
      {
        cwd: repoRoot,
        stdio: ['ignore', 'pipe', 'pipe']
      }
    );
    let out = '';
    let err = '';
    let acknowledged = 0;
    let killed = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (data: string) => {
      out += data;
      acknowledged = out.split('\n').length - 1;
      if (!killed && acknowledged >= killAfter) {
        killed = true;
        setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (data: string) => {
      err += data;
    });
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      if (signal !== 'SIGKILL') {
        reject(new Error(`writer exited on its own (signal ${signal}): ${err}`));
        return;
      }
      // Only whole lines are acknowledgements; a half-printed number was cut by the kill.
      const lines = out.split('\n').slice(0, -1);
      resolve(lines.length === 0 ? 0 : Number(lines[lines.length - 1]));
    });
  });
}

function verify(stateDir: string): z.infer<typeof verdictSchema> {
  const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(workDir, 'verifier.mjs'), stateDir, `${stateDir}-reference`], {
    cwd: repoRoot,
    encoding: 'utf8'
  });
  if (result.status !== 0) throw new Error(`verifier failed: ${result.stderr}`);
  return verdictSchema.parse(JSON.parse(result.stdout));
}

describe('StateStore under kill -9', () => {
  it('keeps every acknowledged round across repeated kills, including kills during checkpoints', async () => {
    const stateDir = path.join(workDir, 'state');
    let lastAcknowledged = 0;
    // Each run resumes where the previous one's durable state ends, so later kills hit a checkpointed directory.
    const runs = [
      [40, 300_000, 0],
      [200, 300_000, 6],
      [60, 300_000, 12],
      [120, 2_000_000, 3],
      [80, 150_000, 20],
      [30, 150_000, 9],
      [150, 150_000, 30],
      [60, 300_000, 15]
    ] as const;
    for (const [killAfter, checkpointBytes, delayMs] of runs) {
      const acknowledged = await runWriterAndKill(stateDir, killAfter, checkpointBytes, delayMs);
      expect(acknowledged).toBeGreaterThanOrEqual(lastAcknowledged + killAfter);
      const verdict = verify(stateDir);
      // The round in flight at the kill may or may not have reached the log; no acknowledged one may be missing.
      expect(verdict.round).toBeGreaterThanOrEqual(acknowledged);
      expect(verdict.round).toBeLessThanOrEqual(acknowledged + 1);
      expect(verdict.mismatches).toEqual([]);
      expect(verdict.files).toContain('manifest.json');
      lastAcknowledged = verdict.round;
    }
  }, 120_000);
});
