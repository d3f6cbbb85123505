import { Actor, AnonymousIdentity } from '@dfinity/agent';
import { IDL, lebEncode } from '@dfinity/candid';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { registryClient } from '../../src/ic/registry.ts';
import { registryMethods, ResultArgs, SubmitTaskArgs, TaskInput } from '../../src/interface/registry/index.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { deployment, runnerManifest } from '../support/manifests.ts';
import { agentFor } from '../support/probe.ts';
import { errOf, findRequest, okOf } from '../support/registry.ts';
import { meterInstructions, resultArgs, taskNetwork, totalOf, type TaskNetwork } from '../support/tasks.ts';

/**
 * The attacks of issue 15 on the built registry Wasm, through the agent: oversized and malformed arguments are refused
 * cheaply (instructions measured by the localnet's metering), inspect_message refuses ingress it can judge from the
 * method, the size and the caller, quotas share the global caps, and a task's content is private.
 */
/**
 * What a malformed submit_task may cost: decoding SubmitTaskArgs (canisters/common/candid-decoder.ts) and replying
 * with the typed error; ~2.7M, ~4.7M with a type table the registry has not seen (22.5M with @dfinity/candid's decoder).
 */
const CHEAP = 10_000_000n;
/**
 * An unfunded submit, small or 256 KiB input: checked, the ledger asked (arguments encoded with cached type tables,
 * replies decoded by the same decoder), refused before storing; the input is a view of the message's bytes until the
 * ledger says the requester can pay. ~9M, ~15M with a type table the registry has not seen (33M / 94M with
 * @dfinity/candid's decoder, ~3.0B for a large input when the task and its input were stored, sent to the ledger, and
 * deleted again).
 */
const UNFUNDED = 18_000_000n;
const UNFUNDED_LARGE = 15_000_000n;
/**
 * The worst card publish_model_card still reads: 8 KiB at most (MAX_CARD_BYTES), at most 96 brackets and 128 commas
 * counted natively before it is parsed, and 16 issues reported. 126 unknown fields cost ~11M (110M before: ~0.9M
 * each to report), an 8 KB string field ~14M; 62 KB of unknown keys ~100M before (and 4.3B with apiVersion and kind
 * in front), now refused by inspect_message.
 */
const CARD = 20_000_000n;
/**
 * What a registration may cost while bonds are off (an admin's choice: then anyone registers for free, so every caller
 * is unfunded): a 32 KiB manifest decoded (~400 instructions a byte) and parsed (~120), checked field by field, at most
 * 16 issues reported. ~15M for a valid one-deployment manifest, ~25M for a 31 KB string, ~30M for 112 issues. With
 * bonds on (the default) an unfunded caller is refused before its manifest is read.
 */
const FREE_REGISTRATION = 40_000_000n;
/** The same for a manifest of non-ASCII text, which only the slow path decodes (escape and decodeURIComponent). */
const FREE_NON_ASCII_REGISTRATION = 70_000_000n;
/** A call refused by canister_inspect_message. */
const INSPECT_REFUSAL = 5_000_000n;

const lebEncodeBytes = (n: number): number[] => [...new Uint8Array(lebEncode(n))];

/** A text the client sends as raw bytes (the agent's encoder cannot write invalid UTF-8). */
class RawText extends IDL.TextClass {
  override covariant(x: unknown): x is string {
    return x instanceof Uint8Array;
  }
  override encodeValue(x: unknown): Uint8Array {
    const bytes = x as Uint8Array;
    return new Uint8Array([...new Uint8Array(lebEncode(bytes.length)), ...bytes]);
  }
}

