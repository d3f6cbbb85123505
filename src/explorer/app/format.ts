/** Amounts stay bigint end to end; only the last step turns them into text. */
export function tokens(e8s: bigint, decimals = 8, symbol = ''): string {
  const negative = e8s < 0n;
  const abs = negative ? -e8s : e8s;
  const unit = 10n ** BigInt(decimals);
  const whole = abs / unit;
  const fraction = (abs % unit).toString().padStart(decimals, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole.toString()}${fraction === '' ? '' : `.${fraction}`}${symbol === '' ? '' : ` ${symbol}`}`;
}

/** A duration in nanoseconds, coarsely: "4 s", "3 min", "2 h", "5 d". */
export function duration(ns: bigint): string {
  const s = (ns < 0n ? -ns : ns) / 1_000_000_000n;
  if (s < 120n) return `${s} s`;
  if (s < 7_200n) return `${s / 60n} min`;
  if (s < 172_800n) return `${s / 3_600n} h`;
  return `${s / 86_400n} d`;
}

export const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n;

export function ago(atNs: bigint, now = nowNs()): string {
  return atNs > now ? `in ${duration(atNs - now)}` : `${duration(now - atNs)} ago`;
}

export const isoTime = (atNs: bigint): string =>
  new Date(Number(atNs / 1_000_000n))
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');

/** `abcde-…-xyz` for narrow columns; the full text stays in the title. */
export function short(principal: string): string {
  return principal.length <= 17 ? principal : `${principal.slice(0, 11)}…${principal.slice(-5)}`;
}

export const percent = (fraction: number): string => `${Math.round(fraction * 100)}%`;
