import { createServer } from 'node:net';

import { Ed25519KeyIdentity } from '@dfinity/identity';

import { DeaiError } from '../../src/sdk/index.ts';
import { deployment, digestOf, modelCard, runnerManifest } from './manifests.ts';
import { heartbeatArgs, okOf } from './registry.ts';
import type { TaskNetwork } from './tasks.ts';

/** The DeaiError `promise` rejects with (fails the test if it resolves or rejects with anything else). */
export async function rejection(promise: Promise<unknown>): Promise<DeaiError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e
  );
  if (!(error instanceof DeaiError)) throw new Error(`expected a DeaiError, got ${String(error)}`);
  return error;
}

/** A URL on which nothing listens: a port taken from the OS and released. */
export async function deadEndpoint(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 1;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** Publishes a card of its own for one test, so runners of other tests never rank for it. */
export async function freshModel(t: TaskNetwork, name: string): Promise<Record<string, unknown>> {
  const card = modelCard({ id: `test/${name}`, digest: digestOf(name) });
  okOf(await (await t.tasks(t.admin)).publish_model_card(JSON.stringify(card)));
  return card;
}

/** A live runner serving `card` at `endpoint`; a lower output price ranks it higher. Returns its principal. */
export async function runnerAt(
  t: TaskNetwork,
  card: Record<string, unknown>,
  endpoint: string,
  outputPerMillion: number,
  identity = Ed25519KeyIdentity.generate()
): Promise<string> {
  const actor = await t.tasks(identity);
  const manifest = runnerManifest(
    identity.getPrincipal().toText(),
    [deployment(card, { price: { inputPerMillion: 100, outputPerMillion } })],
    { endpoint }
  );
  okOf(await actor.register_runner(JSON.stringify(manifest)));
  okOf(await actor.heartbeat(heartbeatArgs()));
  return identity.getPrincipal().toText();
}
