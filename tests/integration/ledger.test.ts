import {
  AnonymousIdentity,
  Cbor,
  Certificate,
  LookupPathStatus,
  lookup_path,
  lookupResultToBuffer,
  reconstruct,
  type HashTree,
  type HttpAgent,
  type Identity
} from '@dfinity/agent';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import { IcrcLedgerCanister, IcrcTransferError } from '@dfinity/ledger-icrc';
import { Principal } from '@dfinity/principal';
import { bytesToHex } from '@noble/hashes/utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Account, InitArgs } from '../../src/interface/ledger/index.ts';
import { hashValue, leb128, PERMITTED_DRIFT_NS, TX_WINDOW_NS } from '../../src/core/ledger/index.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import {
  account,
  approveArgs,
  coreValue,
  errOf,
  FEE,
  ledgerActor,
  ledgerInit,
  ledgerUpgrade,
  ledgerWasm,
  okIndex,
  transferArgs,
  transferFromArgs,
  type LedgerActor,
  type Value
} from '../support/ledger.ts';
import { agentFor } from '../support/probe.ts';

const E8 = 100_000_000n;
const SECOND_NS = 1_000_000_000n;
const U64_MAX = 2n ** 64n - 1n;
/** GenericError codes are part of the ledger's contract (src/core/ledger/limits.ts), so they are spelled out here. */
const CODE = { anonymousCaller: 1n, badSubaccount: 2n, memoTooLong: 3n, mintingAccountMisuse: 4n, selfApproval: 5n } as const;
const generic = (code: bigint) => ({ GenericError: { error_code: code, message: expect.any(String) } });
const subaccount = (fill: number): Uint8Array => new Uint8Array(32).fill(fill);
const ZERO_SUBACCOUNT = new Uint8Array(32);
const hex = (bytes: Uint8Array | number[]): string => bytesToHex(Uint8Array.from(bytes));
const identity = (): Ed25519KeyIdentity => Ed25519KeyIdentity.generate();
const acct = (who: Identity, sub?: Uint8Array): Account => account(who.getPrincipal(), sub);

/** A field of an ICRC-3 `Map` value. */
function field(value: Value | undefined, key: string): Value | undefined {
  return value !== undefined && 'Map' in value ? value.Map.find(([k]) => k === key)?.[1] : undefined;
}
const natOf = (value: Value | undefined): bigint | undefined => (value !== undefined && 'Nat' in value ? value.Nat : undefined);
const textOf = (value: Value | undefined): string | undefined => (value !== undefined && 'Text' in value ? value.Text : undefined);

/** An ICRC-3 account value `[owner, subaccount?]` as the account it names (32 zero bytes ≡ no subaccount). */
function accountOfValue(value: Value | undefined): Account {
  if (value === undefined || !('Array' in value)) throw new Error('not an account value');
  const [owner, sub] = value.Array;
  if (owner === undefined || !('Blob' in owner)) throw new Error('account value without an owner blob');
  const subBytes = sub !== undefined && 'Blob' in sub ? Uint8Array.from(sub.Blob) : undefined;
  return account(
    Principal.fromUint8Array(Uint8Array.from(owner.Blob)),
    subBytes === undefined || subBytes.every((b) => b === 0) ? undefined : subBytes
  );
}
const accountKey = (a: Account): string => `${a.owner.toText()}.${a.subaccount[0] === undefined ? '' : hex(a.subaccount[0])}`;

function uleb128(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const [i, byte] of bytes.entries()) value |= BigInt(byte & 0x7f) << BigInt(7 * i);
  return value;
}

