// Worker thread that computes BLS short signatures (~15 ms each) off the execution thread, so the host can run
// the next execution round while the previous round's certificate is being signed. Plain JavaScript on purpose:
// worker threads do not inherit the TypeScript loader under every runner (tsx, vitest).
import { parentPort, workerData } from 'node:worker_threads';

import { bls12_381 } from '@noble/curves/bls12-381';

const secretKey = workerData.secretKey;
const short = bls12_381.shortSignatures;

parentPort.on('message', ({ id, message }) => {
  try {
    const signature = short.Signature.toBytes(short.sign(short.hash(message), secretKey));
    parentPort.postMessage({ id, signature });
  } catch (error) {
    parentPort.postMessage({ id, error: error instanceof Error ? error.message : String(error) });
  }
});
