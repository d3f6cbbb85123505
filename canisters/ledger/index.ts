import '../common/text-codec.js';
import { certifiedDataSet, dataCertificate, IDL, init, msgCaller, postUpgrade, query, setTimer, time, trap, update } from 'azle';
import { encode as cborEncode } from '@dfinity/cbor';
import { bytesToHex } from '@noble/hashes/utils';

import {
  allowanceOf,
  approve,
  balanceOf,
  blockValue,
  certifyPending,
  getBlocks,
  makeLedgerConfig,
  metadataEntries,
  mintInitial,
  tipTree,
  transfer,
  transferFrom,
  treeRoot,
  upgradeLedgerConfig,
  type LedgerStore
} from '../../src/core/ledger/index.js';
import { args, reply, warmReplyTypes } from '../common/fast-candid.js';
import * as C from './candid.js';
import { accountIn, accountOut, metadataIn, metadataOut, optHex, opt, some } from './convert.js';
import { openLedgerStore } from './stable-store.js';

// Opened on first use: azle evaluates the module at build time, where stable memory cannot be read.
let opened: ReturnType<typeof openLedgerStore> | undefined;
const state = (): ReturnType<typeof openLedgerStore> => (opened ??= openLedgerStore());
const caller = (): string => bytesToHex(msgCaller().toUint8Array());

const STANDARDS = [
  { name: 'ICRC-1', url: 'https://github.com/dfinity/ICRC-1/tree/main/standards/ICRC-1' },
  { name: 'ICRC-2', url: 'https://github.com/dfinity/ICRC-1/tree/main/standards/ICRC-2' },
  { name: 'ICRC-3', url: 'https://github.com/dfinity/ICRC-1/tree/main/standards/ICRC-3' },
  { name: 'ICRC-10', url: 'https://github.com/dfinity/ICRC/blob/main/ICRCs/ICRC-10/ICRC-10.md' }
];
const ICRC3_SCHEMA_URL = 'https://github.com/dfinity/ICRC-1/tree/main/standards/ICRC-3#icrc-1-and-icrc-2-block-schema';
const BLOCK_TYPES = ['1burn', '1mint', '1xfer', '2approve', '2burn', '2xfer'].map((block_type) => ({ block_type, url: ICRC3_SCHEMA_URL }));

const REPLY_TYPES = [
  IDL.Nat,
  IDL.Text,
  IDL.Nat8,
  C.Metadata,
  IDL.Opt(C.Account),
  C.StandardList,
  C.TransferResult,
  C.ApproveResult,
  C.TransferFromResult,
  C.Allowance,
  C.GetBlocksResult,
  C.GetArchivesResult,
  IDL.Opt(C.DataCertificate),
  C.BlockTypeList
];

/** Blocks hashed per certification message; ~25M instructions each, far below the 40B update limit. */
const CERTIFY_BATCH = 400;
let certificationScheduled = false;

/**
 * Hashes the blocks appended since the last certification and certifies the newest (the ICRC-3 tip), so that
 * `icrc3_get_tip_certificate` proves the whole chain. Hashing costs more than a transfer in the canister, so it runs
 * once per execution round in a timer (every block of the round at once) instead of inside each transfer.
 */
function certify(store: LedgerStore): void {
  const tip = certifyPending(store, CERTIFY_BATCH);
  if (tip === undefined) return;
  certifiedDataSet(treeRoot(tipTree(tip.lastIndex, tip.lastHash)));
  if (tip.pending > 0n) scheduleCertification();
}

function scheduleCertification(): void {
  if (certificationScheduled) return;
  certificationScheduled = true;
  setTimer(0, () => {
    certificationScheduled = false;
    certify(state());
  });
}

