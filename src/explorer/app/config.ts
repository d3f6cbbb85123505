import { z } from 'zod/mini';
import { Principal } from '@dfinity/principal';
import { CodedError } from '../../core/errors/coded-error.js';

/** What the page needs to reach the canisters: from `config.json` next to the page, overridden by query params. */
const principalText = z.string().check(
  z.refine((text) => {
    try {
      Principal.fromText(text);
      return true;
    } catch {
      return false;
    }
  }, 'not a textual principal')
);

const ConfigSchema = z.object({
  host: z.url(),
  registry: principalText,
  ledger: z.optional(principalText),
  /** Fetch the root key from the host (local networks only; the IC's key is built in). */
  fetchRootKey: z.optional(z.boolean()),
  pollMs: z.optional(z.number().check(z.int(), z.gte(500), z.lte(600_000)))
});

const FileSchema = z.partial(ConfigSchema);

export type ExplorerConfig = z.infer<typeof ConfigSchema> & { fetchRootKey: boolean; pollMs: number };

/** config.json or the URL's query is invalid; the page cannot start until it is fixed. */
export class ConfigError extends CodedError<'ConfigInvalid'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ConfigInvalid', message, options);
    this.name = 'ConfigError';
  }
}

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/;

/** The query's `host`, `registry`, `ledger`, `poll` win over config.json; the host defaults to the page's origin. */
export function resolveConfig(file: unknown, search: URLSearchParams, origin: string): ExplorerConfig {
  const fromFile = FileSchema.safeParse(file ?? {});
  if (!fromFile.success) throw new ConfigError(`config.json is invalid: ${z.prettifyError(fromFile.error)}`);
  const poll = search.get('poll');
  const merged = {
    ...fromFile.data,
    ...(search.get('host') === null ? {} : { host: search.get('host') }),
    ...(search.get('registry') === null ? {} : { registry: search.get('registry') }),
    ...(search.get('ledger') === null ? {} : { ledger: search.get('ledger') }),
    ...(poll === null ? {} : { pollMs: Number(poll) })
  };
  const parsed = ConfigSchema.safeParse({ host: origin, ...merged });
  if (!parsed.success)
    throw new ConfigError(`configuration is invalid (config.json or the URL's ?host=&registry=&ledger=): ${z.prettifyError(parsed.error)}`);
  const host = new URL(parsed.data.host);
  return { ...parsed.data, fetchRootKey: parsed.data.fetchRootKey ?? LOOPBACK.test(host.hostname), pollMs: parsed.data.pollMs ?? 3000 };
}

/** config.json, or `undefined` when the page is served without one (query params then carry everything). */
export async function loadConfigFile(fetchFn: typeof fetch = fetch): Promise<unknown> {
  let response: Response;
  try {
    response = await fetchFn('./config.json', { cache: 'no-store' });
  } catch {
    return undefined;
  }
  if (response.status === 404) return undefined;
  if (!response.ok) throw new ConfigError(`config.json: HTTP ${response.status}`);
  try {
    return await response.json();
  } catch (error) {
    throw new ConfigError(`config.json is not JSON: ${String(error)}`);
  }
}
