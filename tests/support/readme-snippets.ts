import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { Ed25519KeyIdentity } from '@dfinity/identity';

import { IcCredit } from '../../src/ic/credit.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { startMeteredServer } from '../../src/runner/metered/server.ts';
import { startFakeEngine } from './fake-engine.ts';
import { deployment, digestOf, modelCard, runnerManifest } from './manifests.ts';
import { probeWasm } from './probe.ts';
import { heartbeatArgs, okOf } from './registry.ts';
import type { ReadmeSnippet } from './readme.ts';
import { resultArgs, taskNetwork } from './tasks.ts';

const README_HOST = 'http://127.0.0.1:4943';

/**
 * Runs README's TypeScript snippets as written, as modules beside README (so `./src/…` imports resolve), with
 * the names they leave to the reader (`registryId`, `identity`, `wasm`) supplied and the host pointed at a
 * localnet on a free port. The SDK snippet gets a registry, a ledger, a funded identity and a runner that both
 * claims tasks and answers direct chat calls.
 */
export async function runSnippets(snippets: ReadmeSnippet[], root: string): Promise<void> {
  const net = await Localnet.start({ port: 0, stateDir: null });
  const engine = await startFakeEngine();
  const closers: Array<() => Promise<void>> = [];
  let serving = true;
  try {
    const t = await taskNetwork(net);
    const card = modelCard({ id: 'deai/tiny-random-llama', digest: digestOf('readme-tiny') });
    okOf(await (await t.tasks(t.admin)).publish_model_card(JSON.stringify(card)));
    const runner = Ed25519KeyIdentity.generate();
    const asRunner = await t.tasks(runner);
    // Direct chat is paid: the runner's metered endpoint in front of the engine, credit at the registry canister.
    const metered = await startMeteredServer({
      runner: runner.getPrincipal().toText(),
      engineUrl: engine.url,
      engineModel: String(card.id),
      models: [
        {
          id: String(card.id),
          prices: { inputPerMillion: 1000n, outputPerMillion: 3000n } // deployment()'s
        }
      ],
      credit: new IcCredit(asRunner, { registryId: t.registry, principal: runner.getPrincipal() }),
      receiptsFile: join(root, `.readme-receipts-${process.pid}.json`),
      settleCheckMs: 0
    });
    closers.push(async () => {
      await metered.close();
      rmSync(join(root, `.readme-receipts-${process.pid}.json`), { force: true });
    });
    okOf(
      await asRunner.register_runner(
        JSON.stringify(runnerManifest(runner.getPrincipal().toText(), [deployment(card)], { endpoint: metered.url }))
      )
    );
    okOf(await asRunner.heartbeat(heartbeatArgs()));
    const completed: string[] = [];
    const runnerLoop = (async () => {
      while (serving) {
        const claimed = await asRunner.claim_task([]);
        if ('Ok' in claimed) {
          okOf(await asRunner.complete_task(claimed.Ok.id, resultArgs(`Hi from the runner (${completed.length + 1})`)));
          completed.push(claimed.Ok.id);
        } else {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    })();
    const identity = await t.requester(100_000_000n);
    const inputs = { registryId: t.registry.toText(), identity, wasm: probeWasm() };
    Reflect.set(globalThis, '__readme', inputs);
    for (const [index, snippet] of snippets.entries()) {
      const file = join(root, `.readme-snippet-${process.pid}-${index}.ts`);
      const prelude = 'const { registryId, identity, wasm } = Reflect.get(globalThis, "__readme");\n';
      writeFileSync(file, `${prelude}${snippet.code.replaceAll(README_HOST, net.url)}\nexport {};\n`);
      try {
        await import(/* @vite-ignore */ file);
      } catch (error) {
        throw new Error(`README snippet at line ${snippet.line} failed: ${error instanceof Error ? error.message : String(error)}`, {
          cause: error
        });
      } finally {
        rmSync(file, { force: true });
      }
    }
    // The SDK snippet's task and its chat task both reached the runner; its direct chat reached the engine.
    if (completed.length !== 2) throw new Error(`expected the SDK snippet to run 2 tasks, the runner completed ${completed.length}`);
    if (engine.requests !== 1) throw new Error(`expected one direct chat call to the runner's endpoint, got ${engine.requests}`);
    // …paid: the snippet's `payer.close()` settled it on-chain, to the runner's accrued credit.
    const account = (await asRunner.get_credit_account(runner.getPrincipal()))[0];
    if (account === undefined || account.accrued_e8s <= 0n) throw new Error('expected the direct chat to be settled to the runner');
    const body = engine.lastBody;
    if (typeof body !== 'object' || body === null || !('stream' in body) || body.stream !== true)
      throw new Error('expected the direct chat to stream (onToken)');
    serving = false;
    await runnerLoop;
  } finally {
    serving = false;
    Reflect.deleteProperty(globalThis, '__readme');
    for (const close of closers) await close();
    await engine.close();
    await net.stop();
  }
}