function install(arg: C.LedgerArgValue): void {
  const store = state();
  if ('Init' in arg) {
    if (store.hasConfig()) trap('ledger: Init argument given to an installed ledger; upgrade with Upgrade');
    const init = arg.Init;
    const config = makeLedgerConfig({
      name: init.token_name,
      symbol: init.token_symbol,
      decimals: some(init.decimals),
      fee: init.transfer_fee,
      mintingAccount: accountIn(init.minting_account),
      initialBalances: init.initial_balances.map(([account, amount]) => [accountIn(account), amount]),
      maxMemoLength: some(init.max_memo_length),
      metadata: init.metadata.map(([key, value]) => [key, metadataIn(value)]),
      maxTransactionsInWindow:
        some(init.max_transactions_in_window) === undefined ? undefined : Number(some(init.max_transactions_in_window))
    });
    // A bad install argument must fail the install: nothing may run with an unchecked configuration.
    if ('Err' in config) trap(`ledger: invalid init argument: ${config.Err}`);
    store.setConfig(config.Ok);
    mintInitial(
      store,
      time(),
      init.initial_balances.map(([account, amount]) => [accountIn(account), amount])
    );
  } else {
    if (!store.hasConfig()) trap('ledger: Upgrade argument given to a ledger that was never initialised');
    const upgrade = some(arg.Upgrade);
    if (upgrade !== undefined) {
      const window = some(upgrade.max_transactions_in_window);
      const next = upgradeLedgerConfig(store.config(), {
        name: some(upgrade.token_name),
        symbol: some(upgrade.token_symbol),
        fee: some(upgrade.transfer_fee),
        maxMemoLength: some(upgrade.max_memo_length),
        metadata: some(upgrade.metadata)?.map(([key, value]) => [key, metadataIn(value)]),
        maxTransactionsInWindow: window === undefined ? undefined : Number(window)
      });
      if ('Err' in next) trap(`ledger: invalid upgrade argument: ${next.Err}`);
      store.setConfig(next.Ok);
    }
  }
  // Timers do not survive an upgrade: certify what is pending now (the rest, if any, by a new timer).
  certify(store);
  warmReplyTypes(REPLY_TYPES);
}

/** Decodes the arguments, runs `body`, and replies with a cached-type-table encoding of its result. */
function handle<A extends unknown[]>(argTypes: IDL.Type[], returnType: IDL.Type, body: (...decoded: A) => unknown): void {
  reply(returnType, body(...(args(argTypes) as A)));
}

/** Runs a mutation and schedules the certification of the block it appended, if any. */
function mutate<T>(run: (store: LedgerStore) => T): T {
  const store = state();
  const before = store.tip().blockCount;
  const result = run(store);
  if (store.tip().blockCount !== before) scheduleCertification();
  return result;
}

export default class {
  @init([C.LedgerArg])
  init(arg: C.LedgerArgValue): void {
    install(arg);
  }

  @postUpgrade([C.LedgerArg])
  postUpgrade(arg: C.LedgerArgValue): void {
    install(arg);
  }

  // ---------- ICRC-1
  @query([], IDL.Text, { manual: true })
  icrc1_name(): void {
    handle([], IDL.Text, () => state().config().name);
  }

  @query([], IDL.Text, { manual: true })
  icrc1_symbol(): void {
    handle([], IDL.Text, () => state().config().symbol);
  }

  @query([], IDL.Nat8, { manual: true })
  icrc1_decimals(): void {
    handle([], IDL.Nat8, () => state().config().decimals);
  }

  @query([], IDL.Nat, { manual: true })
  icrc1_fee(): void {
    handle([], IDL.Nat, () => state().config().fee);
  }

  @query([], C.Metadata, { manual: true })
  icrc1_metadata(): void {
    handle([], C.Metadata, () => metadataEntries(state().config()).map(([key, value]) => [key, metadataOut(value)]));
  }

  @query([], IDL.Nat, { manual: true })
  icrc1_total_supply(): void {
    handle([], IDL.Nat, () => state().tip().totalSupply);
  }

  @query([], IDL.Opt(C.Account), { manual: true })
  icrc1_minting_account(): void {
    handle([], IDL.Opt(C.Account), () => [accountOut(state().config().mintingAccount)]);
  }

  @query([C.Account], IDL.Nat, { manual: true })
  icrc1_balance_of(): void {
    handle([C.Account], IDL.Nat, (account: C.AccountArg) => balanceOf(state(), accountIn(account)));
  }

