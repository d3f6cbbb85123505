import { Worker } from 'node:worker_threads';

import { certificateMessage } from './certificate.js';

interface Pending {
  resolve: (signature: Uint8Array) => void;
  reject: (error: Error) => void;
}

/**
 * Signs root hashes on a worker thread (BLS short signatures, the same bytes as `signRootHash`), so certificate
 * signing overlaps with Wasm execution instead of stalling it.
 */
export class AsyncSigner {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;

  constructor(rootSecretKey: Uint8Array) {
    this.worker = new Worker(new URL('./bls-sign-worker.mjs', import.meta.url), { workerData: { secretKey: rootSecretKey } });
    this.worker.unref();
    this.worker.on('message', (message: { id: number; signature?: Uint8Array; error?: string }) => {
      const pending = this.pending.get(message.id);
      if (pending === undefined) return;
      this.pending.delete(message.id);
      if (message.signature !== undefined) pending.resolve(new Uint8Array(message.signature));
      else pending.reject(new Error(`BLS signing failed: ${message.error ?? 'unknown error'}`));
    });
    this.worker.on('error', (error) => {
      for (const pending of this.pending.values()) pending.reject(error);
      this.pending.clear();
    });
  }

  sign(rootHash: Uint8Array): Promise<Uint8Array> {
    const id = this.nextId++;
    return new Promise<Uint8Array>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) this.worker.ref();
      this.worker.postMessage({ id, message: certificateMessage(rootHash) });
    }).finally(() => {
      if (this.pending.size === 0) this.worker.unref();
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
