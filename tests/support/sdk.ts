import { DeaiError } from '../../src/sdk/index.ts';

/** The DeaiError `promise` rejects with (fails the test if it resolves or rejects with anything else). */
export async function rejection(promise: Promise<unknown>): Promise<DeaiError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e
  );
  if (!(error instanceof DeaiError)) throw new Error(`expected a DeaiError, got ${String(error)}`);
  return error;
}