  @query([], C.StandardList, { manual: true })
  icrc1_supported_standards(): void {
    handle([], C.StandardList, () => STANDARDS);
  }

  @update([C.TransferArgs], C.TransferResult, { manual: true })
  icrc1_transfer(): void {
    handle([C.TransferArgs], C.TransferResult, (a: C.TransferArgsValue) =>
      mutate((store) =>
        transfer(store, caller(), time(), {
          fromSubaccount: optHex(a.from_subaccount),
          to: accountIn(a.to),
          amount: a.amount,
          fee: some(a.fee),
          memo: optHex(a.memo),
          createdAtTime: some(a.created_at_time)
        })
      )
    );
  }

  // ---------- ICRC-2
  @update([C.ApproveArgs], C.ApproveResult, { manual: true })
  icrc2_approve(): void {
    handle([C.ApproveArgs], C.ApproveResult, (a: C.ApproveArgsValue) =>
      mutate((store) =>
        approve(store, caller(), time(), {
          fromSubaccount: optHex(a.from_subaccount),
          spender: accountIn(a.spender),
          amount: a.amount,
          expectedAllowance: some(a.expected_allowance),
          expiresAt: some(a.expires_at),
          fee: some(a.fee),
          memo: optHex(a.memo),
          createdAtTime: some(a.created_at_time)
        })
      )
    );
  }

  @update([C.TransferFromArgs], C.TransferFromResult, { manual: true })
  icrc2_transfer_from(): void {
    handle([C.TransferFromArgs], C.TransferFromResult, (a: C.TransferFromArgsValue) =>
      mutate((store) =>
        transferFrom(store, caller(), time(), {
          spenderSubaccount: optHex(a.spender_subaccount),
          from: accountIn(a.from),
          to: accountIn(a.to),
          amount: a.amount,
          fee: some(a.fee),
          memo: optHex(a.memo),
          createdAtTime: some(a.created_at_time)
        })
      )
    );
  }

  @query([C.AllowanceArgs], C.Allowance, { manual: true })
  icrc2_allowance(): void {
    handle([C.AllowanceArgs], C.Allowance, (a: { account: C.AccountArg; spender: C.AccountArg }) => {
      const allowance = allowanceOf(state(), time(), accountIn(a.account), accountIn(a.spender));
      return { allowance: allowance.amount, expires_at: opt(allowance.expiresAt) };
    });
  }

  // ---------- ICRC-3
  @query([C.GetArchivesArgs], C.GetArchivesResult, { manual: true })
  icrc3_get_archives(): void {
    // Every block stays in this canister: there are no archives.
    handle([C.GetArchivesArgs], C.GetArchivesResult, () => []);
  }

  @query([C.GetBlocksArgs], C.GetBlocksResult, { manual: true })
  icrc3_get_blocks(): void {
    handle([C.GetBlocksArgs], C.GetBlocksResult, (ranges: Array<{ start: bigint; length: bigint }>) => {
      const { logLength, blocks } = getBlocks(state(), ranges);
      return { log_length: logLength, blocks: blocks.map(({ id, block }) => ({ id, block: blockValue(block) })), archived_blocks: [] };
    });
  }

  @query([], IDL.Opt(C.DataCertificate), { manual: true })
  icrc3_get_tip_certificate(): void {
    handle([], IDL.Opt(C.DataCertificate), () => {
      const tip = state().tip();
      const certificate = dataCertificate();
      if (tip.lastHash === undefined || certificate === undefined) return [];
      return [{ certificate, hash_tree: cborEncode(tipTree(tip.hashedCount - 1n, tip.lastHash)) }];
    });
  }

  @query([], C.BlockTypeList, { manual: true })
  icrc3_supported_block_types(): void {
    handle([], C.BlockTypeList, () => BLOCK_TYPES);
  }

  // ---------- ICRC-10
  @query([], C.StandardList, { manual: true })
  icrc10_supported_standards(): void {
    handle([], C.StandardList, () => STANDARDS);
  }
}
