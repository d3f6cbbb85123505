import { readFileSync } from 'node:fs';

/**
 * CPU time of whole processes (every thread, user and system), read from Linux's /proc/<pid>/stat, so a benchmark
 * can say what each process of a path spent per request. Undefined where there is no /proc (another OS) or the
 * process is gone.
 */
const TICKS_PER_SECOND = 100; // Linux's USER_HZ on every architecture Node runs on

export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: fields are counted after its closing one.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return Number.isFinite(utime) && Number.isFinite(stime) ? ((utime + stime) * 1000) / TICKS_PER_SECOND : undefined;
  } catch {
    return undefined;
  }
}

/** CPU milliseconds each named process spent while `work` ran (the benchmark's own process through process.cpuUsage). */
export async function cpuDuring<T>(
  pids: Record<string, number | undefined>,
  work: () => Promise<T>
): Promise<{ result: T; cpuMs: Record<string, number> }> {
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, pid === undefined ? undefined : processCpuMs(pid)]));
  const own = process.cpuUsage();
  const result = await work();
  const usage = process.cpuUsage(own);
  const cpuMs: Record<string, number> = { bench: (usage.user + usage.system) / 1000 };
  for (const [name, pid] of Object.entries(pids)) {
    const start = before[name];
    const end = pid === undefined ? undefined : processCpuMs(pid);
    if (start !== undefined && end !== undefined) cpuMs[name] = end - start;
  }
  return { result, cpuMs };
}
