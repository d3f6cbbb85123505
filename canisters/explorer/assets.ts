import { utf8ToBytes } from '@noble/hashes/utils';

import {
  certificateHeader,
  certificationTree,
  EXPRESSION,
  exprPath,
  FALLBACK_PATH,
  responseHash,
  treeHash,
  type HashTree
} from '../common/http-certification.js';

/** Bounds of what a controller may upload (one ingress message per file: under the 2 MiB limit). */
export const MAX_ASSETS = 16;
export const MAX_ASSET_BYTES = 1_900_000;
export const MAX_PATH_CHARS = 256;
const MAX_CONTENT_TYPE_CHARS = 128;

type Header = [string, string];

interface Asset {
  headers: Header[];
  body: Uint8Array;
  responseHash: Uint8Array;
}

// Assets live in the heap: they are derived from the explorer's build, and `deai explorer --from-canister` uploads
// them again on every run (an upgrade empties the canister).
const assets = new Map<string, Asset>();
let tree: HashTree = certificationTree([]);

const NOT_FOUND_BODY = utf8ToBytes('Not found');
const SECURITY_HEADERS: Header[] = [
  ['x-content-type-options', 'nosniff'],
  ['referrer-policy', 'no-referrer'],
  [
    'content-security-policy',
    "default-src 'self'; connect-src 'self' http: https:; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
  ],
  ['cache-control', 'no-cache'],
  ['ic-certificateexpression', EXPRESSION]
];
const notFoundHeaders: Header[] = [['content-type', 'text/plain; charset=utf-8'], ...SECURITY_HEADERS];
const notFoundHash = responseHash(404, notFoundHeaders, NOT_FOUND_BODY);

/** Rebuilds the certification tree (bounded: at most MAX_ASSETS entries) and returns its root hash. */
export function recertify(): Uint8Array {
  const index = assets.get('/index.html');
  tree = certificationTree([
    ...[...assets.entries()].map(([path, asset]) => ({ path: exprPath(path), responseHash: asset.responseHash })),
    // `/` serves /index.html: the gateway checks the exact path of the request.
    ...(index === undefined ? [] : [{ path: exprPath('/'), responseHash: index.responseHash }]),
    { path: FALLBACK_PATH, responseHash: notFoundHash }
  ]);
  return treeHash(tree);
}

export type PutError = { TooMany: null } | { TooLarge: null } | { InvalidPath: null } | { InvalidContentType: null };

export function putAsset(path: string, contentType: string, body: Uint8Array): PutError | undefined {
  if (path.length > MAX_PATH_CHARS || !path.startsWith('/') || path.endsWith('/') || path.includes('//') || /[?#<>*$]/.test(path))
    return { InvalidPath: null };
  if (contentType.length === 0 || contentType.length > MAX_CONTENT_TYPE_CHARS || /[\r\n]/.test(contentType))
    return { InvalidContentType: null };
  if (body.length > MAX_ASSET_BYTES) return { TooLarge: null };
  if (!assets.has(path) && assets.size >= MAX_ASSETS) return { TooMany: null };
  const headers: Header[] = [['content-type', contentType], ...SECURITY_HEADERS];
  assets.set(path, { headers, body, responseHash: responseHash(200, headers, body) });
  return undefined;
}

export function clearAssets(): void {
  assets.clear();
}

export function assetPaths(): string[] {
  return [...assets.keys()].sort();
}

export interface Served {
  status: number;
  headers: Header[];
  body: Uint8Array;
}

/** The asset at `url`'s path (`/` is `/index.html`) with its certificate, else the certified 404. */
export function serve(url: string, certificate: Uint8Array): Served {
  const requested = url.split('?')[0] ?? '/';
  const asset = assets.get(requested === '/' ? '/index.html' : requested);
  if (asset === undefined)
    return {
      status: 404,
      headers: [...notFoundHeaders, ['ic-certificate', certificateHeader(certificate, tree, FALLBACK_PATH)]],
      body: NOT_FOUND_BODY
    };
  return {
    status: 200,
    headers: [...asset.headers, ['ic-certificate', certificateHeader(certificate, tree, exprPath(requested))]],
    body: asset.body
  };
}
