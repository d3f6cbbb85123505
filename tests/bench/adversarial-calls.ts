/**
 * Rows of `npm run bench:adversarial` (tests/bench/adversarial.bench.ts) for the calls an attacker makes for free
 * (issue 15): what the registry spends on a call inspect_message refuses, on an unfunded or malformed submit_task and
 * on a publish_model_card full of unknown keys. Instructions are the localnet's metered counts of every message the
 * call caused in the registry (inspect_message, the method, its reply callbacks), summed.
 */
import { Ed25519KeyIdentity } from '@dfinity/identity';

import { findRequest } from '../support/registry.ts';
import type { TaskInput } from '../../src/interface/registry/index.ts';
import type { TaskNetwork } from '../support/tasks.ts';
import { row } from './report.ts';

const M = (n: bigint): string => `${(Number(n) / 1e6).toFixed(1)}M instructions`;

export async function attackRows(t: TaskNetwork, spent: Map<string, bigint>): Promise<void> {
  const total = (): bigint => [...spent.values()].reduce((a, b) => a + b, 0n);
  const measure = async (call: () => Promise<unknown>): Promise<bigint> => {
    spent.clear();
    await call().catch(() => undefined);
    return total();
  };
  const stranger = await t.tasks(Ed25519KeyIdentity.generate());
  const input = (bytes: number): TaskInput => ({ inline: ['x'.repeat(bytes)], digest: [], reference: [] });
  row('Calls an attacker makes for free (issue 15)', '');
  const refused = await measure(() =>
    stranger.submit_task(t.submitArgs('huge', { request: findRequest({ model: ['m'.repeat(1_000_000)] }) }))
  );
  row('  submit_task with a 1 MB field, refused by inspect_message', M(refused), '< 5M');
  row('  unfunded submit_task (no allowance), small input', M(await measure(() => stranger.submit_task(t.submitArgs('unfunded')))), '~10M');
  row(
    '  unfunded submit_task, 256 KiB input',
    M(await measure(() => stranger.submit_task(t.submitArgs('unfunded-large', { input: input(256 * 1024 - 64) })))),
    '~10M'
  );
  row(
    '  malformed submit_task (bad model id)',
    M(await measure(() => stranger.submit_task(t.submitArgs('malformed', { request: findRequest({ model: ['not a model id'] }) })))),
    '~10M'
  );
  const unknownKeys = JSON.stringify(Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`k${i}`, i])));
  row(
    `  publish_model_card with ${(unknownKeys.length / 1000).toFixed(0)} KB of unknown keys, refused by inspect_message`,
    M(await measure(() => stranger.publish_model_card(unknownKeys))),
    '< 5M'
  );
  // The worst cards the registry still reads (MAX_CARD_BYTES, MAX_CARD_SEPARATORS): as many unknown fields as the
  // commas allow, and one 8 KB string.
  const header = { apiVersion: 'deai.dev/v1', kind: 'ModelCard' };
  const fields = JSON.stringify({ ...header, ...Object.fromEntries(Array.from({ length: 126 }, (_, i) => [i.toString(36), 0])) });
  row('  publish_model_card with 126 unknown fields', M(await measure(() => stranger.publish_model_card(fields))), '~10M');
  const long = JSON.stringify({ ...header, x: 'a'.repeat(8_000) });
  row('  publish_model_card with an 8 KB string', M(await measure(() => stranger.publish_model_card(long))), '~10M');
}
