import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

/** The built web fixture (tests/fixtures/web): certified HTML, streaming, upgrade and failure routes. */
export function webWasm(): Uint8Array {
  return new Uint8Array(readFileSync(join(root, 'tests', 'fixtures', '.azle', 'web', 'web.wasm')));
}

export interface PlainResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/**
 * A request to the localnet's port with any Host header (`<id>.localhost` names do not resolve through Node's
 * resolver, and fetch may not set Host): what a browser sends for `http://<host>/<path>`.
 */
export function getWithHost(
  port: number,
  host: string,
  path: string,
  options: { method?: string; body?: Uint8Array } = {}
): Promise<PlainResponse> {
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: { host } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, text: Buffer.concat(chunks).toString('utf8') })
      );
      response.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end(options.body);
  });
}
