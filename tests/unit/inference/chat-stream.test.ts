import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { execute, ExecutionError, outputDigest } from '../../../src/inference/chat-stream.ts';
import { startFakeEngine, type FakeEngine } from '../../support/fake-engine.ts';

/** Waits (a few ms at a time) until the engine has seen its client go away. */
async function abandonedStream(engine: FakeEngine, count: number): Promise<FakeEngine['abandoned'][number]> {
  for (let i = 0; i < 200 && engine.abandoned.length < count; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  const last = engine.abandoned[count - 1];
  if (last === undefined) throw new Error('the engine still streams: the request was not aborted');
  return last;
}

const utf8Bytes = (text: string): number => new TextEncoder().encode(text).byteLength;

describe('execute() bounds what it reads from an engine', () => {
  let engine: FakeEngine;
  const request = (overrides: Partial<Parameters<typeof execute>[0]> = {}): Parameters<typeof execute>[0] => ({
    baseUrl: engine.url,
    model: 'fake',
    prompt: 'one two three',
    maxOutputTokens: 64,
    ...overrides
  });

  beforeAll(async () => {
    engine = await startFakeEngine();
  });
  afterAll(() => engine.close());

  it('stops an engine that ignores max_tokens after max_output_tokens chunks, aborting its request', async () => {
    engine.misbehaveNext({ kind: 'endless', token: 'word ' });
    const abandonedBefore = engine.abandoned.length;
    const run = await execute(request({ maxOutputTokens: 5 }));
    expect(run.output).toBe('word '.repeat(5));
    expect(run.outputDigest).toBe(outputDigest('word '.repeat(5)));
    expect(run).toMatchObject({ truncated: 'tokens', outputTokens: 5n, finishReason: 'length' });
    expect((await abandonedStream(engine, abandonedBefore + 1)).kind).toBe('endless');
  });

  it('cuts an endless stream at maxOutputBytes on a character boundary, aborting its request', async () => {
    // A well-behaved stream under the caps is read whole, as before.
    const whole = await execute(request({ maxOutputBytes: 1024 }));
    expect(whole).toMatchObject({ output: 'three two one', outputTokens: 3n, inputTokens: 13n, finishReason: 'stop' });
    expect(whole.truncated).toBeUndefined();
    // 3-byte characters in 1000-character chunks: the cap falls inside a chunk and inside a character.
    engine.misbehaveNext({ kind: 'endless', token: '€'.repeat(1000) });
    const abandonedBefore = engine.abandoned.length;
    const deltas: string[] = [];
    const run = await execute(request({ maxOutputTokens: 1_000_000, maxOutputBytes: 10_000, onDelta: (d) => deltas.push(d) }));
    expect(run.truncated).toBe('bytes');
    expect(run.output).toBe('€'.repeat(3333)); // 9,999 bytes: a 3,334th would need 10,002
    expect(utf8Bytes(run.output)).toBe(9_999);
    expect(deltas.join('')).toBe(run.output);
    expect(run.outputTokens).toBe(4n); // chunks read (no usage arrived), within max_output_tokens
    expect((await abandonedStream(engine, abandonedBefore + 1)).kind).toBe('endless');
  });

  it('never splits a surrogate pair at the cap', async () => {
    engine.misbehaveNext({ kind: 'endless', token: 'a🦀' });
    const abandonedBefore = engine.abandoned.length;
    const run = await execute(request({ maxOutputTokens: 1_000_000, maxOutputBytes: 7 }));
    expect(run.output).toBe('a🦀a'); // 1 + 4 + 1 bytes; the next crab (4 bytes) does not fit in the last one
    expect(run.truncated).toBe('bytes');
    expect((await abandonedStream(engine, abandonedBefore + 1)).kind).toBe('endless');
  });

  it('aborts one SSE line without a newline as a protocol error, having read little more than the cap', async () => {
    engine.misbehaveNext({ kind: 'hugeLine' });
    const abandonedBefore = engine.abandoned.length;
    const failure = await execute(request({ maxSseBufferChars: 256 * 1024 })).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ExecutionError);
    expect(failure).toMatchObject({ code: 'ProtocolError', retryable: false });
    expect((failure as ExecutionError).message).toMatch(/longer than 262144 characters/);
    const stream = await abandonedStream(engine, abandonedBefore + 1);
    expect(stream.kind).toBe('hugeLine');
    // The cap plus what sockets buffer: the engine could not write without bound.
    expect(stream.bytesWritten).toBeLessThan(32 * 1024 * 1024);
  }, 20_000);

  it('passes the caller’s abort reason on and stops the engine', async () => {
    engine.misbehaveNext({ kind: 'slow', tokenMs: 20 });
    const abandonedBefore = engine.abandoned.length;
    const controller = new AbortController();
    const failure = execute(request({ signal: controller.signal, onFirstToken: () => controller.abort('lease ended') }));
    await expect(failure).rejects.toMatchObject({ code: 'Aborted', message: 'the task was aborted: lease ended' });
    expect((await abandonedStream(engine, abandonedBefore + 1)).kind).toBe('slow');
  });
});
