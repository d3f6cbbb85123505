import { Ed25519KeyIdentity } from '@dfinity/identity';
import type { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { BlsVerifyPool } from '../../src/ic/bls-verify.ts';
import { registryInitArgs } from '../../src/interface/registry/index.ts';
import { registryClient } from '../../src/ic/registry.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { agentFor } from '../support/probe.ts';
import { registryWasm } from '../support/registry.ts';

/** The actors' `blsVerify` option (src/ic/registry.ts) is what checks the certificates of update calls on the localnet. */
describe('registry actors check update certificates with the given BLS verifier', () => {
  let net: Localnet;
  let registry: Principal;
  const pool = new BlsVerifyPool({ size: 1 });
  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    registry = await net.installCanister({ wasm: registryWasm(), arg: registryInitArgs({ admins: [] }) });
  });
  afterAll(async () => {
    await pool.close();
    await net.stop();
  });

  it('update replies pass through the worker pool and decode as the in-thread check gives them', async () => {
    const agent = await agentFor(net.url, Ed25519KeyIdentity.generate());
    const pooled = registryClient(agent, registry, { blsVerify: pool.verify });
    const plain = registryClient(agent, registry);
    const before = pool.stats.inWorker + pool.stats.inThread;
    // close_credit_line of a line that does not exist: a certified Err reply, on both actors.
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => pooled.close_credit_line(BigInt(1_000 + i))));
    expect(answers.every((a) => 'Err' in a)).toBe(true);
    expect(answers[0]).toEqual(await plain.close_credit_line(1_000n));
    expect(pool.stats.inWorker + pool.stats.inThread - before).toBeGreaterThanOrEqual(6);
    expect(pool.stats.crashes).toBe(0);
  });

  it('a verifier that refuses the signature makes the call fail: the option is the certificate check, not a bypass', async () => {
    const agent = await agentFor(net.url, Ed25519KeyIdentity.generate());
    const refusing = registryClient(agent, registry, { blsVerify: async () => false });
    await expect(refusing.close_credit_line(1n)).rejects.toThrow(/signature/i);
  });
});
