import { IDL } from '@dfinity/candid';
import { describe, expect, it } from 'vitest';

import { FindRequest } from '../../src/interface/registry/index.ts';

describe('FindRequest.digests on the wire', () => {
  it('is optional and last: a request from a client that predates it decodes with no pin', () => {
    // The record as older clients encode it (no `digests` field).
    const Old = IDL.Record({ model: IDL.Opt(IDL.Text), affinity_key: IDL.Opt(IDL.Text), limit: IDL.Opt(IDL.Nat32) });
    const [decoded] = IDL.decode([FindRequest], IDL.encode([Old], [{ model: ['a/b'], affinity_key: [], limit: [3] }])) as unknown as [
      Record<string, unknown>
    ];
    expect(decoded).toMatchObject({ model: ['a/b'], limit: [3], digests: [] });
  });
});
