import { describe, expect, it } from 'vitest';

import { ErrorCode, RejectCode } from '../../../src/localnet/errors.ts';
import { rejectResponse } from '../../../src/localnet/http/gateway/errors.ts';
import { resolveTarget } from '../../../src/localnet/http/gateway/target.ts';

const ID = 'rrkah-fqaaa-aaaaa-aaaaq-cai';

describe('which requests the HTTP gateway answers, and for which canister', () => {
  it('takes the canister from <id>.localhost, <id>.raw.localhost and ?canisterId= (raw.localhost skips verification)', () => {
    expect(resolveTarget(`${ID}.localhost:4943`, '/')).toMatchObject({ ok: true, target: { raw: false } });
    expect(resolveTarget(`${ID}.raw.localhost:4943`, '/a?b=c')).toMatchObject({ ok: true, target: { raw: true } });
    expect(resolveTarget('127.0.0.1:4943', `/page?x=1&canisterId=${ID}`)).toMatchObject({ ok: true, target: { raw: false } });
    expect(resolveTarget('raw.localhost:4943', `/?canisterId=${ID}`)).toMatchObject({ ok: true, target: { raw: true } });
    const resolved = resolveTarget(`${ID.toUpperCase()}.LOCALHOST`, '/');
    expect(resolved?.ok === true && resolved.target.canisterId.toText()).toBe(ID);
  });

  it('leaves the IC HTTP interface and requests that name no canister to the API router', () => {
    expect(resolveTarget(`${ID}.localhost:4943`, `/api/v2/canister/${ID}/query`)).toBeUndefined();
    expect(resolveTarget('127.0.0.1:4943', `/api/v3/canister/${ID}/call?canisterId=${ID}`)).toBeUndefined();
    expect(resolveTarget('127.0.0.1:4943', '/')).toBeUndefined();
    expect(resolveTarget('localhost:4943', '/index.html')).toBeUndefined();
    expect(resolveTarget(undefined, '/')).toBeUndefined();
  });

  it('refuses a canister id that is not a principal', () => {
    expect(resolveTarget('not-a-principal.localhost', '/')).toEqual({ ok: false, detail: 'Not a principal: not-a-principal' });
    expect(resolveTarget('127.0.0.1', '/?canisterId=%%')).toMatchObject({ ok: false });
  });
});

describe("rejects become ic-gateway's status codes", () => {
  it.each([
    [RejectCode.DestinationInvalid, ErrorCode.CanisterNotFound, 'Canister x not found', 404, 'canister_not_found'],
    [RejectCode.CanisterReject, ErrorCode.CanisterRejectedMessage, 'no', 503, 'canister_reject'],
    [RejectCode.CanisterError, 'IC0503', 'trapped', 503, 'canister_error'],
    [RejectCode.CanisterError, 'IC0207', 'Canister x is out of cycles: frozen', 503, 'canister_frozen'],
    [RejectCode.SysTransient, 'IC0201', 'busy', 503, 'upstream_error']
  ] as const)('reject code %i (%s: %s) → %i %s', (code, errorCode, message, status, cause) => {
    const answer = rejectResponse({ code, errorCode, message });
    expect(answer.status).toBe(status);
    expect(new TextDecoder().decode(answer.body)).toMatch(
      new RegExp(`^error: ${cause}\\ndetails: .+\\nReplica error: reject code ${code}, error code ${errorCode}: `)
    );
  });
});
