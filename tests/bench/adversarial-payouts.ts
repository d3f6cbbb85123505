/**
 * Rows of `npm run bench:adversarial` (tests/bench/adversarial.bench.ts) for payouts (issue 15): how long a good payout
 * waits behind 1,000 failing ones, through src/core/rewards exactly as the registry's payout timer drives it
 * (startPayoutRun: due index, unpayable ones stuck without a call, attempts begun; then each call's verdict).
 */
import { principalToText } from '../../src/core/principal-text.ts';
import { makeConfig, memoryStore } from '../../src/core/registry/index.ts';
import { addPayout, duePayouts, getPayout, recordVerdict, startPayoutRun } from '../../src/core/rewards/index.ts';
import { memoryTaskStore, type Stores } from '../../src/core/tasks/index.ts';
import { row } from './report.ts';

const SECOND = 1_000_000_000n;
const RUN_SECONDS = 5n;
const REGISTRY = principalToText(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 1, 1, 1));

type Failing = 'unpayable' | 'already failed' | 'flood';

/** Payout runs (and core time) until a good payout queued behind `failing` failing payouts is paid. */
function payoutDelay(failing: number, kind: Failing): { runs: number; ms: number } {
  const config = makeConfig({ admins: [] });
  if ('Err' in config) throw new Error('config');
  const s: Stores = { ...memoryStore(config.Ok), ...memoryTaskStore() };
  const good = principalToText(Uint8Array.of(0x0f, 0x01));
  // Unpayable: an operator with a wrong checksum, stored before registration checked it (it can never be encoded).
  const owner = kind === 'unpayable' ? 'aaaaa-ab' : good;
  let now = 1_000_000n * SECOND;
  for (let i = 0; i < failing; i++)
    addPayout(s, now - SECOND, i, 'runner', `bad-${String(i).padStart(5, '0')}`, { owner }, 1_000_000n, 'bad');
  const run = (): void => {
    for (const { payout } of startPayoutRun(s, now, { registryId: REGISTRY }).calls)
      recordVerdict(s, payout.id, payout.id.startsWith('bad') ? { kind: 'retry', error: 'refused' } : { kind: 'paid', block: 1n }, now);
    now += RUN_SECONDS * SECOND;
  };
  if (kind === 'already failed') while (duePayouts(s, now, 1).some((p) => p.attempts === 0)) run();
  addPayout(s, now, 0, 'runner', 'good', { owner: good }, 1_000_000n, 'good');
  const started = performance.now();
  let runs = 0;
  while (getPayout(s, 'good') !== undefined && runs < 10_000) {
    run();
    runs++;
  }
  return { runs, ms: performance.now() - started };
}

export function payoutRows(): void {
  row('Payouts (issue 15): a good payout behind 1,000 failing ones', '');
  const unpayable = payoutDelay(1000, 'unpayable');
  row(
    '  good payout behind 1,000 failing ones (unpayable: stuck without a call)',
    `${unpayable.runs === 1 ? 'paid in next run' : `NOT paid in next run: run ${unpayable.runs}`} (${unpayable.ms.toFixed(1)} ms core)`,
    'next run'
  );
  const failed = payoutDelay(1000, 'already failed');
  row(
    '  behind 1,000 that already failed (backed off)',
    `paid in pass ${failed.runs} (next run: ${failed.runs === 1 ? 'yes' : 'no'}, ${failed.ms.toFixed(1)} ms core)`,
    'next run'
  );
  const fresh = payoutDelay(1000, 'flood');
  row(
    '  behind 1,000 never attempted whose calls will fail (a flood, FIFO, 64 calls per run)',
    `paid in run ${fresh.runs} (≤ ${fresh.runs * Number(RUN_SECONDS)} s at one run per 5 s)`,
    'bounded'
  );
}
