import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { z } from 'zod';
import { CodedError } from '../core/errors/coded-error.js';

/** The part of dfx.json this project reads: azle canisters with an entry point, a Candid file and a Wasm path. */
const canisterSchema = z
  .object({
    type: z.string().optional(),
    main: z.string().optional(),
    candid: z.string().optional(),
    wasm: z.string().optional(),
    init_arg: z.string().optional()
  })
  .loose();
const dfxSchema = z.object({ canisters: z.record(z.string(), canisterSchema) }).loose();

export interface CanisterConfig {
  name: string;
  /** Absolute paths. */
  main: string;
  candid: string;
  wasm: string;
}

export class ProjectConfigError extends CodedError<'ConfigInvalid'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ConfigInvalid', message, options);
    this.name = 'ProjectConfigError';
  }
}

/** Reads the canisters of `<projectDir>/dfx.json` in file order. */
export function readDfxCanisters(projectDir: string): CanisterConfig[] {
  const path = join(projectDir, 'dfx.json');
  if (!existsSync(path)) throw new ProjectConfigError(`${path} does not exist`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ProjectConfigError(`${path} is not valid JSON: ${String(error)}`, { cause: error });
  }
  const parsed = dfxSchema.safeParse(raw);
  if (!parsed.success) throw new ProjectConfigError(`${path}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return Object.entries(parsed.data.canisters).map(([name, config]) => {
    if (config.main === undefined || config.candid === undefined) {
      throw new ProjectConfigError(`${path}: canister "${name}" needs "main" and "candid"`);
    }
    return {
      name,
      main: join(projectDir, config.main),
      candid: join(projectDir, config.candid),
      wasm: join(projectDir, config.wasm ?? join('.azle', name, `${name}.wasm`))
    };
  });
}
