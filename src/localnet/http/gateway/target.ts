import { Principal } from '@dfinity/principal';

/** Which canister a browser request is for, and whether response verification is skipped (the `raw` domain). */
export interface GatewayTarget {
  canisterId: Principal;
  raw: boolean;
}

/** A canister id in the host or `?canisterId=` that is not a principal (ic-gateway answers 400). */
export type TargetResult = { ok: true; target: GatewayTarget } | { ok: false; detail: string } | undefined;

const HOST = /^(?:([a-z0-9-]+)\.)?(raw\.)?localhost(?::\d+)?$/i;
/** The IC HTTP interface keeps these paths on every host, so agents in canister-served pages reach the network. */
const API_PATH = /^\/api\/v\d+\//;

function principal(text: string): TargetResult {
  try {
    return { ok: true, target: { canisterId: Principal.fromText(text), raw: false } };
  } catch {
    return { ok: false, detail: `Not a principal: ${text}` };
  }
}

/**
 * Resolves the canister of a gateway request as dfx's local gateway does: `<id>.localhost` or `<id>.raw.localhost`
 * in the Host header, else the `canisterId` query parameter (`raw.localhost` skips verification there too).
 * Undefined: not a gateway request (an IC HTTP interface path or no canister named).
 */
export function resolveTarget(host: string | undefined, url: string): TargetResult {
  const [path = '/', query = ''] = url.split('?', 2);
  if (API_PATH.test(path)) return undefined;
  const match = HOST.exec((host ?? '').toLowerCase());
  // `raw.localhost` alone: the first group took `raw`.
  const bareRaw = match?.[1]?.toLowerCase() === 'raw' && match[2] === undefined;
  const raw = bareRaw || match?.[2] !== undefined;
  const fromHost = bareRaw ? undefined : match?.[1];
  const fromQuery = new URLSearchParams(query).get('canisterId') ?? undefined;
  const text = fromHost ?? fromQuery;
  if (text === undefined) return undefined;
  const result = principal(text);
  return result?.ok === true ? { ok: true, target: { ...result.target, raw } } : result;
}
