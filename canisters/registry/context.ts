import { msgCaller } from 'azle';
import { type RegistryError, type Result } from '../../src/core/registry/index.js';
import { principalText } from '../common/principals.js';
import { openStore } from './stable-store.js';

/** Every method decodes and replies itself (fast-candid.ts, bounded-args.ts). */
export const MANUAL = { manual: true };

// Opened on first use, not at module load: azle evaluates the module at build time (Candid generation),
// where stable memory cannot be read.
let opened: ReturnType<typeof openStore> | undefined;
export const state = (): ReturnType<typeof openStore> => (opened ??= openStore());
export const caller = (): string => principalText(msgCaller());

export const mapResult = <T, U>(result: Result<T>, view: (value: T) => U): { Ok: U } | { Err: RegistryError } =>
  'Ok' in result ? { Ok: view(result.Ok) } : result;
