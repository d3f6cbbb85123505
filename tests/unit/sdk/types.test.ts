import { describe, expectTypeOf, it } from 'vitest';

import type { NotFoundKind } from '../../../src/interface/registry/index.ts';
import { DeaiError, isDeaiError, type DeaiClient, type Task, type TaskState } from '../../../src/sdk/index.ts';

describe('SDK public types', () => {
  it('submitTask and getTask resolve to the camelCase Task, whose state is a TaskState', () => {
    expectTypeOf<Awaited<ReturnType<DeaiClient['submitTask']>>>().toEqualTypeOf<Task>();
    expectTypeOf<Awaited<ReturnType<DeaiClient['getTask']>>>().toEqualTypeOf<Task>();
    expectTypeOf<Awaited<ReturnType<DeaiClient['accept']>>>().toEqualTypeOf<Task>();
    expectTypeOf<Task['state']>().toEqualTypeOf<TaskState>();
    expectTypeOf<Task['requester']>().toEqualTypeOf<string>();
    expectTypeOf<Task['rewardE8s']>().toEqualTypeOf<bigint>();
  });

  it('narrowing a DeaiError on its code types its details', () => {
    const error: unknown = new DeaiError('NotFound', 'Task t does not exist', { kind: { Task: null }, id: 't' });
    if (isDeaiError(error, 'NotFound')) {
      expectTypeOf(error.details.kind).toEqualTypeOf<NotFoundKind>();
      expectTypeOf(error.details.id).toEqualTypeOf<string>();
    }
    if (isDeaiError(error)) {
      // Any DeaiError narrows through its own hasCode too.
      if (error.hasCode('ReviewEnded')) expectTypeOf(error.details.ended_at_ns).toEqualTypeOf<bigint>();
    }
    if (isDeaiError(error, 'TaskFailed')) expectTypeOf(error.details.state).toEqualTypeOf<TaskState>();
    // @ts-expect-error a code no registry, ledger or SDK error has
    isDeaiError(error, 'NoSuchCode');
    // @ts-expect-error details must match the code
    new DeaiError('NotFound', 'x', { what: 'task t' });
  });
});
