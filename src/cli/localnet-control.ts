import { resolve } from 'node:path';

import { readRecordedIds } from '../ic/recorded-ids.js';
import { isProcessAlive } from '../localnet/persistence/dir-lock.js';
import { tryReadServerInfo, type ServerInfo } from '../localnet/persistence/server-info.js';
import { CliError } from './errors.js';

/** `deai localnet status` exits with this when no network runs (like `systemctl status`), so scripts can tell. */
export const NOT_RUNNING_EXIT_CODE = 3;

export interface Report {
  human: string;
  json: Record<string, unknown>;
}

export interface LocalnetStatus extends Report {
  running: boolean;
}

const STATUS_TIMEOUT_MS = 2_000;

/** Whether the network owning `stateDir` runs and answers `/api/v2/status`, with its URL and the deployed ids. */
export async function localnetStatus(stateDir: string, projectDir = process.cwd()): Promise<LocalnetStatus> {
  const dir = resolve(stateDir);
  const read = tryReadServerInfo(dir);
  const notRunning = (why: string, extra: Record<string, unknown> = {}): LocalnetStatus => ({
    running: false,
    human: `Not running: ${why}\nStart it with \`deai localnet start --state-dir ${stateDir}\` (or \`npm start\`).`,
    json: { running: false, stateDir: dir, reason: why, ...extra }
  });
  if (read.kind === 'absent') return notRunning(`no network has ${dir} open`);
  if (read.kind === 'invalid') return notRunning(`${read.file} is unreadable (${read.reason})`);
  if (read.kind === 'stale')
    return notRunning(`the network last started there (pid ${read.info.pid}) is gone without stopping cleanly`, { lastUrl: read.info.url });
  const { info } = read;
  const answered = await answersStatus(info.url);
  if (!answered.ok)
    return notRunning(`pid ${info.pid} owns ${dir} but ${info.url} does not answer (${answered.reason})`, { pid: info.pid, url: info.url });
  const canisters = readRecordedIds(projectDir);
  const uptimeS = Math.max(0, Math.round((Date.now() - info.startedAtMs) / 1000));
  return {
    running: true,
    human: [
      `Running at ${info.url} (pid ${info.pid}, up ${formatDuration(uptimeS)})`,
      `State: ${dir}`,
      `Root key: ${info.rootKey}`,
      ...(Object.keys(canisters).length === 0
        ? ['No canisters recorded in .dfx here (`deai deploy`).']
        : Object.entries(canisters).map(([name, id]) => `  ${name.padEnd(12)} ${id}`))
    ].join('\n'),
    json: {
      running: true,
      url: info.url,
      port: info.port,
      pid: info.pid,
      uptimeSeconds: uptimeS,
      rootKey: info.rootKey,
      stateDir: dir,
      canisters
    }
  };
}

/**
 * Sends SIGTERM to the network owning `stateDir` (it checkpoints its state and exits) and waits for the process to
 * end. Stopping a network that does not run is not an error.
 */
export async function stopLocalnet(stateDir: string, timeoutMs: number, progress: (message: string) => void): Promise<Report> {
  const dir = resolve(stateDir);
  const read = tryReadServerInfo(dir);
  if (read.kind !== 'live') {
    return { human: `No local network runs on ${dir}; nothing to stop.`, json: { stopped: false, wasRunning: false, stateDir: dir } };
  }
  const { info } = read;
  progress(`Stopping the local network at ${info.url} (pid ${info.pid}) …`);
  try {
    process.kill(info.pid, 'SIGTERM');
  } catch (error) {
    throw new CliError('StopFailed', `cannot signal pid ${info.pid}: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error
    });
  }
  const startedMs = Date.now();
  while (isProcessAlive(info.pid)) {
    if (Date.now() - startedMs > timeoutMs) {
      throw new CliError(
        'StopTimeout',
        `pid ${info.pid} still runs ${Math.round(timeoutMs / 1000)} s after SIGTERM; wait longer (--timeout) or kill it (state is kept up to its last round)`
      );
    }
    await new Promise((resolveWait) => setTimeout(resolveWait, 100));
  }
  return stoppedReport(info, dir, Date.now() - startedMs);
}

function stoppedReport(info: ServerInfo, dir: string, tookMs: number): Report {
  return {
    human: `Stopped the local network at ${info.url} (pid ${info.pid}) in ${(tookMs / 1000).toFixed(1)} s; its state is kept in ${dir}.`,
    json: { stopped: true, wasRunning: true, pid: info.pid, url: info.url, stateDir: dir, tookMs }
  };
}

async function answersStatus(url: string): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    const response = await fetch(new URL('/api/v2/status', url), { signal: AbortSignal.timeout(STATUS_TIMEOUT_MS) });
    await response.arrayBuffer();
    return response.ok ? { ok: true } : { ok: false, reason: `HTTP ${response.status}` };
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  }
}

function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}
