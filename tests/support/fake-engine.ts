import { createServer, type Server, type ServerResponse } from 'node:http';

/**
 * A stand-in OpenAI-compatible chat server for runner tests that do not need real inference: it streams the
 * prompt reversed, word by word, in llama.cpp's chunk shape (`chat_completion_stream.sse.txt`), ends with a usage
 * chunk and `[DONE]`; with `stream: false` it answers one chat completion. It answers the conversation's last
 * message. `failNext` makes the next request fail with a 500 or drop the stream midway; `misbehaveNext` makes the next
 * stream never end (slowly, flooding, or as one line without a newline). Like llama-server, it allows any origin (CORS,
 * preflight included), so pages in a browser can call it.
 */
export type Misbehaviour =
  /** One `token` chunk every `tokenMs` (default 50), without end: a generation slower than any lease. */
  | { kind: 'slow'; tokenMs?: number; token?: string }
  /** `token` chunks as fast as the client reads them, without end, ignoring `max_tokens`. */
  | { kind: 'endless'; token?: string }
  /** `data: ` and then `x` without end: one SSE line that never ends. */
  | { kind: 'hugeLine' };

export interface FakeEngine {
  url: string;
  requests: number;
  /** The parsed body of the last request. */
  lastBody: unknown;
  failNext(kind: 'http500' | 'midstream'): void;
  /** Holds the next answer back for `ms` (a slow generation). */
  delayNext(ms: number): void;
  misbehaveNext(misbehaviour: Misbehaviour): void;
  /** Forgets misbehaviours no request has taken yet (so one test's leftovers cannot reach the next). */
  clearMisbehaviours(): void;
  /** Misbehaving streams whose client went away, with the bytes each had written by then. */
  readonly abandoned: Array<{ kind: Misbehaviour['kind']; bytesWritten: number }>;
  close(): Promise<void>;
}

export async function startFakeEngine(): Promise<FakeEngine> {
  let pending: Array<'http500' | 'midstream'> = [];
  let delays: number[] = [];
  let misbehaviours: Misbehaviour[] = [];
  const abandoned: FakeEngine['abandoned'] = [];
  const state: { requests: number; lastBody: unknown } = { requests: 0, lastBody: undefined };
  const server: Server = createServer((request, response) => {
    response.setHeader('access-control-allow-origin', request.headers.origin ?? '*');
    if (request.method === 'OPTIONS') {
      response.writeHead(204, { 'access-control-allow-methods': 'GET, POST, OPTIONS', 'access-control-allow-headers': '*' }).end();
      return;
    }
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const delay = delays.shift() ?? 0;
      setTimeout(() => answer(), delay);
    });
    const answer = (): void => {
      state.requests++;
      const failure = pending.shift();
      if (failure === 'http500') {
        response
          .writeHead(500, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: { code: 500, message: 'Loading model', type: 'unavailable_error' } }));
        return;
      }
      const parsed = JSON.parse(body) as { messages: Array<{ content: string }>; max_tokens: number; stream?: boolean };
      state.lastBody = parsed;
      const words = (parsed.messages.at(-1)?.content ?? '').split(/\s+/).filter(Boolean).reverse().slice(0, parsed.max_tokens);
      if (parsed.stream !== true) {
        const usage = { prompt_tokens: 10 + words.length, completion_tokens: words.length, total_tokens: 10 + 2 * words.length };
        const completion = {
          object: 'chat.completion',
          choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: words.join(' ') } }],
          usage
        };
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(completion));
        return;
      }
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      const chunk = (data: unknown): string => `data: ${JSON.stringify(data)}\n\n`;
      const misbehaviour = misbehaviours.shift();
      if (misbehaviour !== undefined) {
        misbehave(response, misbehaviour, chunk, (bytesWritten) => abandoned.push({ kind: misbehaviour.kind, bytesWritten }));
        return;
      }
      response.write(
        chunk({
          choices: [{ index: 0, finish_reason: null, delta: { role: 'assistant', content: null } }],
          object: 'chat.completion.chunk'
        })
      );
      words.forEach((word, i) =>
        response.write(
          chunk({
            choices: [{ index: 0, finish_reason: null, delta: { content: i === 0 ? word : ` ${word}` } }],
            object: 'chat.completion.chunk'
          })
        )
      );
      if (failure === 'midstream') {
        response.write(
          chunk({
            error: { code: 500, message: 'The model produced output that does not match the expected format', type: 'server_error' }
          })
        );
        response.end();
        return;
      }
      response.write(chunk({ choices: [{ index: 0, finish_reason: 'stop', delta: {} }], object: 'chat.completion.chunk' }));
      response.write(
        chunk({
          choices: [],
          usage: { prompt_tokens: 10 + words.length, completion_tokens: words.length, total_tokens: 10 + 2 * words.length }
        })
      );
      response.end('data: [DONE]\n\n');
    };
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return state.requests;
    },
    get lastBody() {
      return state.lastBody;
    },
    failNext(kind) {
      pending = [...pending, kind];
    },
    delayNext(ms) {
      delays = [...delays, ms];
    },
    misbehaveNext(misbehaviour) {
      misbehaviours = [...misbehaviours, misbehaviour];
    },
    clearMisbehaviours() {
      misbehaviours = [];
    },
    abandoned,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      })
  };
}

/** Streams without end (see {@link Misbehaviour}) until the client goes away, honouring backpressure. */
function misbehave(
  response: ServerResponse,
  misbehaviour: Misbehaviour,
  chunk: (data: unknown) => string,
  onAbandoned: (bytesWritten: number) => void
): void {
  let bytesWritten = 0;
  let closed = false;
  response.on('close', () => {
    closed = true;
    onAbandoned(bytesWritten);
  });
  const write = (text: string): boolean => {
    bytesWritten += Buffer.byteLength(text);
    return response.write(text);
  };
  const token = (content: string): string =>
    chunk({ choices: [{ index: 0, finish_reason: null, delta: { content } }], object: 'chat.completion.chunk' });
  if (misbehaviour.kind === 'hugeLine') write('data: ');
  const line = misbehaviour.kind === 'hugeLine' ? 'x'.repeat(64 * 1024) : token(misbehaviour.token ?? 'word ');
  const next = (): void => {
    if (closed) return;
    if (misbehaviour.kind === 'slow') {
      write(line);
      setTimeout(next, misbehaviour.tokenMs ?? 50);
      return;
    }
    // Write until the socket's buffer is full, then wait for it to drain: the client's reading sets the pace.
    while (!closed && write(line));
    if (!closed) response.once('drain', next);
  };
  next();
}
