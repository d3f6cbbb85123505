/**
 * Runs a cached llama-server as a child process bound to 127.0.0.1 and resolves once `/health` answers 200
 * (the model is loaded). The caller owns the process and must `stop()` it.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createServer } from 'node:net';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';

import { ensureLlamaServer, LlamaToolchainError, lineSplitter } from './toolchain.ts';

/**
 * llama-server exited, or did not become healthy in time, before serving. `logTail` holds its last lines. An exit whose
 * log says the port could not be bound gets its own code, LLAMA_SERVER_PORT_IN_USE, so a caller can pick another port.
 */
export class LlamaServerStartError extends LlamaToolchainError<
  'LLAMA_SERVER_EXITED' | 'LLAMA_SERVER_PORT_IN_USE' | 'LLAMA_SERVER_START_TIMEOUT',
  { logTail: string }
> {
  constructor(
    code: 'LLAMA_SERVER_EXITED' | 'LLAMA_SERVER_PORT_IN_USE' | 'LLAMA_SERVER_START_TIMEOUT',
    detail: string,
    readonly logTail: string,
    options?: { cause?: unknown }
  ) {
    super(code, `llama-server ${detail}; last output:\n${logTail}`, {
      ...options,
      // A timeout may be a busy machine and a taken port may be freed; an early exit (bad model, bad flag) repeats.
      retryable: code !== 'LLAMA_SERVER_EXITED',
      details: { logTail }
    });
  }
}

// llama-server reports a failed bind only in its log (it exits 1 like any other start failure).
/** llama-server's own words when its port is taken (not its "binding port …" trace line, printed on every start). */
const PORT_IN_USE_LOG = /couldn't bind|address already in use/i;

export interface StartLlamaServerOptions {
  modelPath: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Model id in /v1/models; default the model file name without `.gguf`. */
  alias?: string;
  /** Parallel sequences (`-np`); default 1. */
  slots?: number;
  /** Total context in tokens, shared by the slots (`-c`); default the model's training context. */
  ctx?: number;
  /**
   * Threads (`-t`); default 1. On a shared 2-core box `-t 2` can stall generation in thread barriers whenever
   * another process takes a core (6-200 tok/s instead of ~3,000); `-t 1` degrades gracefully.
   */
  threads?: number;
  extraArgs?: string[];
  /** Default: the cached build of ensureLlamaServer(). */
  serverPath?: string;
  cacheDir?: string;
  startTimeoutMs?: number;
  /** Each line llama-server logs (it logs to stderr). */
  onLog?: (line: string) => void;
  fetch?: typeof fetch;
}

export interface LlamaServer {
  url: string;
  port: number;
  pid: number;
  /** SIGTERM, then waits for the exit (SIGKILL after 10 s). Idempotent. */
  stop(): Promise<void>;
  process: ChildProcessByStdio<null, Readable, Readable>;
  /** The last lines the server logged. */
  logTail(): string;
}

const LOG_TAIL_LINES = 30;

export async function startLlamaServer(options: StartLlamaServerOptions): Promise<LlamaServer> {
  const serverPath = options.serverPath ?? (await ensureLlamaServer({ cacheDir: options.cacheDir })).serverPath;
  // A port picked here may be taken by someone else before llama-server binds it; pick again then.
  const attempts = options.port === undefined || options.port === 0 ? 3 : 1;
  for (let attempt = 1; ; attempt += 1) {
    const port = options.port || (await findFreePort());
    try {
      return await startOnce(serverPath, port, options);
    } catch (error) {
      if (!LlamaServerStartError.hasCode(error, 'LLAMA_SERVER_PORT_IN_USE') || attempt >= attempts) throw error;
    }
  }
}

async function startOnce(serverPath: string, port: number, options: StartLlamaServerOptions): Promise<LlamaServer> {
  const alias = options.alias ?? basename(options.modelPath).replace(/\.gguf$/, '');
  const args = ['-m', options.modelPath, '--host', '127.0.0.1', '--port', String(port), '--metrics', '--no-webui', '-a', alias];
  args.push('-np', String(options.slots ?? 1), '-t', String(options.threads ?? 1));
  if (options.ctx !== undefined) args.push('-c', String(options.ctx));
  args.push(...(options.extraArgs ?? []));

  const child = spawn(serverPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const recent: string[] = [];
  const onData = lineSplitter((line) => {
    recent.push(line);
    if (recent.length > LOG_TAIL_LINES) recent.shift();
    options.onLog?.(line);
  });
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const logTail = () => recent.join('\n');
  // 'exit' can come before the pipes have delivered the last lines (the reason it died): the log is read after 'close'.
  const outputClosed = new Promise<void>((resolve) => child.once('close', () => resolve()));

  let exitDetail: string | null = null;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitDetail = `exited (code ${String(code)}, signal ${String(signal)})`;
      resolve();
    });
    child.once('error', (error) => {
      exitDetail = `could not be started (${error.message})`;
      resolve();
    });
  });
  // Never leave an orphaned server behind when this process ends without calling stop().
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      process.removeListener('exit', killOnExit);
      if (exitDetail !== null) return;
      child.kill('SIGTERM');
      const patience = new AbortController();
      delay(10_000, undefined, { signal: patience.signal }).then(
        () => child.kill('SIGKILL'),
        () => undefined
      );
      await exited;
      patience.abort();
    })();
    return stopping;
  };

  const url = `http://127.0.0.1:${port}`;
  const fetchFn = options.fetch ?? fetch;
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  const deadlineMs = Date.now() + timeoutMs;
  for (;;) {
    if (exitDetail !== null) {
      await stop();
      await Promise.race([outputClosed, new Promise((resolve) => setTimeout(resolve, 2_000))]);
      const code = PORT_IN_USE_LOG.test(logTail()) ? 'LLAMA_SERVER_PORT_IN_USE' : 'LLAMA_SERVER_EXITED';
      throw new LlamaServerStartError(code, `${exitDetail} before serving on ${url}`, logTail());
    }
    // 503 while the model loads; connection refused before the socket is bound.
    const status = await fetchFn(`${url}/health`, { signal: AbortSignal.timeout(2_000) }).then(
      async (response) => {
        await response.body?.cancel();
        return response.status;
      },
      () => null
    );
    if (status === 200) break;
    if (Date.now() > deadlineMs) {
      await stop();
      throw new LlamaServerStartError(
        'LLAMA_SERVER_START_TIMEOUT',
        `did not answer /health with 200 within ${timeoutMs} ms on ${url}`,
        logTail()
      );
    }
    await Promise.race([delay(50), exited]);
  }
  if (child.pid === undefined) throw new LlamaServerStartError('LLAMA_SERVER_EXITED', 'has no pid', logTail());
  return { url, port, pid: child.pid, stop, process: child, logTail };
}

function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port found'))));
    });
  });
}
