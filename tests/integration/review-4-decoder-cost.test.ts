import { lebEncode } from '@dfinity/candid';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Localnet } from '../../src/localnet/localnet.ts';
import { agentFor } from '../support/probe.ts';
import { meterInstructions, taskNetwork, totalOf, type TaskNetwork } from '../support/tasks.ts';

/**
 * Adversarial review 4 (built Wasm): 32080b7 counts type-table entries and record/variant fields as decoder visits,
 * but func and service entries (canisters/common/candid-decoder.ts readEntry, Op.Func / Op.Service) loop over their
 * argument lists and methods without a visit. A message whose table is one service entry with thousands of methods
 * is parsed in full before the argument's type mismatch is found. Failed on main at 4c9905a; passes since the fix.
 */
const MAGIC = [0x44, 0x49, 0x44, 0x4c];
const leb = (n: number): number[] => [...new Uint8Array(lebEncode(n))];

/** A table of one service entry of `methods` methods (empty names, typed text), then one text argument "a". */
const serviceTable = (methods: number): Uint8Array =>
  Uint8Array.from([...MAGIC, 1, 0x69, ...leb(methods), ...Array.from({ length: methods }, () => [0, 0x71]).flat(), 1, 0x71, 1, 0x61]);
/** The same with `entries` one-field records (each entry and field counts as a visit). */
const recordTable = (entries: number): Uint8Array =>
  Uint8Array.from([...MAGIC, ...leb(entries), ...Array.from({ length: entries }, () => [0x6c, 1, 0, 0x7f]).flat(), 1, 0x71, 1, 0x61]);

describe('review 4: decoder cost of func/service type-table entries on the built registry', () => {
  let net: Localnet;
  let t: TaskNetwork;
  const spent = new Map<string, bigint>();
  const total = (): bigint => totalOf(spent);

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    t = await taskNetwork(net);
    meterInstructions(net, t.registry, spent);
  }, 120_000);
  afterAll(async () => {
    await net.stop();
  });

  it('R4-D1-wasm an anonymous get_task whose 4 KB table is one service entry costs no more than a record table', async () => {
    const agent = await agentFor(net.url);
    const cost = async (arg: Uint8Array): Promise<bigint> => {
      spent.clear();
      await agent.query(t.registry, { methodName: 'get_task', arg }).catch(() => undefined);
      return total();
    };
    const records = await cost(recordTable(1_000));
    const service = await cost(serviceTable(2_000));
    console.log(`get_task, 4 KB table: 1,000 records ${records}, one service of 2,000 methods ${service} instructions`);
    expect(service).toBeLessThan(10_000_000n);
  }, 120_000);

  it('R4-D1c-wasm an anonymous find_runners (64 KiB bound, a query) whose table is one service entry costs less than 10M', async () => {
    const agent = await agentFor(net.url);
    spent.clear();
    await agent.query(t.registry, { methodName: 'find_runners', arg: serviceTable(32_000) }).catch(() => undefined);
    const service = total();
    console.log(`find_runners, 64 KB table of one service of 32,000 methods: ${service} instructions`);
    expect(service).toBeLessThan(10_000_000n);
  }, 120_000);

  it('R4-D2-wasm an anonymous find_runners whose 64 KB table is one-field records (all counted) costs less than 10M', async () => {
    const agent = await agentFor(net.url);
    spent.clear();
    await agent.query(t.registry, { methodName: 'find_runners', arg: recordTable(16_000) }).catch(() => undefined);
    const records = total();
    console.log(`find_runners, 64 KB table of 16,000 one-field records: ${records} instructions`);
    // The per-size allowance (512 + bytes / 8 visits) lets ~4,600 visits of ~40K instructions each in.
    expect(records).toBeLessThan(10_000_000n);
  }, 120_000);

  it('R4-D1b-wasm a submit_task (any identity) whose 320 KB table is one service entry costs less than 15M', async () => {
    const agent = await agentFor(net.url, Ed25519KeyIdentity.generate());
    const cost = async (arg: Uint8Array): Promise<bigint> => {
      spent.clear();
      const { requestId } = await agent.call(t.registry, { methodName: 'submit_task', arg, effectiveCanisterId: t.registry });
      expect(requestId).toBeDefined();
      for (let i = 0; i < 200 && spent.get('canister_update submit_task') === undefined; i++) await new Promise((r) => setTimeout(r, 50));
      return total();
    };
    const records = await cost(recordTable(80_000));
    const service = await cost(serviceTable(160_000));
    console.log(`submit_task, 320 KB table: 80,000 records ${records}, one service of 160,000 methods ${service} instructions`);
    // An unfunded honest submit_task with a 256 KiB input costs under 15M (registry-bounds.test.ts UNFUNDED_LARGE).
    expect(records).toBeLessThan(15_000_000n);
    expect(service).toBeLessThan(15_000_000n);
  }, 120_000);
});
