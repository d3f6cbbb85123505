/**
 * `server.json` in a state directory: where the network that owns the directory listens, so that other processes
 * (`deai localnet status|stop`, tools) can find it. Written once the server listens, removed when it stops; a file
 * whose pid is dead was left by a crash.
 */
import fs from 'node:fs';
import path from 'node:path';

import { z } from 'zod';

import { isProcessAlive, type IsProcessAlive } from './dir-lock.js';

export const SERVER_INFO_FILE = 'server.json';

const ServerInfoSchema = z.strictObject({
  pid: z.number().int().positive(),
  url: z.string().url(),
  port: z.number().int().min(1).max(65_535),
  rootKey: z.string().regex(/^[0-9a-f]+$/),
  startedAtMs: z.number().int().nonnegative()
});
export type ServerInfo = z.infer<typeof ServerInfoSchema>;

export type ServerInfoRead =
  | { kind: 'absent' }
  | { kind: 'invalid'; file: string; reason: string }
  | { kind: 'stale'; file: string; info: ServerInfo }
  | { kind: 'live'; file: string; info: ServerInfo };

export function writeServerInfo(dir: string, info: ServerInfo): void {
  const file = path.join(dir, SERVER_INFO_FILE);
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, `${JSON.stringify(info, null, 2)}\n`);
  fs.renameSync(temp, file);
}

/** Removes the file if it still describes process `pid` (a newer owner's file is left alone). */
export function removeServerInfo(dir: string, pid: number): void {
  const read = tryReadServerInfo(dir, () => true);
  if ((read.kind === 'live' || read.kind === 'stale') && read.info.pid === pid) fs.rmSync(read.file, { force: true });
}

/** What `server.json` says, and whether its process still runs. Never throws for a missing or malformed file. */
export function tryReadServerInfo(dir: string, alive: IsProcessAlive = isProcessAlive): ServerInfoRead {
  const file = path.join(dir, SERVER_INFO_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return { kind: 'absent' };
    return { kind: 'invalid', file, reason: error instanceof Error ? error.message : String(error) };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { kind: 'invalid', file, reason: `not JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
  const parsed = ServerInfoSchema.safeParse(json);
  if (!parsed.success)
    return { kind: 'invalid', file, reason: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
  return { kind: alive(parsed.data.pid) ? 'live' : 'stale', file, info: parsed.data };
}
