import { requestIdOf, type SignIdentity } from '@dfinity/agent';
import type { Principal } from '@dfinity/principal';

import { decodeCbor, encodeCbor } from '../../src/localnet/crypto/cbor.ts';

/**
 * The benchmarks' load generator: v3 call bodies signed ahead (one Ed25519 signature each), then sent by
 * concurrent senders without verifying certificates — agent-js would spend ~30 ms of client CPU per update on BLS
 * verification, which would measure the client rather than the host.
 */
export async function signedCall(
  identity: SignIdentity,
  canister: Principal,
  method: string,
  arg: Uint8Array,
  expiry: bigint
): Promise<Uint8Array> {
  const content = {
    request_type: 'call',
    canister_id: canister.toUint8Array(),
    method_name: method,
    arg,
    sender: identity.getPrincipal().toUint8Array(),
    ingress_expiry: expiry,
    nonce: crypto.getRandomValues(new Uint8Array(16))
  };
  const signature = await identity.sign(new Uint8Array([...new TextEncoder().encode('\x0Aic-request'), ...requestIdOf(content)]));
  return encodeCbor({ content, sender_pubkey: new Uint8Array(identity.getPublicKey().toDer()), sender_sig: new Uint8Array(signature) });
}

/** Sends every body with `senders` concurrent senders; counts HTTP 200 answers and per-call latency. */
export async function sendCalls(
  url: string,
  canister: Principal,
  bodies: Uint8Array[],
  senders: number
): Promise<{ seconds: number; ok: number; latencies: number[] }> {
  let next = 0;
  let ok = 0;
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: senders }, async () => {
      for (let i = next++; i < bodies.length; i = next++) {
        const t = performance.now();
        const response = await fetch(`${url}/api/v3/canister/${canister.toText()}/call`, {
          method: 'POST',
          headers: { 'content-type': 'application/cbor' },
          body: Buffer.from(bodies[i] ?? new Uint8Array())
        });
        await response.arrayBuffer();
        if (response.status === 200) ok++;
        latencies.push(performance.now() - t);
      }
    })
  );
  return { seconds: (performance.now() - started) / 1000, ok, latencies };
}

/** The network's certified height: how many execution rounds (certificates) have been signed. */
export async function certifiedHeight(url: string): Promise<number> {
  const status = decodeCbor(new Uint8Array(await (await fetch(`${url}/api/v2/status`)).arrayBuffer()));
  return typeof status === 'object' && status !== null && 'certified_height' in status ? Number(status.certified_height) : NaN;
}
