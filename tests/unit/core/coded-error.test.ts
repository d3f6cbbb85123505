import { describe, expect, expectTypeOf, it } from 'vitest';

import { CodedError, toJsonValue } from '../../../src/core/errors/coded-error.ts';

type QuotaCode = 'QuotaExceeded' | 'QuotaUnknown';

class QuotaError extends CodedError<QuotaCode, { limit: bigint }> {
  constructor(code: QuotaCode, limit: bigint, options?: { cause?: unknown }) {
    super(code, `quota ${code}: ${limit}`, { ...options, retryable: code === 'QuotaExceeded', details: { limit } });
  }
}

class OtherError extends CodedError<'Other'> {}

describe('CodedError', () => {
  it('carries code, message, name, retryable (default false) and details', () => {
    const plain = new CodedError('Plain', 'plain failure');
    expect(plain).toBeInstanceOf(Error);
    expect(plain).toMatchObject({ code: 'Plain', message: 'plain failure', name: 'CodedError', retryable: false, details: undefined });
    expect('cause' in plain).toBe(false);

    const quota = new QuotaError('QuotaExceeded', 10n);
    expect(quota).toBeInstanceOf(CodedError);
    expect(quota).toBeInstanceOf(Error);
    expect(quota.name).toBe('QuotaError');
    expect(quota.retryable).toBe(true);
    expect(quota.details.limit).toBe(10n);
    expect(new QuotaError('QuotaUnknown', 1n).retryable).toBe(false);
  });

  it('keeps the standard ES2022 cause, so a chain can be walked', () => {
    const root = new TypeError('socket closed');
    const middle = new QuotaError('QuotaUnknown', 3n, { cause: root });
    const top = new OtherError('Other', 'outer', { cause: middle });
    const chain: unknown[] = [];
    for (let at: unknown = top; at instanceof Error; at = at.cause) chain.push(at);
    expect(chain).toEqual([top, middle, root]);
    // An explicitly undefined cause is kept as given, as Error does.
    expect('cause' in new OtherError('Other', 'x', { cause: undefined })).toBe(true);
  });

  it('static hasCode narrows to the class it is called on, and to the codes given', () => {
    const error: unknown = new QuotaError('QuotaExceeded', 5n);
    expect(QuotaError.hasCode(error, 'QuotaExceeded')).toBe(true);
    expect(QuotaError.hasCode(error, 'QuotaUnknown')).toBe(false);
    expect(QuotaError.hasCode(error, 'QuotaUnknown', 'QuotaExceeded')).toBe(true);
    expect(QuotaError.hasCode(error)).toBe(true);
    expect(OtherError.hasCode(error)).toBe(false);
    expect(CodedError.hasCode(error, 'QuotaExceeded')).toBe(true);
    expect(CodedError.hasCode(new Error('x'))).toBe(false);
    expect(CodedError.hasCode(Object.assign(new Error('x'), { code: 'QuotaExceeded' }), 'QuotaExceeded')).toBe(false);

    if (QuotaError.hasCode(error, 'QuotaExceeded')) {
      expectTypeOf(error).toExtend<QuotaError>();
      expectTypeOf(error.code).toEqualTypeOf<'QuotaExceeded'>();
      expectTypeOf(error.details.limit).toEqualTypeOf<bigint>();
    }
    // @ts-expect-error a code outside the class's union does not type-check
    QuotaError.hasCode(error, 'Other');
  });

  it('instance hasCode narrows the code', () => {
    const error = new QuotaError('QuotaUnknown', 1n) as QuotaError;
    expect(error.hasCode('QuotaExceeded')).toBe(false);
    if (error.hasCode('QuotaUnknown')) expectTypeOf(error.code).toEqualTypeOf<'QuotaUnknown'>();
    else expect.unreachable();
  });

  it('toJSON gives { code, message, retryable, details } with bigints as decimal strings', () => {
    const error = new CodedError('Big', 'too big', {
      retryable: true,
      details: {
        amountE8s: 12_345_678_901_234_567_890n,
        nested: [{ at: 1n }],
        bytes: new Uint8Array([1, 2]),
        cause: new OtherError('Other', 'inner')
      }
    });
    expect(error.toJSON()).toEqual({
      code: 'Big',
      message: 'too big',
      retryable: true,
      details: {
        amountE8s: '12345678901234567890',
        nested: [{ at: '1' }],
        bytes: [1, 2],
        cause: { code: 'Other', message: 'inner', retryable: false, details: undefined }
      }
    });
    expect(JSON.parse(JSON.stringify({ error }))).toEqual({
      error: {
        code: 'Big',
        message: 'too big',
        retryable: true,
        details: {
          amountE8s: '12345678901234567890',
          nested: [{ at: '1' }],
          bytes: [1, 2],
          cause: { code: 'Other', message: 'inner', retryable: false }
        }
      }
    });
  });

  it('toJsonValue cuts cycles and drops functions', () => {
    const cyclic: Record<string, unknown> = { n: 1n, f: () => 1 };
    cyclic.self = cyclic;
    expect(toJsonValue(cyclic)).toEqual({ n: '1', self: '[Circular]' });
    expect(toJsonValue({ toJSON: () => ({ at: 2n }) })).toEqual({ at: '2' });
  });
});