describe('ledger canister (ICRC-1/2/3/10, built Wasm on the localnet)', () => {
  let net: Localnet;
  let wasm: Uint8Array;
  const agents = new Map<string, HttpAgent>();
  const agentOf = async (who: Identity): Promise<HttpAgent> => {
    const key = who.getPrincipal().toText();
    let agent = agents.get(key);
    if (agent === undefined) {
      agent = await agentFor(net.url, who);
      agents.set(key, agent);
    }
    return agent;
  };
  const ledger = async (who: Identity, canisterId: Principal) => ledgerActor(await agentOf(who), canisterId);
  const icrc = async (who: Identity, canisterId: Principal) => IcrcLedgerCanister.create({ agent: await agentOf(who), canisterId });
  const deploy = (minter: Identity, overrides: Partial<InitArgs> = {}): Promise<Principal> =>
    net.installCanister({ wasm, arg: ledgerInit(minter.getPrincipal(), overrides) });
  /** Ledger time (the localnet's canister clock), so created_at_time stays right after `advanceTime`. */
  const nowNs = (): bigint => net.engine.now();
  const anonymous = new AnonymousIdentity();

  /** Every block, fetched page by page as a client must (a response may hold fewer blocks than asked). */
  async function allBlocks(actor: LedgerActor): Promise<{ logLength: bigint; blocks: Value[] }> {
    const blocks: Value[] = [];
    for (;;) {
      const page = await actor.icrc3_get_blocks([{ start: BigInt(blocks.length), length: 1_000n }]);
      page.blocks.forEach(({ id }, i) => expect(id).toBe(BigInt(blocks.length + i)));
      blocks.push(...page.blocks.map(({ block }) => block));
      if (page.blocks.length === 0 || BigInt(blocks.length) >= page.log_length) return { logLength: page.log_length, blocks };
    }
  }

  /** Checks that each block's `phash` is the ICRC-3 hash of its parent; returns the hash of the last block. */
  function checkChain(blocks: Value[]): Uint8Array {
    let parent: Uint8Array | undefined;
    for (const [i, block] of blocks.entries()) {
      const phash = field(block, 'phash');
      if (parent === undefined) expect(phash, `block ${i} has no parent`).toBeUndefined();
      else expect(phash !== undefined && 'Blob' in phash ? hex(phash.Blob) : undefined, `phash of block ${i}`).toBe(hex(parent));
      parent = hashValue(coreValue(block));
    }
    if (parent === undefined) throw new Error('empty block log');
    return parent;
  }

  /** Verifies the tip certificate against the root key and returns the certified tip, or undefined when there is none. */
  async function tryGetCertifiedTip(
    who: Identity,
    canisterId: Principal
  ): Promise<{ index: bigint; indexLeb128: string; hash: string } | undefined> {
    const [tip] = await (await ledger(who, canisterId)).icrc3_get_tip_certificate();
    if (tip === undefined) return undefined;
    const { rootKey } = await agentOf(who);
    if (rootKey === null) throw new Error('the agent has no root key');
    const certificate = await Certificate.create({ certificate: Uint8Array.from(tip.certificate), rootKey, canisterId });
    const certified = certificate.lookup_path(['canister', canisterId.toUint8Array(), 'certified_data']);
    if (certified.status !== LookupPathStatus.Found) throw new Error(`certified_data lookup: ${certified.status}`);
    const tree = Cbor.decode<HashTree>(Uint8Array.from(tip.hash_tree));
    expect(hex(certified.value)).toBe(hex(await reconstruct(tree)));
    const index = lookupResultToBuffer(lookup_path(['last_block_index'], tree));
    const hash = lookupResultToBuffer(lookup_path(['last_block_hash'], tree));
    if (index === undefined || hash === undefined) throw new Error('tip tree without last_block_index or last_block_hash');
    return { index: uleb128(index), indexLeb128: hex(index), hash: hex(hash) };
  }
  async function getCertifiedTip(who: Identity, canisterId: Principal): Promise<{ index: bigint; indexLeb128: string; hash: string }> {
    const tip = await tryGetCertifiedTip(who, canisterId);
    if (tip === undefined) throw new Error('no tip certificate');
    return tip;
  }

  beforeAll(async () => {
    wasm = ledgerWasm();
    net = await Localnet.start({ port: 0, stateDir: null });
  });
  afterAll(async () => {
    await net.stop();
  });

  describe('through @dfinity/ledger-icrc', () => {
    it('serves metadata equal to the endpoints, without duplicate keys, plus fee, supply, minting account and standards', async () => {
      const [minter, alice] = [identity(), identity()];
      const logo = 'data:image/svg+xml;base64,PHN2Zy8+';
      // An operator entry under a standard key must not shadow or duplicate the derived one.
      const id = await deploy(minter, {
        initial_balances: [[acct(alice), 50n * E8]],
        metadata: [
          ['icrc1:logo', { Text: logo }],
          ['icrc1:name', { Text: 'Shadow' }]
        ]
      });
      const client = await icrc(alice, id);
      const actor = await ledger(alice, id);

      const metadata = await client.metadata({ certified: false });
      const keys = metadata.map(([key]) => key);
      expect(new Set(keys).size).toBe(keys.length);
      const entry = (key: string) => metadata.find(([k]) => k === key)?.[1];
      expect(entry('icrc1:name')).toEqual({ Text: await actor.icrc1_name() });
      expect(entry('icrc1:symbol')).toEqual({ Text: await actor.icrc1_symbol() });
      expect(entry('icrc1:decimals')).toEqual({ Nat: BigInt(await actor.icrc1_decimals()) });
      expect(entry('icrc1:fee')).toEqual({ Nat: await actor.icrc1_fee() });
      expect(entry('icrc1:max_memo_length')).toEqual({ Nat: 32n });
      expect(entry('icrc1:logo')).toEqual({ Text: logo });
      expect([await actor.icrc1_name(), await actor.icrc1_symbol(), await actor.icrc1_decimals()]).toEqual(['Test Token', 'TST', 8]);
      expect(await actor.icrc1_metadata()).toEqual(metadata);

      expect(await client.transactionFee({ certified: false })).toBe(FEE);
      expect(await client.transactionFee({ certified: true })).toBe(FEE); // an update call with a certified reply
      expect(await client.totalTokensSupply({ certified: false })).toBe(50n * E8);
      // 4.1.2 returns the raw `[] | [Account]`, although its type says Nullable<Account>.
      const minting: unknown = await client.getMintingAccount({ certified: false });
      expect(minting).toEqual([{ owner: minter.getPrincipal(), subaccount: [] }]);

      const standards = await client.icrc1SupportedStandards({ certified: false });
      expect(standards.map((s) => s.name)).toEqual(expect.arrayContaining(['ICRC-1', 'ICRC-2', 'ICRC-3', 'ICRC-10']));
      expect((await actor.icrc10_supported_standards()).map((s) => s.name)).toEqual(
        expect.arrayContaining(['ICRC-1', 'ICRC-2', 'ICRC-3', 'ICRC-10'])
      );
      const blockTypes = await actor.icrc3_supported_block_types();
      expect(blockTypes.map((t) => t.block_type)).toEqual(expect.arrayContaining(['1burn', '1mint', '1xfer', '2approve', '2xfer']));
      for (const t of blockTypes) expect(t.url).toMatch(/^https:\/\//);
      expect(await actor.icrc3_get_archives({ from: [] })).toEqual([]);
    });

    it('transfers: the sender pays amount + fee, the receiver gets amount, null and zero subaccounts are one account', async () => {
      const [minter, alice, bob] = [identity(), identity(), identity()];
      const id = await deploy(minter, { initial_balances: [[acct(alice), 10n * E8]] });
      const client = await icrc(alice, id);
      const balance = (owner: Principal, sub?: Uint8Array) => client.balance({ owner, subaccount: sub, certified: false });
      const [a, b] = [alice.getPrincipal(), bob.getPrincipal()];

      expect(await client.transfer({ to: { owner: b, subaccount: [] }, amount: 3n * E8 })).toBe(1n); // block 0 is the initial mint
      expect(await balance(a)).toBe(7n * E8 - FEE);
      expect(await balance(b)).toBe(3n * E8);
      expect(await balance(b, ZERO_SUBACCOUNT)).toBe(3n * E8);

      await client.transfer({ to: { owner: b, subaccount: [ZERO_SUBACCOUNT] }, amount: 1n });
      expect(await balance(b)).toBe(3n * E8 + 1n);
      await client.transfer({ to: { owner: b, subaccount: [subaccount(7)] }, amount: 5n, memo: Uint8Array.of(1, 2, 3) });
      expect(await balance(b, subaccount(7))).toBe(5n);
      expect(await balance(b)).toBe(3n * E8 + 1n);
      expect(await client.balance({ owner: a, certified: true })).toBe(7n * E8 - 6n - 3n * FEE);
      expect(await client.totalTokensSupply({ certified: false })).toBe(10n * E8 - 3n * FEE); // fees are burned

      const failed = client.transfer({ to: { owner: b, subaccount: [] }, amount: 100n * E8 });
      await expect(failed).rejects.toBeInstanceOf(IcrcTransferError);
      await expect(failed).rejects.toMatchObject({ errorType: { InsufficientFunds: { balance: 7n * E8 - 6n - 3n * FEE } } });
      await expect(client.transfer({ to: { owner: b, subaccount: [] }, amount: 1n, fee: FEE + 1n })).rejects.toMatchObject({
        errorType: { BadFee: { expected_fee: FEE } }
      });
    });

    it('approves with an expiry, reports the allowance, and spends it with transfer_from', async () => {
      const [minter, alice, carol, dave] = [identity(), identity(), identity(), identity()];
      const id = await deploy(minter, { initial_balances: [[acct(alice), 10n * E8]] });
      const owner = await icrc(alice, id);
      const spender = await icrc(carol, id);
      const expiresAt = nowNs() + 3600n * SECOND_NS;

      expect(await owner.approve({ spender: acct(carol), amount: 2n * E8, expires_at: expiresAt })).toBe(1n);
      expect(await owner.allowance({ account: acct(alice), spender: acct(carol), certified: false })).toEqual({
        allowance: 2n * E8,
        expires_at: [expiresAt]
      });
      // Each spender subaccount has its own allowance.
      expect(await owner.allowance({ account: acct(alice), spender: acct(carol, subaccount(1)), certified: false })).toEqual({
        allowance: 0n,
        expires_at: []
      });
      expect(await owner.balance({ owner: alice.getPrincipal(), certified: false })).toBe(10n * E8 - FEE);

      expect(await spender.transferFrom({ from: acct(alice), to: acct(dave), amount: 1n * E8 })).toBe(2n);
      expect(await owner.allowance({ account: acct(alice), spender: acct(carol), certified: true })).toEqual({
        allowance: 1n * E8 - FEE,
        expires_at: [expiresAt]
      });
      expect(await owner.balance({ owner: alice.getPrincipal(), certified: false })).toBe(9n * E8 - 2n * FEE);
      expect(await owner.balance({ owner: dave.getPrincipal(), certified: false })).toBe(1n * E8);
      expect(await owner.balance({ owner: carol.getPrincipal(), certified: false })).toBe(0n);
      await expect(spender.transferFrom({ from: acct(alice), to: acct(dave), amount: 1n * E8 })).rejects.toMatchObject({
        errorType: { InsufficientAllowance: { allowance: 1n * E8 - FEE } }
      });

      const { log_length, blocks } = await owner.getBlocks({ args: [{ start: 0n, length: 10n }], certified: false });
      expect(log_length).toBe(3n);
      const ops = blocks.map(({ block }) => textOf(field(field(coreValue(block), 'tx'), 'op')));
      expect(ops).toEqual(['mint', 'approve', 'xfer']);
      const xfer = coreValue(blocks[2]?.block ?? { Map: [] });
      expect(accountKey(accountOfValue(field(field(xfer, 'tx'), 'spender')))).toBe(accountKey(acct(carol)));
      expect(natOf(field(xfer, 'fee'))).toBe(FEE); // charged, not stated by the caller
    });
  });

  describe('every Err variant, through the agent actor', () => {
    it('icrc1_transfer: BadFee, BadBurn, InsufficientFunds, TooOld, CreatedInFuture, Duplicate and GenericError 1-4', async () => {
      const [minter, alice, bob] = [identity(), identity(), identity()];
      const id = await deploy(minter, { initial_balances: [[acct(alice), 10n * E8]] });
      const actor = await ledger(alice, id);
      const to = acct(bob);
      const logLength = async () => (await actor.icrc3_get_blocks([{ start: 0n, length: 0n }])).log_length;
      const blocksBefore = await logLength();

      expect(errOf(await actor.icrc1_transfer(transferArgs(to, 1n, { fee: [FEE + 1n] })))).toEqual({ BadFee: { expected_fee: FEE } });
      expect(errOf(await actor.icrc1_transfer(transferArgs(to, 1n, { fee: [0n] })))).toEqual({ BadFee: { expected_fee: FEE } });
      expect(errOf(await actor.icrc1_transfer(transferArgs(acct(minter), 1n)))).toEqual({ BadBurn: { min_burn_amount: FEE } });
      expect(errOf(await actor.icrc1_transfer(transferArgs(acct(minter), 0n)))).toEqual({ BadBurn: { min_burn_amount: FEE } });
      expect(errOf(await actor.icrc1_transfer(transferArgs(acct(minter), FEE, { fee: [FEE] })))).toEqual({ BadFee: { expected_fee: 0n } });
      expect(errOf(await actor.icrc1_transfer(transferArgs(to, 10n * E8)))).toEqual({ InsufficientFunds: { balance: 10n * E8 } }); // amount + fee > balance
      expect(
        errOf(
          await actor.icrc1_transfer(transferArgs(to, 1n, { created_at_time: [nowNs() - TX_WINDOW_NS - PERMITTED_DRIFT_NS - SECOND_NS] }))
        )
      ).toEqual({ TooOld: null });
      const before = nowNs();
      const future = errOf(await actor.icrc1_transfer(transferArgs(to, 1n, { created_at_time: [U64_MAX] })));
      const ledgerTime = (future as { CreatedInFuture?: { ledger_time: bigint } }).CreatedInFuture?.ledger_time ?? 0n;
      expect(future).toEqual({ CreatedInFuture: { ledger_time: ledgerTime } });
      expect(ledgerTime >= before && ledgerTime <= nowNs()).toBe(true);
      expect(
        errOf(await actor.icrc1_transfer(transferArgs(to, 1n, { created_at_time: [nowNs() + PERMITTED_DRIFT_NS + 30n * SECOND_NS] })))
      ).toHaveProperty('CreatedInFuture');

      expect(errOf(await (await ledger(anonymous, id)).icrc1_transfer(transferArgs(to, 1n)))).toEqual(generic(CODE.anonymousCaller));
      expect(errOf(await actor.icrc1_transfer(transferArgs(to, 1n, { from_subaccount: [new Uint8Array(5)] })))).toEqual(
        generic(CODE.badSubaccount)
      );
      expect(errOf(await actor.icrc1_transfer(transferArgs(acct(bob, new Uint8Array(31)), 1n)))).toEqual(generic(CODE.badSubaccount));
      expect(errOf(await actor.icrc1_transfer(transferArgs(to, 1n, { memo: [new Uint8Array(33)] })))).toEqual(generic(CODE.memoTooLong));
      const minting = await ledger(minter, id);
      expect(errOf(await minting.icrc1_transfer(transferArgs(acct(minter), 1n)))).toEqual(generic(CODE.mintingAccountMisuse));
      expect(errOf(await minting.icrc1_transfer(transferArgs(acct(minter, ZERO_SUBACCOUNT), 1n)))).toEqual(
        generic(CODE.mintingAccountMisuse)
      );
      // No rejected call appended a block or moved a token.
      expect(await logLength()).toBe(blocksBefore);
      expect(await actor.icrc1_balance_of(acct(alice))).toBe(10n * E8);

      // Within the window (24 h back, 60 s ahead) a created_at_time is accepted.
      okIndex(await actor.icrc1_transfer(transferArgs(to, 1n, { created_at_time: [nowNs() - TX_WINDOW_NS + 60n * SECOND_NS] })));
      okIndex(await actor.icrc1_transfer(transferArgs(to, 1n, { created_at_time: [nowNs() + PERMITTED_DRIFT_NS - 10n * SECOND_NS] })));
    });

    it('icrc1_transfer deduplicates only identical transactions that carry created_at_time', async () => {
      const [minter, alice, bob] = [identity(), identity(), identity()];
      const id = await deploy(minter, {
        initial_balances: [
          [acct(alice), 10n * E8],
          [acct(bob), E8]
        ]
      });
      const actor = await ledger(alice, id);
      const at = nowNs();
      const args = transferArgs(acct(bob), 1_000n, { created_at_time: [at] });

      const first = okIndex(await actor.icrc1_transfer(args));
      const balance = await actor.icrc1_balance_of(acct(alice));
      expect(errOf(await actor.icrc1_transfer(args))).toEqual({ Duplicate: { duplicate_of: first } });
      expect(await actor.icrc1_balance_of(acct(alice))).toBe(balance);

      const withFee = okIndex(await actor.icrc1_transfer({ ...args, fee: [FEE] }));
      expect(errOf(await actor.icrc1_transfer({ ...args, fee: [FEE] }))).toEqual({ Duplicate: { duplicate_of: withFee } });
      const withMemo = okIndex(await actor.icrc1_transfer({ ...args, memo: [Uint8Array.of(1)] }));
      const zeroSub = okIndex(await actor.icrc1_transfer({ ...args, to: acct(bob, ZERO_SUBACCOUNT) }));
      expect(errOf(await actor.icrc1_transfer({ ...args, to: acct(bob, ZERO_SUBACCOUNT) }))).toEqual({
        Duplicate: { duplicate_of: zeroSub }
      });
      expect(new Set([first, withFee, withMemo, zeroSub]).size).toBe(4);
      // The same caller from another subaccount is another transaction; so is another caller.
      okIndex(await (await ledger(bob, id)).icrc1_transfer({ ...args, to: acct(alice) }));

      const plain = transferArgs(acct(bob), 7n);
      const [p1, p2] = [okIndex(await actor.icrc1_transfer(plain)), okIndex(await actor.icrc1_transfer(plain))];
      expect(p2).toBe(p1 + 1n);
      expect(await actor.icrc1_balance_of(acct(bob))).toBe(E8 + 4n * 1_000n + 14n - 1_000n - FEE);
    });

    it('TemporarilyUnavailable once max_transactions_in_window deduplicated transactions are in the window', async () => {
      const [minter, alice, bob, carol] = [identity(), identity(), identity(), identity()];
      const id = await deploy(minter, { initial_balances: [[acct(alice), 10n * E8]], max_transactions_in_window: [1n] });
      const actor = await ledger(alice, id);
      okIndex(await actor.icrc2_approve(approveArgs(acct(carol), E8)));
      const args = transferArgs(acct(bob), 1n, { created_at_time: [nowNs()] });

      const first = okIndex(await actor.icrc1_transfer(args));
      expect(errOf(await actor.icrc1_transfer({ ...args, amount: 2n }))).toEqual({ TemporarilyUnavailable: null });
      expect(errOf(await actor.icrc1_transfer(args))).toEqual({ Duplicate: { duplicate_of: first } });
      expect(errOf(await actor.icrc2_approve(approveArgs(acct(carol), 5n, { created_at_time: [nowNs()] })))).toEqual({
        TemporarilyUnavailable: null
      });
      const spender = await ledger(carol, id);
      expect(
        errOf(await spender.icrc2_transfer_from(transferFromArgs(acct(alice), acct(bob), 1n, { created_at_time: [nowNs()] })))
      ).toEqual({ TemporarilyUnavailable: null });
      // Transactions without created_at_time are not deduplicated, so they do not count.
      okIndex(await actor.icrc1_transfer({ ...args, created_at_time: [] }));
      okIndex(await spender.icrc2_transfer_from(transferFromArgs(acct(alice), acct(bob), 1n)));
      expect(await actor.icrc1_balance_of(acct(bob))).toBe(3n);
    });

    it('icrc2_approve: BadFee, InsufficientFunds, AllowanceChanged, Expired, TooOld, CreatedInFuture, Duplicate, GenericError', async () => {
      const [minter, alice, bob, poor] = [identity(), identity(), identity(), identity()];
      const id = await deploy(minter, {
        initial_balances: [
          [acct(alice), 10n * E8],
          [acct(poor, subaccount(9)), FEE - 1n]
        ]
      });
      const actor = await ledger(alice, id);
      const spender = acct(bob);
      const balance = () => actor.icrc1_balance_of(acct(alice));

      expect(errOf(await actor.icrc2_approve(approveArgs(spender, 1n, { fee: [FEE - 1n] })))).toEqual({ BadFee: { expected_fee: FEE } });
      const broke = await ledger(poor, id);
      expect(errOf(await broke.icrc2_approve(approveArgs(spender, 1n)))).toEqual({ InsufficientFunds: { balance: 0n } });
      expect(errOf(await broke.icrc2_approve(approveArgs(spender, 1n, { from_subaccount: [subaccount(9)] })))).toEqual({
        InsufficientFunds: { balance: FEE - 1n }
      });

      okIndex(await actor.icrc2_approve(approveArgs(spender, 100n)));
      expect(errOf(await actor.icrc2_approve(approveArgs(spender, 200n, { expected_allowance: [50n] })))).toEqual({
        AllowanceChanged: { current_allowance: 100n }
      });
      okIndex(await actor.icrc2_approve(approveArgs(spender, 200n, { expected_allowance: [100n] })));
      expect(await actor.icrc2_allowance({ account: acct(alice), spender })).toEqual({ allowance: 200n, expires_at: [] });

      const beforeExpired = await balance();
      const past = nowNs() - SECOND_NS;
      const expired = errOf(await actor.icrc2_approve(approveArgs(spender, 300n, { expires_at: [past] })));
      expect(expired).toHaveProperty('Expired');
      expect((expired as { Expired: { ledger_time: bigint } }).Expired.ledger_time >= past).toBe(true);
      expect(await balance()).toBe(beforeExpired);
      expect(await actor.icrc2_allowance({ account: acct(alice), spender })).toEqual({ allowance: 200n, expires_at: [] });

      expect(
        errOf(
          await actor.icrc2_approve(
            approveArgs(spender, 1n, { created_at_time: [nowNs() - TX_WINDOW_NS - PERMITTED_DRIFT_NS - SECOND_NS] })
          )
        )
      ).toEqual({ TooOld: null });
      expect(errOf(await actor.icrc2_approve(approveArgs(spender, 1n, { created_at_time: [U64_MAX] })))).toHaveProperty('CreatedInFuture');
      const args = approveArgs(spender, 400n, { created_at_time: [nowNs()] });
      const first = okIndex(await actor.icrc2_approve(args));
      expect(errOf(await actor.icrc2_approve(args))).toEqual({ Duplicate: { duplicate_of: first } });

      expect(errOf(await actor.icrc2_approve(approveArgs(acct(alice, subaccount(1)), 1n)))).toEqual(generic(CODE.selfApproval));
      expect(errOf(await (await ledger(anonymous, id)).icrc2_approve(approveArgs(spender, 1n)))).toEqual(generic(CODE.anonymousCaller));
      expect(errOf(await (await ledger(minter, id)).icrc2_approve(approveArgs(spender, 1n)))).toEqual(generic(CODE.mintingAccountMisuse));
      expect(errOf(await actor.icrc2_approve(approveArgs(acct(bob, new Uint8Array(5)), 1n)))).toEqual(generic(CODE.badSubaccount));

      // The fee is charged even for a zero approval, which removes the allowance.
      const beforeZero = await balance();
      okIndex(await actor.icrc2_approve(approveArgs(spender, 0n)));
      expect(await balance()).toBe(beforeZero - FEE);
      expect(await actor.icrc2_allowance({ account: acct(alice), spender })).toEqual({ allowance: 0n, expires_at: [] });
      // The largest expiry is accepted and reported back; a new approval resets amount and expiry.
      okIndex(await actor.icrc2_approve(approveArgs(spender, 5n, { expires_at: [U64_MAX] })));
      expect(await actor.icrc2_allowance({ account: acct(alice), spender })).toEqual({ allowance: 5n, expires_at: [U64_MAX] });
      const soon = nowNs() + 5n * SECOND_NS;
      okIndex(await actor.icrc2_approve(approveArgs(spender, 6n, { expires_at: [soon] })));
      expect(await actor.icrc2_allowance({ account: acct(alice), spender })).toEqual({ allowance: 6n, expires_at: [soon] });
      await net.advanceTime(10_000);
      expect(await actor.icrc2_allowance({ account: acct(alice), spender })).toEqual({ allowance: 0n, expires_at: [] });
      expect(errOf(await (await ledger(bob, id)).icrc2_transfer_from(transferFromArgs(acct(alice), acct(bob), 1n)))).toEqual({
        InsufficientAllowance: { allowance: 0n }
      });
    });

    it('icrc2_transfer_from: BadFee, BadBurn, InsufficientFunds, InsufficientAllowance, TooOld, CreatedInFuture, Duplicate, GenericError', async () => {
      const [minter, alice, carol, dave, erin] = [identity(), identity(), identity(), identity(), identity()];
      const id = await deploy(minter, {
        initial_balances: [
          [acct(alice), 10n * E8],
          [acct(erin), 3n * FEE]
        ]
      });
      const owner = await ledger(alice, id);
      const spender = await ledger(carol, id);
      const allowance = async (from: Identity) => (await spender.icrc2_allowance({ account: acct(from), spender: acct(carol) })).allowance;

      expect(errOf(await spender.icrc2_transfer_from(transferFromArgs(acct(alice), acct(dave), 1n)))).toEqual({
        InsufficientAllowance: { allowance: 0n }
      });
      okIndex(await owner.icrc2_approve(approveArgs(acct(carol), 5n * E8)));
      expect(errOf(await spender.icrc2_transfer_from(transferFromArgs(acct(alice), acct(dave), 1n, { fee: [FEE - 1n] })))).toEqual({
        BadFee: { expected_fee: FEE }
      });
      expect(errOf(await spender.icrc2_transfer_from(transferFromArgs(acct(alice), acct(minter), 1n)))).toEqual({
        BadBurn: { min_burn_amount: FEE }
      });
      expect(
        errOf(
          await spender.icrc2_transfer_from(
            transferFromArgs(acct(alice), acct(dave), 1n, { created_at_time: [nowNs() - TX_WINDOW_NS - PERMITTED_DRIFT_NS - SECOND_NS] })
          )
        )
      ).toEqual({ TooOld: null });
      expect(
        errOf(await spender.icrc2_transfer_from(transferFromArgs(acct(alice), acct(dave), 1n, { created_at_time: [U64_MAX] })))
      ).toHaveProperty('CreatedInFuture');
      const args = transferFromArgs(acct(alice), acct(dave), 1_000n, { created_at_time: [nowNs()] });
      const first = okIndex(await spender.icrc2_transfer_from(args));
      expect(errOf(await spender.icrc2_transfer_from(args))).toEqual({ Duplicate: { duplicate_of: first } });
      expect(await allowance(alice)).toBe(5n * E8 - 1_000n - FEE);

      // Enough allowance but not enough funds: the allowance is left as it was.
      okIndex(await (await ledger(erin, id)).icrc2_approve(approveArgs(acct(carol), E8)));
      expect(errOf(await spender.icrc2_transfer_from(transferFromArgs(acct(erin), acct(dave), 2n * FEE)))).toEqual({
        InsufficientFunds: { balance: 2n * FEE }
      });
      expect(await allowance(erin)).toBe(E8);

      expect(errOf(await (await ledger(anonymous, id)).icrc2_transfer_from(transferFromArgs(acct(alice), acct(dave), 1n)))).toEqual(
        generic(CODE.anonymousCaller)
      );
      expect(
        errOf(await spender.icrc2_transfer_from(transferFromArgs(acct(alice), acct(dave), 1n, { spender_subaccount: [new Uint8Array(5)] })))
      ).toEqual(generic(CODE.badSubaccount));
      expect(errOf(await spender.icrc2_transfer_from(transferFromArgs(acct(alice, new Uint8Array(33)), acct(dave), 1n)))).toEqual(
        generic(CODE.badSubaccount)
      );
      expect(
        errOf(await spender.icrc2_transfer_from(transferFromArgs(acct(alice), acct(dave), 1n, { memo: [new Uint8Array(33)] })))
      ).toEqual(generic(CODE.memoTooLong));
      expect(errOf(await spender.icrc2_transfer_from(transferFromArgs(acct(minter), acct(dave), 1n)))).toEqual(
        generic(CODE.mintingAccountMisuse)
      );
      expect(errOf(await (await ledger(minter, id)).icrc2_transfer_from(transferFromArgs(acct(minter), acct(dave), 1n)))).toEqual(
        generic(CODE.mintingAccountMisuse)
      );
    });

    it('transfer_from needs no approval when the spender is the source, and burns without a fee', async () => {
      const [minter, alice, carol, dave] = [identity(), identity(), identity(), identity()];
      const id = await deploy(minter, { initial_balances: [[acct(alice), 10n * E8]] });
      const owner = await ledger(alice, id);

      okIndex(await owner.icrc2_transfer_from(transferFromArgs(acct(alice), acct(dave), E8)));
      expect(await owner.icrc1_balance_of(acct(alice))).toBe(9n * E8 - FEE);
      // Another subaccount of the caller is another account, and needs an approval.
      expect(
        errOf(await owner.icrc2_transfer_from(transferFromArgs(acct(alice), acct(dave), 1n, { spender_subaccount: [subaccount(1)] })))
      ).toEqual({ InsufficientAllowance: { allowance: 0n } });

      okIndex(await owner.icrc2_approve(approveArgs(acct(carol), 2n * E8)));
      const supply = await owner.icrc1_total_supply();
      const burn = okIndex(await (await ledger(carol, id)).icrc2_transfer_from(transferFromArgs(acct(alice), acct(minter), E8)));
      expect(await owner.icrc1_balance_of(acct(alice))).toBe(8n * E8 - 2n * FEE);
      expect((await owner.icrc2_allowance({ account: acct(alice), spender: acct(carol) })).allowance).toBe(E8); // amount only: burns are free
      expect(await owner.icrc1_total_supply()).toBe(supply - E8);
      const [block] = (await owner.icrc3_get_blocks([{ start: burn, length: 1n }])).blocks;
      const tx = field(block?.block, 'tx');
      expect(textOf(field(tx, 'op'))).toBe('burn');
      expect(accountKey(accountOfValue(field(tx, 'spender')))).toBe(accountKey(acct(carol)));
      expect(field(block?.block, 'fee')).toBeUndefined();
    });

    it('mints from the minting account and burns to it without a fee; the minting account holds nothing', async () => {
      const [minter, alice, frank, grace] = [identity(), identity(), identity(), identity()];
      const id = await deploy(minter, { initial_balances: [[acct(alice), 10n * E8]] });
      const minting = await ledger(minter, id);

      const mint = okIndex(await minting.icrc1_transfer(transferArgs(acct(frank), FEE)));
      okIndex(await minting.icrc1_transfer(transferArgs(acct(grace), 500n, { fee: [0n] })));
      expect(errOf(await minting.icrc1_transfer(transferArgs(acct(grace), 1n, { fee: [FEE] })))).toEqual({ BadFee: { expected_fee: 0n } });
      const [mintBlock] = (await minting.icrc3_get_blocks([{ start: mint, length: 1n }])).blocks;
      expect(textOf(field(field(mintBlock?.block, 'tx'), 'op'))).toBe('mint');
      expect(field(mintBlock?.block, 'fee')).toBeUndefined();

      // A holder of exactly the fee burns it all (the ICRC-1 suite's burn test).
      okIndex(await (await ledger(frank, id)).icrc1_transfer(transferArgs(acct(minter), FEE)));
      expect(await minting.icrc1_balance_of(acct(frank))).toBe(0n);
      // min_burn_amount is min(fee, balance).
      const small = await ledger(grace, id);
      expect(errOf(await small.icrc1_transfer(transferArgs(acct(minter), 100n)))).toEqual({ BadBurn: { min_burn_amount: 500n } });
      expect(errOf(await small.icrc1_transfer(transferArgs(acct(minter), 0n)))).toEqual({ BadBurn: { min_burn_amount: FEE } }); // burning nothing reports the fee
      okIndex(await small.icrc1_transfer(transferArgs(acct(minter, ZERO_SUBACCOUNT), 500n)));
      expect(await minting.icrc1_balance_of(acct(grace))).toBe(0n);
      okIndex(await (await ledger(alice, id)).icrc1_transfer(transferArgs(acct(minter), 2n * E8)));
      expect(await minting.icrc1_balance_of(acct(alice))).toBe(8n * E8);

      expect(await minting.icrc1_balance_of(acct(minter))).toBe(0n);
      expect(await minting.icrc1_balance_of(acct(minter, ZERO_SUBACCOUNT))).toBe(0n);
      const holders = [alice, frank, grace, minter];
      let sum = 0n;
      for (const holder of holders) sum += await minting.icrc1_balance_of(acct(holder));
      expect(await minting.icrc1_total_supply()).toBe(sum);
      expect(sum).toBe(8n * E8);
    });
  });

  describe('ICRC-3 block log', () => {
    it('chains every block by phash, certifies the tip, and balances replayed from the blocks match the ledger', async () => {
      const [minter, alice, bob, carol] = [identity(), identity(), identity(), identity()];
      // 105 initial balances are 105 mint blocks: more than one icrc3_get_blocks page.
      const initial: Array<[Account, bigint]> = Array.from({ length: 105 }, (_, i) => [
        acct(alice, subaccount(i + 1)),
        BigInt(i + 1) * FEE
      ]);
      const id = await deploy(minter, { initial_balances: [[acct(alice), 10n * E8], ...initial] });
      const owner = await ledger(alice, id);
      okIndex(await owner.icrc1_transfer(transferArgs(acct(bob), E8)));
      okIndex(
        await owner.icrc1_transfer(
          transferArgs(acct(bob, subaccount(3)), 2n, { fee: [FEE], memo: [Uint8Array.of(9, 9)], created_at_time: [nowNs()] })
        )
      );
      okIndex(
        await owner.icrc2_approve(approveArgs(acct(carol), E8, { expected_allowance: [0n], expires_at: [nowNs() + 3600n * SECOND_NS] }))
      );
      const spender = await ledger(carol, id);
      okIndex(await spender.icrc2_transfer_from(transferFromArgs(acct(alice), acct(carol), 1_000n)));
      okIndex(await spender.icrc2_transfer_from(transferFromArgs(acct(alice), acct(minter), FEE)));
      okIndex(await (await ledger(bob, id)).icrc1_transfer(transferArgs(acct(minter), FEE)));
      okIndex(await (await ledger(minter, id)).icrc1_transfer(transferArgs(acct(carol), 7n)));

      // Before the certification timer ran, blocks already carry their parent's hash; the tip may lag.
      const early = await allBlocks(owner);
      expect(early.logLength).toBe(113n);
      checkChain(early.blocks);
      const lagging = await tryGetCertifiedTip(alice, id);
      if (lagging !== undefined) expect(lagging.index <= early.logLength - 1n).toBe(true);

      await net.tick();
      const { logLength, blocks } = await allBlocks(owner);
      expect(blocks).toEqual(early.blocks);
      const lastHash = checkChain(blocks);
      const tip = await getCertifiedTip(alice, id);
      expect(tip.index).toBe(logLength - 1n);
      expect(tip.hash).toBe(hex(lastHash));
      expect(tip.indexLeb128).toBe(hex(leb128(logLength - 1n)));

      // The legacy ICRC-1/2 schema: a top-level fee only where the caller did not state one.
      const txOf = (i: number) => field(blocks[i], 'tx');
      expect(natOf(field(blocks[106], 'fee'))).toBe(FEE);
      expect(natOf(field(txOf(106), 'fee'))).toBeUndefined();
      expect(field(blocks[107], 'fee')).toBeUndefined();
      expect(natOf(field(txOf(107), 'fee'))).toBe(FEE);
      expect(field(txOf(107), 'memo')).toEqual({ Blob: Uint8Array.of(9, 9) });
      expect(natOf(field(txOf(107), 'ts'))).toBeDefined();
      expect(natOf(field(txOf(108), 'expected_allowance'))).toBe(0n);
      expect(natOf(field(txOf(108), 'expires_at'))).toBeDefined();
      expect(blocks.map((_, i) => textOf(field(txOf(i), 'op'))).slice(105)).toEqual([
        'mint',
        'xfer',
        'xfer',
        'approve',
        'xfer',
        'burn',
        'burn',
        'mint'
      ]);
      for (const block of blocks) expect(natOf(field(block, 'ts'))).toBeGreaterThan(0n);

      // Replaying the log gives every balance, and they sum to the total supply.
      const replayed = new Map<string, { account: Account; balance: bigint }>();
      const credit = (value: Value | undefined, delta: bigint) => {
        const who = accountOfValue(value);
        const entry = replayed.get(accountKey(who)) ?? { account: who, balance: 0n };
        replayed.set(accountKey(who), { account: who, balance: entry.balance + delta });
      };
      for (const block of blocks) {
        const tx = field(block, 'tx');
        const amount = natOf(field(tx, 'amt')) ?? 0n;
        const fee = natOf(field(tx, 'fee')) ?? natOf(field(block, 'fee')) ?? 0n;
        const op = textOf(field(tx, 'op'));
        if (op === 'mint') credit(field(tx, 'to'), amount);
        else if (op === 'burn') credit(field(tx, 'from'), -amount);
        else if (op === 'approve') credit(field(tx, 'from'), -fee);
        else if (op === 'xfer') {
          credit(field(tx, 'from'), -amount - fee);
          credit(field(tx, 'to'), amount);
        } else throw new Error(`unknown op ${op}`);
      }
      let sum = 0n;
      for (const { account: who, balance } of replayed.values()) {
        expect(await owner.icrc1_balance_of(who), accountKey(who)).toBe(balance);
        sum += balance;
      }
      expect(await owner.icrc1_total_supply()).toBe(sum);

      // The tip follows new blocks once the round's timer has run.
      okIndex(await owner.icrc1_transfer(transferArgs(acct(bob), 1n)));
      await net.tick();
      const next = await getCertifiedTip(alice, id);
      expect(next.index).toBe(113n);
      const [newest] = (await owner.icrc3_get_blocks([{ start: 113n, length: 1n }])).blocks;
      expect(next.hash).toBe(hex(hashValue(coreValue(newest?.block ?? { Map: [] }))));
      expect(field(newest?.block, 'phash')).toEqual({ Blob: lastHash });
    });

    it('returns at most 100 blocks per call, with log_length, and nothing past the end', async () => {
      const [minter, alice] = [identity(), identity()];
      const initial: Array<[Account, bigint]> = Array.from({ length: 120 }, (_, i) => [acct(alice, subaccount(i + 1)), 1n]);
      const id = await deploy(minter, { initial_balances: initial });
      const actor = await ledger(alice, id);

      const huge = await actor.icrc3_get_blocks([{ start: 0n, length: 2n ** 70n }]);
      expect(huge.log_length).toBe(120n);
      expect(huge.blocks.map((b) => b.id)).toEqual(Array.from({ length: 100 }, (_, i) => BigInt(i)));
      expect(huge.archived_blocks).toEqual([]);
      const rest = await actor.icrc3_get_blocks([{ start: 100n, length: 2n ** 64n }]);
      expect(rest.blocks.map((b) => b.id)).toEqual(Array.from({ length: 20 }, (_, i) => BigInt(100 + i)));
      const ranges = await actor.icrc3_get_blocks([
        { start: 0n, length: 60n },
        { start: 60n, length: 60n }
      ]);
      expect(ranges.blocks.length).toBe(100);
      expect(ranges.blocks.at(-1)?.id).toBe(99n);

      for (const start of [120n, 121n, 2n ** 64n, 2n ** 80n]) {
        const past = await actor.icrc3_get_blocks([{ start, length: 10n }]);
        expect(past.blocks).toEqual([]);
        expect(past.log_length).toBe(120n);
      }
      expect((await actor.icrc3_get_blocks([])).blocks).toEqual([]);
      expect((await actor.icrc3_get_blocks([{ start: 5n, length: 0n }])).blocks).toEqual([]);
    });
  });

  describe('install and upgrade', () => {
    it('refuses an invalid Init argument', async () => {
      const minter = identity();
      await expect(deploy(minter, { token_name: '' })).rejects.toThrow(/token_name/);
      await expect(deploy(minter, { minting_account: acct(minter, new Uint8Array(5)) })).rejects.toThrow(/minting_account.*subaccount/);
      // The minting account's balance must read 0.
      await expect(deploy(minter, { initial_balances: [[acct(minter, ZERO_SUBACCOUNT), 5n]] })).rejects.toThrow(
        /minting account cannot have an initial balance/
      );
    });

    it('upgrades the fee and metadata while balances, allowances, blocks, supply and deduplication survive', async () => {
      const [minter, alice, bob, carol] = [identity(), identity(), identity(), identity()];
      const id = await deploy(minter, { initial_balances: [[acct(alice), 10n * E8]] });
      const actor = await ledger(alice, id);
      const dedup = transferArgs(acct(bob), 5_000n, { created_at_time: [nowNs()] });
      const first = okIndex(await actor.icrc1_transfer(dedup));
      okIndex(await actor.icrc2_approve(approveArgs(acct(carol), 3n * E8, { expires_at: [U64_MAX] })));
      await net.tick();
      const snapshot = async () => ({
        balances: [await actor.icrc1_balance_of(acct(alice)), await actor.icrc1_balance_of(acct(bob))],
        allowance: await actor.icrc2_allowance({ account: acct(alice), spender: acct(carol) }),
        supply: await actor.icrc1_total_supply(),
        blocks: (await allBlocks(actor)).blocks,
        name: await actor.icrc1_name()
      });
      const before = await snapshot();
      const tipBefore = await getCertifiedTip(alice, id);

      await net.installCode(
        id,
        'upgrade',
        wasm,
        ledgerUpgrade({
          transfer_fee: [20_000n],
          token_symbol: ['TS2'],
          max_memo_length: [64],
          metadata: [[['icrc1:logo', { Text: 'data:,x' }]]]
        })
      );
      expect(await actor.icrc1_fee()).toBe(20_000n);
      expect(await actor.icrc1_symbol()).toBe('TS2');
      const metadata = new Map(await actor.icrc1_metadata());
      expect(metadata.get('icrc1:fee')).toEqual({ Nat: 20_000n });
      expect(metadata.get('icrc1:symbol')).toEqual({ Text: 'TS2' });
      expect(metadata.get('icrc1:name')).toEqual({ Text: 'Test Token' });
      expect(metadata.get('icrc1:max_memo_length')).toEqual({ Nat: 64n });
      expect(metadata.get('icrc1:logo')).toEqual({ Text: 'data:,x' });
      expect(await snapshot()).toEqual(before);
      expect(await getCertifiedTip(alice, id)).toEqual(tipBefore);
      expect(errOf(await actor.icrc1_transfer(dedup))).toEqual({ Duplicate: { duplicate_of: first } });
      expect(errOf(await actor.icrc1_transfer(transferArgs(acct(bob), 1n, { fee: [FEE] })))).toEqual({ BadFee: { expected_fee: 20_000n } });
      okIndex(await actor.icrc1_transfer(transferArgs(acct(bob), 1n, { memo: [new Uint8Array(64)] })));
      expect(await actor.icrc1_balance_of(acct(alice))).toBe((before.balances[0] ?? 0n) - 1n - 20_000n);

      // Failed upgrades change nothing.
      const settled = await snapshot();
      await expect(net.installCode(id, 'upgrade', wasm, ledgerInit(minter.getPrincipal()))).rejects.toThrow(/Init argument/);
      await expect(net.installCode(id, 'upgrade', wasm, ledgerUpgrade({ max_memo_length: [40], transfer_fee: [1n] }))).rejects.toThrow(
        /max_memo_length cannot decrease/
      );
      expect(await actor.icrc1_fee()).toBe(20_000n);
      expect(await snapshot()).toEqual(settled);
      okIndex(await actor.icrc1_transfer(transferArgs(acct(bob), 1n, { memo: [new Uint8Array(64)] })));
      expect(errOf(await actor.icrc1_transfer(transferArgs(acct(bob), 1n, { memo: [new Uint8Array(65)] })))).toEqual(
        generic(CODE.memoTooLong)
      );
    });
  });

  describe('bad input', () => {
    it('refuses the anonymous caller on every mutation and memos longer than 32 bytes', async () => {
      const [minter, alice, bob] = [identity(), identity(), identity()];
      const id = await deploy(minter, {
        initial_balances: [
          [acct(alice), 10n * E8],
          [account(Principal.anonymous()), E8]
        ]
      });
      const nobody = await ledger(anonymous, id);
      expect(errOf(await nobody.icrc1_transfer(transferArgs(acct(bob), 1n)))).toEqual(generic(CODE.anonymousCaller));
      expect(errOf(await nobody.icrc2_approve(approveArgs(acct(bob), 1n)))).toEqual(generic(CODE.anonymousCaller));
      expect(errOf(await nobody.icrc2_transfer_from(transferFromArgs(account(Principal.anonymous()), acct(bob), 1n)))).toEqual(
        generic(CODE.anonymousCaller)
      );
      expect(await nobody.icrc1_balance_of(account(Principal.anonymous()))).toBe(E8);
      expect(await nobody.icrc1_balance_of(acct(alice))).toBe(10n * E8); // queries stay open

      const actor = await ledger(alice, id);
      okIndex(await actor.icrc1_transfer(transferArgs(acct(bob), 1n, { memo: [new Uint8Array(32).fill(0xff)] })));
      expect(errOf(await actor.icrc1_transfer(transferArgs(acct(bob), 1n, { memo: [new Uint8Array(33)] })))).toEqual(
        generic(CODE.memoTooLong)
      );
      okIndex(await actor.icrc2_approve(approveArgs(acct(bob), 1n, { memo: [new Uint8Array(32)] })));
      expect(errOf(await actor.icrc2_approve(approveArgs(acct(bob), 1n, { memo: [new Uint8Array(33)] })))).toEqual(
        generic(CODE.memoTooLong)
      );
      expect(await actor.icrc1_balance_of(acct(alice))).toBe(10n * E8 - 1n - 2n * FEE);
    });
  });

  // Last: it moves the localnet's clock a day forward (every other test reads time through nowNs()).
  describe('the deduplication window over time', () => {
    // Expired entries must leave the window before the throttle counts it, as in the reference ledger: otherwise a
    // full window would refuse every deduplicated transaction until one without created_at_time came along.
    it('forgets transactions older than 24 h, so a full window frees itself', async () => {
      const [minter, alice, bob] = [identity(), identity(), identity()];
      const id = await deploy(minter, { initial_balances: [[acct(alice), 10n * E8]], max_transactions_in_window: [1n] });
      const actor = await ledger(alice, id);
      const old = transferArgs(acct(bob), 1n, { created_at_time: [nowNs()] });
      okIndex(await actor.icrc1_transfer(old));
      expect(errOf(await actor.icrc1_transfer(transferArgs(acct(bob), 2n, { created_at_time: [nowNs()] })))).toEqual({
        TemporarilyUnavailable: null
      });
      await net.advanceTime(Number((TX_WINDOW_NS + PERMITTED_DRIFT_NS) / 1_000_000n) + 60_000);
      expect(errOf(await actor.icrc1_transfer(old))).toEqual({ TooOld: null });
      okIndex(await actor.icrc1_transfer(transferArgs(acct(bob), 2n, { created_at_time: [nowNs()] })));
      expect(await actor.icrc1_balance_of(acct(bob))).toBe(3n);
    });
  });
});
