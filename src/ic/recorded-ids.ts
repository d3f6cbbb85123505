import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { z } from 'zod';

/** Where dfx and icp record canister ids per network (read without loading the agent, for fast CLI start). */
const idsFileSchema = z.record(z.string(), z.record(z.string(), z.string()));

export function dfxIdsPath(projectDir: string, network: string): string {
  return join(projectDir, '.dfx', network, 'canister_ids.json');
}

export function icpIdsPath(projectDir: string, network: string): string {
  return join(projectDir, '.icp', 'data', 'mappings', `${network}.ids.json`);
}

/** Canister ids recorded by an earlier deploy to `network` (dfx's file is the source of truth). */
export function readRecordedIds(projectDir: string, network = 'local'): Record<string, string> {
  const path = dfxIdsPath(projectDir, network);
  if (!existsSync(path)) return {};
  const parsed = idsFileSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) return {};
  const ids: Record<string, string> = {};
  for (const [name, byNetwork] of Object.entries(parsed.data)) {
    const id = byNetwork[network];
    if (id !== undefined) ids[name] = id;
  }
  return ids;
}
