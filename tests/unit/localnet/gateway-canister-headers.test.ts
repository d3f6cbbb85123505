import { request } from 'node:http';
import type { AddressInfo } from 'node:net';

import { IDL } from '@dfinity/candid';
import { afterEach, describe, expect, it } from 'vitest';

import type { EndpointDeps } from '../../../src/localnet/http/endpoints.ts';
import { createHttpServer } from '../../../src/localnet/http/server.ts';

const ID = 'rrkah-fqaaa-aaaaa-aaaaq-cai';
/** The canister side of HttpResponse (no streaming strategy sent). */
const HttpResponse = IDL.Record({
  status_code: IDL.Nat16,
  headers: IDL.Vec(IDL.Tuple(IDL.Text, IDL.Text)),
  body: IDL.Vec(IDL.Nat8),
  upgrade: IDL.Opt(IDL.Bool),
  streaming_strategy: IDL.Opt(IDL.Null)
});

/** A localnet whose only canister answers every http_request with `headers` (what any installed canister may do). */
function netAnswering(headers: [string, string][], status = 200) {
  const reply = new Uint8Array(
    IDL.encode(
      [HttpResponse],
      [{ status_code: status, headers, body: new TextEncoder().encode('hi'), upgrade: [], streaming_strategy: [] }]
    )
  );
  const engine = { halted: undefined, query: () => ({ kind: 'reply', bytes: reply }) };
  const errors: unknown[] = [];
  const server = createHttpServer({ engine, keys: { rootKeyDer: new Uint8Array() } } as unknown as EndpointDeps, (e) => errors.push(e));
  return { server, errors };
}

function get(port: number, host: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request({ port, host: '127.0.0.1', path: '/', headers: { host } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (e) => resolve(`error: ${e.message}`));
    req.setTimeout(3_000, () => {
      req.destroy();
      resolve('no answer');
    });
    req.end();
  });
}

describe('review 5: a canister header that Node cannot send (localnet HTTP gateway)', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  afterEach(() => void process.off('unhandledRejection', onUnhandled));

  // A header value with a line break (or a name that is not an HTTP token) is the canister's to send: the gateway
  // must answer 502/503 for it, not throw from writeHead inside a promise callback (an unhandled rejection, which
  // ends `deai localnet start` with every canister on it).
  it.each([
    ['a value with a line break', ['x-echo', 'a\r\nset-cookie: injected=1']],
    ['a name that is not a token', ['bad header', 'x']]
  ] as const)('answers an error status for %s, with no unhandled rejection', async (_case, header) => {
    unhandled.length = 0;
    process.on('unhandledRejection', onUnhandled);
    const { server, errors } = netAnswering([[header[0], header[1]]]);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const status = await get((server.address() as AddressInfo).port, `${ID}.raw.localhost`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect({ unhandled: unhandled.length, errors: errors.length }).toEqual({ unhandled: 0, errors: 0 });
      expect([502, 503]).toContain(status);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  // An interim status (1xx) is not a response: Node sends it as such and the browser waits for one that never comes.
  it('answers an error status, not an interim one, for a canister status of 103', async () => {
    const { server } = netAnswering([['content-type', 'text/plain']], 103);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      expect([502, 503]).toContain(await get((server.address() as AddressInfo).port, `${ID}.raw.localhost`));
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
