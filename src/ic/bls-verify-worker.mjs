// Worker thread that checks BLS certificate signatures with @dfinity/agent's own `blsVerify` (pure-JS
// @noble/curves, tens of ms each), so the agent's certificate checks stop blocking the event loop of the gateway,
// the runner and the payers (src/ic/bls-verify.ts). Plain JavaScript on purpose: worker threads do not inherit the
// TypeScript loader under every runner (tsx, vitest).
import { parentPort } from 'node:worker_threads';

import { blsVerify } from '@dfinity/agent';

parentPort.on('message', ({ id, pk, sig, msg }) => {
  try {
    parentPort.postMessage({ id, valid: blsVerify(pk, sig, msg) === true });
  } catch (error) {
    parentPort.postMessage({ id, error: error instanceof Error ? error.message : String(error) });
  }
});
// The agent is loaded: jobs sent from now on are checked at once (until then the pool checks in-thread).
parentPort.postMessage({ ready: true });