describe('registry bounds', () => {
  let net: Localnet;
  let t: TaskNetwork;
  const spent = new Map<string, bigint>();
  const total = (): bigint => totalOf(spent);

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    t = await taskNetwork(net);
    meterInstructions(net, t.registry, spent);
  });
  afterAll(async () => {
    await net.stop();
  });

  it('inspect_message refuses oversized arguments, anonymous writers and unknown methods, cheaply', async () => {
    const someone = await t.tasks(Ed25519KeyIdentity.generate());
    spent.clear();
    await expect(someone.submit_task(t.submitArgs('huge', { request: findRequest({ model: ['m'.repeat(1_000_000)] }) }))).rejects.toThrow(
      /rejected the message|IC0406/
    );
    expect(spent.get('canister_update submit_task')).toBeUndefined();
    const refusal = spent.get('canister_inspect_message') ?? 0n;
    expect(refusal).toBeGreaterThan(0n);
    expect(refusal).toBeLessThan(INSPECT_REFUSAL);
    console.log(`inspect_message refusal of a 1 MB submit_task: ${refusal} instructions`);

    const anonymous = registryClient(await agentFor(net.url, new AnonymousIdentity()), t.registry);
    spent.clear();
    await expect(anonymous.submit_task(t.submitArgs('anon'))).rejects.toThrow(/rejected the message|IC0406/);
    expect(spent.get('canister_update submit_task')).toBeUndefined();
    await expect(anonymous.publish_model_card('{}')).rejects.toThrow(/rejected the message|IC0406/);
    // Reads stay open to everyone.
    expect(await anonymous.get_task('task-000000000999')).toEqual([]);
    // Admin methods from a non-admin run their first check and answer a typed Unauthorized.
    expect(await someone.process_tasks()).toHaveProperty('Err.Unauthorized');
  }, 120_000);

  it('refuses an unfunded or malformed submit_task cheaply, with typed errors', async () => {
    const unfunded = await t.tasks(Ed25519KeyIdentity.generate());
    const noAllowance = /LedgerError.*InsufficientAllowance/;
    spent.clear();
    expect(JSON.stringify(errOf(await unfunded.submit_task(t.submitArgs('unfunded'))))).toMatch(noAllowance);
    expect(total()).toBeLessThan(UNFUNDED);
    console.log(`unfunded submit_task: ${total()} instructions`);
    spent.clear();
    const large = { inline: ['x'.repeat(256 * 1024 - 64)] as [string], digest: [] as [], reference: [] as [] };
    expect(JSON.stringify(errOf(await unfunded.submit_task(t.submitArgs('unfunded-large', { input: large }))))).toMatch(noAllowance);
    expect(total()).toBeLessThan(UNFUNDED_LARGE);
    console.log(`unfunded submit_task, 256 KiB input: ${total()} instructions`);
    spent.clear();
    expect(
      errOf(await unfunded.submit_task(t.submitArgs('bad-model', { request: findRequest({ model: ['not a model id'] }) })))
    ).toHaveProperty('InvalidArgument.field', 'request.model');
    expect(total()).toBeLessThan(CHEAP);
    console.log(`malformed submit_task (bad model id): ${total()} instructions`);
    spent.clear();
    expect(
      errOf(
        await unfunded.submit_task(
          t.submitArgs('region', { request: findRequest({ model: [String(t.card.id)], region: ['r'.repeat(200)] }) })
        )
      )
    ).toHaveProperty('InvalidArgument.field', 'request.region');
    expect(total()).toBeLessThan(CHEAP);
  }, 120_000);

  it('answers InvalidArgument to an inline input that is not UTF-8, after the funding check, storing and moving nothing', async () => {
    // A client that sends raw bytes as the input's text (the agent's encoder cannot write invalid UTF-8).
    const fields = (type: IDL.Type) => Object.fromEntries((type as IDL.RecordClass)._fields);
    const RawArgs = IDL.Record({ ...fields(SubmitTaskArgs), input: IDL.Record({ ...fields(TaskInput), inline: IDL.Opt(new RawText()) }) });
    const requester = await t.requester(10_000_000n, 5_000_000n);
    const raw = Actor.createActor<{ submit_task(args: unknown): Promise<unknown> }>(
      () => IDL.Service({ submit_task: IDL.Func([RawArgs], [registryMethods.submit_task.ret ?? IDL.Null], []) }),
      { agent: await agentFor(net.url, requester), canisterId: t.registry }
    );
    const before = await t.balance(requester);
    const args = { ...t.submitArgs('not-utf8'), input: { inline: [Uint8Array.from([0x48, 0x69, 0xff, 0xfe])], digest: [], reference: [] } };
    expect(errOf((await raw.submit_task(args)) as { Ok: unknown } | { Err: unknown })).toEqual({
      InvalidArgument: { field: 'input.inline', reason: 'not valid UTF-8' }
    });
    expect(await t.balance(requester)).toBe(before);
    // The same bytes as UTF-8 text go through.
    const ok = { ...args, input: { ...args.input, inline: [new TextEncoder().encode('Hi, valid')] } };
    expect(okOf((await raw.submit_task(ok)) as { Ok: { state: string } } | { Err: unknown }).state).toBe('queued');
  }, 120_000);

  it("refuses a stranger's 250 KiB complete_task before decoding the output, and a leaseholder's output that is not UTF-8", async () => {
    const stranger = await t.tasks(Ed25519KeyIdentity.generate());
    const requester = await t.tasks(await t.requester(10_000_000n, 5_000_000n));
    const task = okOf(await requester.submit_task(t.submitArgs('complete-bounds')));
    const big = 'x'.repeat(250 * 1024);
    spent.clear();
    expect(errOf(await stranger.complete_task(task.id, resultArgs(big)))).toHaveProperty('NotFound.kind.Runner', null);
    expect(total()).toBeLessThan(CHEAP);
    console.log(`complete_task of a stranger, 250 KiB output: ${total()} instructions`);
    // A registered runner without a lease on the task: refused as cheaply.
    const other = await t.tasks(await t.runner());
    spent.clear();
    expect(errOf(await other.complete_task(task.id, resultArgs(big)))).toHaveProperty('Unauthorized');
    expect(total()).toBeLessThan(CHEAP);
    // The leaseholder sends bytes that are not UTF-8 (a client the agent's encoder is not): InvalidArgument, not a trap.
    const RawResult = IDL.Record({
      ...Object.fromEntries((ResultArgs as unknown as IDL.RecordClass)._fields),
      output: IDL.Opt(new RawText())
    });
    const runner = await t.runner();
    const asRunner = await t.tasks(runner);
    okOf(await asRunner.claim_task([task.id]));
    const raw = Actor.createActor<{ complete_task(id: string, r: unknown): Promise<unknown> }>(
      () => IDL.Service({ complete_task: IDL.Func([IDL.Text, RawResult], [registryMethods.complete_task.ret ?? IDL.Null], []) }),
      { agent: await agentFor(net.url, runner), canisterId: t.registry }
    );
    const invalid = { ...resultArgs('Hi'), output: [Uint8Array.from([0x48, 0x69, 0xff, 0xfe])] };
    expect(errOf((await raw.complete_task(task.id, invalid)) as { Ok: unknown } | { Err: unknown })).toEqual({
      InvalidArgument: { field: 'output', reason: 'not valid UTF-8' }
    });
    // Large valid UTF-8 output from the leaseholder goes through (its lease checked first, then decoded).
    const large = 'é'.repeat(3000);
    const done = await raw.complete_task(task.id, { ...resultArgs(large), output: [new TextEncoder().encode(large)] });
    expect(okOf(done as { Ok: { output_digest: string } } | { Err: unknown }).output_digest).toBe(resultArgs(large).output_digest);
  }, 120_000);

  it('refuses a few hundred bytes whose extra argument is a DAG of zero-sized records, cheaply (review 3, R3-D1)', async () => {
    // get_task's text, then one value of record 0 of a `levels`-deep DAG of two-field records that take no bytes:
    // 2^(levels-1) nodes to skip for 6 bytes a level. The decoder stops at its allowance of visits.
    const getTaskWithDag = (levels: number): Uint8Array => {
      const table: number[] = [];
      for (let i = 0; i < levels - 1; i++) table.push(0x6c, 2, 0, i + 1, 1, i + 1);
      table.push(0x6c, 1, 0, 0x7f);
      return Uint8Array.from([0x44, 0x49, 0x44, 0x4c, levels, ...table, 2, 0x71, 0, 1, 0x61]);
    };
    const agent = await agentFor(net.url);
    const cost = async (arg: Uint8Array): Promise<bigint> => {
      spent.clear();
      await agent.query(t.registry, { methodName: 'get_task', arg }).catch(() => undefined);
      return total();
    };
    const small = await cost(getTaskWithDag(4));
    const deep = await cost(getTaskWithDag(40));
    console.log(`get_task with a zero-sized DAG: 4 levels ${small}, 40 levels ${deep} instructions`);
    // Zero-sized records are skipped without a walk, and a text argument allows 130 visits (table entries and fields
    // included) before the trap: ~5.7M, where the unbounded decoder spent 2.2B on 16 levels and ran out past ~20.
    expect(deep).toBeLessThan(CHEAP);
    // A type table as large as the message: 1,000 one-field records (4 KB) stop at the allowance; 100,000 (400 KB, no
    // inspect_message for a query) at the method's argument bound, before decoding. It ran to the 5B query limit.
    const table = (entries: number): Uint8Array =>
      Uint8Array.from([
        0x44,
        0x49,
        0x44,
        0x4c,
        ...lebEncodeBytes(entries),
        ...Array.from({ length: entries }, () => [0x6c, 1, 0, 0x7f]).flat(),
        1,
        0x71,
        1,
        0x61
      ]);
    for (const entries of [1_000, 100_000]) {
      const instructions = await cost(table(entries));
      console.log(`get_task with a ${entries}-entry type table: ${instructions} instructions`);
      expect(instructions).toBeLessThan(CHEAP);
    }
  }, 120_000);

  it('checks who may manage a runner before reading a 30 KB update_runner manifest', async () => {
    const runner = await t.runner();
    const stranger = await t.tasks(Ed25519KeyIdentity.generate());
    const manifest = JSON.stringify({ a: 'y'.repeat(30_000) });
    spent.clear();
    expect(errOf(await stranger.update_runner(runner.getPrincipal(), manifest))).toHaveProperty('Unauthorized');
    expect(total()).toBeLessThan(CHEAP);
    console.log(`update_runner of a stranger, 30 KB manifest: ${total()} instructions`);
    spent.clear();
    expect(errOf(await stranger.update_runner(Ed25519KeyIdentity.generate().getPrincipal(), manifest))).toHaveProperty(
      'NotFound.kind.Runner',
      null
    );
    expect(total()).toBeLessThan(CHEAP);
    // The runner itself still has its manifest read: a bad one is InvalidManifest, bytes that are not UTF-8 too.
    const own = await t.tasks(runner);
    expect(errOf(await own.update_runner(runner.getPrincipal(), manifest))).toHaveProperty('InvalidManifest');
    const raw = Actor.createActor<{ update_runner(p: unknown, m: unknown): Promise<unknown> }>(
      () => IDL.Service({ update_runner: IDL.Func([IDL.Principal, new RawText()], [registryMethods.update_runner.ret ?? IDL.Null], []) }),
      { agent: await agentFor(net.url, runner), canisterId: t.registry }
    );
    expect(
      errOf((await raw.update_runner(runner.getPrincipal(), Uint8Array.from([0x7b, 0xff, 0x7d]))) as { Ok: unknown } | { Err: unknown })
    ).toEqual({
      InvalidManifest: { issues: [{ path: '', message: 'not valid UTF-8' }] }
    });
  }, 120_000);

  it('bounds what a free registration costs while bonds are off: structure counted on the bytes, long strings cut short', async () => {
    const op = Ed25519KeyIdentity.generate().getPrincipal().toText();
    const cost = async (manifest: string): Promise<[unknown, bigint]> => {
      const someone = await t.tasks(Ed25519KeyIdentity.generate());
      spent.clear();
      const result = await someone.register_runner(manifest);
      return ['Err' in result ? result.Err : result.Ok, total()];
    };
    const valid = JSON.stringify(runnerManifest(op, [deployment(t.card)]));
    const refusals: Array<[string, string, unknown, bigint]> = [
      // Counted on the bytes before they are decoded: nesting, fields and entries.
      ['5,000 levels', '{"a":'.repeat(5_000), { LimitExceeded: { what: 'manifest brackets ([ and {)', limit: 256n } }, CHEAP],
      [
        '1,100 unknown fields',
        JSON.stringify(runnerManifest(op, [deployment(t.card)], Object.fromEntries(Array.from({ length: 1_100 }, (_, i) => [`k${i}`, i])))),
        { LimitExceeded: { what: 'manifest commas (fields and list entries)', limit: 1024n } },
        CHEAP
      ],
      [
        '100 deployments',
        JSON.stringify(
          runnerManifest(
            op,
            Array.from({ length: 100 }, () => deployment(t.card))
          )
        ),
        { LimitExceeded: { what: 'manifest brackets ([ and {)', limit: 256n } },
        CHEAP
      ],
      // A 31 KB string in a 32-character field: its length ends its checks, no pattern runs over it (~50M before).
      [
        '31 KB region',
        JSON.stringify(runnerManifest(op, [deployment(t.card)], { region: 'y'.repeat(31_000) })),
        { InvalidManifest: { issues: [{ path: 'region', message: 'expected at most 32 characters, got 31000' }] } },
        FREE_REGISTRATION
      ],
      [
        '32 KB of non-ASCII text',
        JSON.stringify(runnerManifest(op, [deployment(t.card)], { region: 'é'.repeat(15_700) })),
        { InvalidManifest: { issues: [{ path: 'region', message: 'expected at most 32 characters, got 15700' }] } },
        FREE_NON_ASCII_REGISTRATION
      ],
      // 16 deployments with every field of the wrong type: 112 issues, 16 of them finalized and reported.
      [
        '112 issues',
        JSON.stringify(
          runnerManifest(
            op,
            Array.from({ length: 16 }, () => Object.fromEntries(Object.keys(deployment(t.card)).map((k) => [k, true])))
          )
        ),
        { InvalidManifest: { issues: expect.arrayContaining([{ path: '', message: 'and 96 more issues not listed' }]) as unknown } },
        FREE_REGISTRATION
      ]
    ];
    for (const [what, manifest, error, limit] of refusals) {
      const [answer, instructions] = await cost(manifest);
      console.log(`register_runner, bonds off, ${what} (${new TextEncoder().encode(manifest).length} bytes): ${instructions} instructions`);
      expect(answer, what).toEqual(error);
      expect(instructions, what).toBeLessThan(limit);
    }
    const [registered, instructions] = await cost(valid);
    console.log(`register_runner, bonds off, a valid one-deployment manifest: ${instructions} instructions`);
    expect(registered).toHaveProperty('id');
    expect(instructions).toBeLessThan(FREE_REGISTRATION);
  }, 120_000);

  it('reads at most a small card: 62 KB of unknown keys refused by inspect_message, the worst card within the bounds cheaply', async () => {
    const publisher = await t.tasks(Ed25519KeyIdentity.generate());
    const header = { apiVersion: 'deai.dev/v1', kind: 'ModelCard' };
    const unknownKeys = JSON.stringify(Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`k${i}`, i])));
    spent.clear();
    await expect(publisher.publish_model_card(unknownKeys)).rejects.toThrow(/rejected the message|IC0406/);
    expect(spent.get('canister_update publish_model_card')).toBeUndefined();
    expect(total()).toBeLessThan(INSPECT_REFUSAL);

    // As many unknown fields as the commas allow: 16 issues reported, the rest counted.
    const fields = JSON.stringify({ ...header, ...Object.fromEntries(Array.from({ length: 126 }, (_, i) => [i.toString(36), 0])) });
    spent.clear();
    const issues = (errOf(await publisher.publish_model_card(fields)) as { InvalidManifest: { issues: Array<{ message: string }> } })
      .InvalidManifest.issues;
    expect(issues).toHaveLength(17);
    expect(issues[16]?.message).toMatch(/^and \d+ more issues not listed$/);
    expect(total()).toBeLessThan(CARD);
    console.log(`publish_model_card with 126 unknown fields: ${total()} instructions`);
    spent.clear();
    const long = JSON.stringify({ ...header, x: 'a'.repeat(8_000) });
    expect(errOf(await publisher.publish_model_card(long))).toHaveProperty('InvalidManifest');
    expect(total()).toBeLessThan(CARD);
    console.log(`publish_model_card with an 8 KB string: ${total()} instructions`);

    // Each bound answers its own LimitExceeded (inspect_message lets through up to 1 KiB more than a card's bytes).
    expect(errOf(await publisher.publish_model_card(JSON.stringify({ ...header, x: 'a'.repeat(8_200) })))).toEqual({
      LimitExceeded: { what: 'model card bytes', limit: 8_192n }
    });
    expect(errOf(await publisher.publish_model_card(JSON.stringify({ ...header, x: Array.from({ length: 128 }, () => 0) })))).toEqual({
      LimitExceeded: { what: 'model card commas (fields and list entries)', limit: 128n }
    });
    expect(errOf(await publisher.publish_model_card(JSON.stringify({ ...header, x: '{'.repeat(96) })))).toEqual({
      LimitExceeded: { what: 'model card brackets ([ and {)', limit: 96n }
    });
  }, 120_000);

  it('gives each operator its share of runners, counting the runners it accepted: the 51st acceptance is refused', async () => {
    const operatorId = Ed25519KeyIdentity.generate();
    const operator = operatorId.getPrincipal().toText();
    const asOperator = await t.tasks(operatorId);
    const register = async (op: string) => {
      const identity = Ed25519KeyIdentity.generate();
      okOf(await (await t.tasks(identity)).register_runner(JSON.stringify(runnerManifest(op, [deployment(t.card)]))));
      return identity.getPrincipal();
    };
    // Naming an operator spends none of its quota (anyone may name anyone): only its acceptance does.
    const runners = [];
    for (let i = 0; i < 51; i++) runners.push(await register(operator));
    for (const runner of runners.slice(0, 50)) okOf(await asOperator.accept_operator(runner));
    const last = runners[50];
    if (last === undefined) throw new Error('51 runners were registered');
    expect(errOf(await asOperator.accept_operator(last))).toEqual({ LimitExceeded: { what: 'runners per operator (quota)', limit: 50n } });
    const admin = await t.tasks(t.admin);
    expect(await admin.get_quotas()).toEqual({ runners_per_operator: 50, open_tasks_per_requester: 500, cards_per_publisher: 200 });
    okOf(await admin.set_quotas({ runners_per_operator: [51], open_tasks_per_requester: [], cards_per_publisher: [] }));
    expect(okOf(await asOperator.accept_operator(last)).operator_accepted).toEqual([true]);
  }, 300_000);

  it('shows a task’s input and output to the requester, its runner and admins only', async () => {
    const asker = await t.requester(100_000_000n, 50_000_000n);
    const asRequester = await t.tasks(asker);
    const runner = await t.runner();
    const asRunner = await t.tasks(runner);
    const submitted = okOf(
      await asRequester.submit_task(t.submitArgs('private', { input: { inline: ['my secret prompt'], digest: [], reference: [] } }))
    );
    okOf(await asRunner.claim_task([submitted.id]));
    okOf(await asRunner.complete_task(submitted.id, resultArgs('my secret answer')));

    for (const who of [asker, runner, t.admin]) {
      const seen = (await (await t.tasks(who)).get_task(submitted.id))[0];
      expect(seen?.input.inline).toEqual(['my secret prompt']);
      expect(seen?.results[0]?.output).toEqual(['my secret answer']);
    }
    const anonymous = registryClient(await agentFor(net.url, new AnonymousIdentity()), t.registry);
    for (const actor of [anonymous, await t.tasks(Ed25519KeyIdentity.generate())]) {
      const seen = (await actor.get_task(submitted.id))[0];
      expect(seen?.state).toBe('review');
      expect(seen?.input).toEqual({ inline: [], digest: [], reference: [] });
      expect(seen?.results[0]?.output).toEqual([]);
      // The digest is sealed until the task settles (README "Task privacy").
      expect(seen?.results[0]?.output_digest).toBe('');
      const page = okOf(await actor.list_tasks({ requester: [], runner: [], state: [] }, { after: [], limit: [] }));
      expect(JSON.stringify(page, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))).not.toMatch(/secret/);
    }
  }, 120_000);
});
