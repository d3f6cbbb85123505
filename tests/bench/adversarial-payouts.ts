/**
 * Rows of `npm run bench:adversarial` (tests/bench/adversarial.bench.ts) for payouts (issue 15): how long a good payout waits behind 1,000 failing ones, through the payout schedule of
 * src/core/rewards exactly as the registry's maintenance pass drives it (due index, begin attempt, verdict).
 */
import { principalToText } from '../../src/core/principal-text.ts';
import { makeConfig, memoryStore } from '../../src/core/registry/index.ts';
import { addPayout, beginAttempt, duePayouts, getPayout, planTransfer, recordVerdict } from '../../src/core/rewards/index.ts';
import { memoryTaskStore, type Stores } from '../../src/core/tasks/index.ts';
import { row } from './report.ts';

const SECOND = 1_000_000_000n;
const PASS_SECONDS = 5n;
const PER_PASS = 64;

/** Passes (and core time) until a good payout queued behind `failing` failing payouts is paid. */
function payoutDelay(failing: number, alreadyFailed: boolean): { passes: number; ms: number } {
  const config = makeConfig({ admins: [] });
  if ('Err' in config) throw new Error('config');
  const s: Stores = { ...memoryStore(config.Ok), ...memoryTaskStore() };
  const owner = principalToText(Uint8Array.of(0x0f, 0x01));
  let now = 1_000_000n * SECOND;
  for (let i = 0; i < failing; i++)
    addPayout(s, now - SECOND, i, 'runner', `bad-${String(i).padStart(5, '0')}`, { owner }, 1_000_000n, 'bad');
  const runPass = (): void => {
    for (const p of duePayouts(s, now, PER_PASS)) {
      const plan = planTransfer(p, 10_000n);
      if (plan.kind === 'stuck') recordVerdict(s, p.id, plan);
      else if (beginAttempt(s, p.id, now))
        recordVerdict(s, p.id, p.id.startsWith('bad') ? { kind: 'retry', error: 'refused' } : { kind: 'paid', block: 1n }, now);
    }
    now += PASS_SECONDS * SECOND;
  };
  if (alreadyFailed) while (duePayouts(s, now, 1).some((p) => p.attempts === 0)) runPass();
  addPayout(s, now, 0, 'runner', 'good', { owner }, 1_000_000n, 'good');
  const started = performance.now();
  let passes = 0;
  while (getPayout(s, 'good') !== undefined && passes < 10_000) {
    runPass();
    passes++;
  }
  return { passes, ms: performance.now() - started };
}

export function payoutRows(): void {
  row('Payouts (issue 15): a good payout behind 1,000 failing ones', '');
  const failed = payoutDelay(1000, true);
  row('  behind 1,000 that already failed (backed off)', `paid in pass ${failed.passes} (${failed.ms.toFixed(1)} ms core)`, 'next pass');
  const fresh = payoutDelay(1000, false);
  row(
    '  behind 1,000 never attempted (a flood, FIFO)',
    `paid in pass ${fresh.passes} (≤ ${fresh.passes * Number(PASS_SECONDS)} s at one pass per 5 s)`,
    'bounded'
  );
}
