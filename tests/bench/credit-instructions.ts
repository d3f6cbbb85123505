/**
 * Registry instructions per settled request on the paid direct path (issue 17: at most 2M, amortized): one payer with
 * lines toward `runners` runners settles one batch of `items` cumulative items (each carrying REQUESTS_PER_ITEM
 * requests) with settle_usage, and one runner settles alone with an Ed25519-signed receipt; the in-process localnet's
 * execution events give each message's instructions.
 */
import { Ed25519KeyIdentity } from '@dfinity/identity';

import { receiptSigningBytes } from '../../src/core/credit/index.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { account, approveArgs } from '../support/ledger.ts';
import { okOf } from '../support/registry.ts';
import { taskNetwork } from '../support/tasks.ts';
import { row } from './report.ts';

const REQUESTS_PER_ITEM = 16n;
const M = (n: bigint): string => `${(Number(n) / 1e6).toFixed(1)}M`;

export async function creditRows(runners: number, items: number): Promise<void> {
  const localnet = await Localnet.start({ port: 0, stateDir: null });
  try {
    const t = await taskNetwork(localnet);
    const registry = t.registry.toText();
    let last = 0n;
    localnet.onExecution((e) => {
      if (e.canisterId === registry && e.entry.includes('settle_')) last = e.instructions;
    });
    const identities = await Promise.all(Array.from({ length: runners }, () => t.runner()));
    const payer = Ed25519KeyIdentity.generate();
    await t.fund(payer, 2_000_000_000n);
    okOf(await (await t.token(payer)).icrc2_approve(approveArgs(account(t.registry), 1_500_000_000n)));
    const actor = await t.tasks(payer);
    okOf(await actor.deposit_credit({ amount_e8s: 1_000_000_000n, created_at_time: [] }));
    const lines: bigint[] = [];
    for (const runner of identities) lines.push(okOf(await actor.reserve_credit(runner.getPrincipal(), 50_000_000n)).id);
    const batch = Array.from({ length: items }, (_, i) => {
      const seq = BigInt(Math.floor(i / runners) + 1);
      return {
        line_id: lines[i % runners]!,
        seq,
        owed_e8s: seq * 1_000n,
        input_tokens: seq,
        output_tokens: seq,
        requests: seq * REQUESTS_PER_ITEM
      };
    });
    okOf(await actor.settle_usage(batch));
    const perItem = last / BigInt(items);
    row(
      `registry instructions per settled request (settle_usage, ${items} items over ${runners} lines, ${REQUESTS_PER_ITEM} requests per item)`,
      `${M(perItem / REQUESTS_PER_ITEM)}; ${M(perItem)} per item`,
      '≤ 2M'
    );
    const runner = identities[0]!;
    const seq = BigInt(items) + 1n;
    const receipt = {
      lineId: lines[0]!,
      payer: payer.getPrincipal().toText(),
      runner: runner.getPrincipal().toText(),
      seq,
      owedE8s: seq * 1_000n,
      inputTokens: seq,
      outputTokens: seq,
      requests: seq * REQUESTS_PER_ITEM
    };
    okOf(
      await (
        await t.tasks(runner)
      ).settle_receipt({
        receipt: {
          line_id: receipt.lineId,
          payer: payer.getPrincipal(),
          runner: runner.getPrincipal(),
          seq,
          owed_e8s: receipt.owedE8s,
          input_tokens: seq,
          output_tokens: seq,
          requests: receipt.requests
        },
        public_key: new Uint8Array(payer.getPublicKey().toDer()),
        signature: new Uint8Array(await payer.sign(receiptSigningBytes(receipt)))
      })
    );
    row('settle_receipt by the runner alone (Ed25519 signature verified in the canister)', `${M(last)} instructions`);
  } finally {
    await localnet.stop();
  }
}
