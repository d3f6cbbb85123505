import '../common/text-codec.js';
import { certifiedDataSet, dataCertificate, init, msgArgData, msgCaller, postUpgrade, query, setTimer, time, trap, update } from 'azle';
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
import { fromOpt as some, opt, type Method } from '../../src/interface/candid.js';
import { LedgerArg, ledgerMethods as m } from '../../src/interface/ledger/index.js';
import { warmArgPlans } from '../common/candid-decoder.js';
import { handle as decodeAndHandle, warmReplyTypes } from '../common/fast-candid.js';
import { accountIn, accountOut, metadataIn, metadataOut, optHex } from './convert.js';
import { openLedgerStore } from './stable-store.js';

// Opened on first use: azle evaluates the module at build time, where stable memory cannot be read.
let opened: ReturnType<typeof openLedgerStore> | undefined;
const state = (): ReturnType<typeof openLedgerStore> => (opened ??= openLedgerStore());
const caller = (): string => bytesToHex(msgCaller().toUint8Array());

/**
 * The largest argument any ledger method takes: an Account with its subaccount, a transfer's memo (32 bytes) and
 * timestamps, or a few hundred block ranges. Larger is refused (a trap) before it is decoded: queries have no
 * inspect_message, and a 400 KB type table, or a 2 MB text as an extra argument, would cost hundreds of millions of
 * instructions to read (issue 15).
 */
const MAX_ARG_BYTES = 8 * 1024;

function handle<A extends unknown[], R>(method: Method<A, R>, body: (...decoded: NoInfer<A>) => NoInfer<R>): void {
  const size = msgArgData().length;
  if (size > MAX_ARG_BYTES) trap(`argument of ${size} bytes, larger than the ${MAX_ARG_BYTES} any ledger method takes`);
  decodeAndHandle(method, body);
}

const STANDARDS = [
  { name: 'ICRC-1', url: 'https://github.com/dfinity/ICRC-1/tree/main/standards/ICRC-1' },
  { name: 'ICRC-2', url: 'https://github.com/dfinity/ICRC-1/tree/main/standards/ICRC-2' },
  { name: 'ICRC-3', url: 'https://github.com/dfinity/ICRC-1/tree/main/standards/ICRC-3' },
  { name: 'ICRC-10', url: 'https://github.com/dfinity/ICRC/blob/main/ICRCs/ICRC-10/ICRC-10.md' }
];
const ICRC3_SCHEMA_URL = 'https://github.com/dfinity/ICRC-1/tree/main/standards/ICRC-3#icrc-1-and-icrc-2-block-schema';
const BLOCK_TYPES = ['1burn', '1mint', '1xfer', '2approve', '2burn', '2xfer'].map((block_type) => ({ block_type, url: ICRC3_SCHEMA_URL }));

const MANUAL = { manual: true };

/** Every method's reply type, warmed once per install. */
const REPLY_TYPES = [...new Set(Object.values(m).flatMap((method) => (method.ret === undefined ? [] : [method.ret])))];

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

function install(arg: LedgerArg): void {
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
  warmArgPlans(Object.values(m).flatMap((method) => method.args));
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
  @init([LedgerArg])
  init(arg: LedgerArg): void {
    install(arg);
  }

  @postUpgrade([LedgerArg])
  postUpgrade(arg: LedgerArg): void {
    install(arg);
  }

  // ---------- ICRC-1
  @query(m.icrc1_name.args, m.icrc1_name.ret, MANUAL)
  icrc1_name(): void {
    handle(m.icrc1_name, () => state().config().name);
  }

  @query(m.icrc1_symbol.args, m.icrc1_symbol.ret, MANUAL)
  icrc1_symbol(): void {
    handle(m.icrc1_symbol, () => state().config().symbol);
  }

  @query(m.icrc1_decimals.args, m.icrc1_decimals.ret, MANUAL)
  icrc1_decimals(): void {
    handle(m.icrc1_decimals, () => state().config().decimals);
  }

  @query(m.icrc1_fee.args, m.icrc1_fee.ret, MANUAL)
  icrc1_fee(): void {
    handle(m.icrc1_fee, () => state().config().fee);
  }

  @query(m.icrc1_metadata.args, m.icrc1_metadata.ret, MANUAL)
  icrc1_metadata(): void {
    handle(m.icrc1_metadata, () => metadataEntries(state().config()).map(([key, value]) => [key, metadataOut(value)]));
  }

  @query(m.icrc1_total_supply.args, m.icrc1_total_supply.ret, MANUAL)
  icrc1_total_supply(): void {
    handle(m.icrc1_total_supply, () => state().tip().totalSupply);
  }

  @query(m.icrc1_minting_account.args, m.icrc1_minting_account.ret, MANUAL)
  icrc1_minting_account(): void {
    handle(m.icrc1_minting_account, () => opt(accountOut(state().config().mintingAccount)));
  }

  @query(m.icrc1_balance_of.args, m.icrc1_balance_of.ret, MANUAL)
  icrc1_balance_of(): void {
    handle(m.icrc1_balance_of, (account) => balanceOf(state(), accountIn(account)));
  }

  @query(m.icrc1_supported_standards.args, m.icrc1_supported_standards.ret, MANUAL)
  icrc1_supported_standards(): void {
    handle(m.icrc1_supported_standards, () => STANDARDS);
  }

  @update(m.icrc1_transfer.args, m.icrc1_transfer.ret, MANUAL)
  icrc1_transfer(): void {
    handle(m.icrc1_transfer, (a) =>
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
  @update(m.icrc2_approve.args, m.icrc2_approve.ret, MANUAL)
  icrc2_approve(): void {
    handle(m.icrc2_approve, (a) =>
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

  @update(m.icrc2_transfer_from.args, m.icrc2_transfer_from.ret, MANUAL)
  icrc2_transfer_from(): void {
    handle(m.icrc2_transfer_from, (a) =>
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

  @query(m.icrc2_allowance.args, m.icrc2_allowance.ret, MANUAL)
  icrc2_allowance(): void {
    handle(m.icrc2_allowance, (a) => {
      const allowance = allowanceOf(state(), time(), accountIn(a.account), accountIn(a.spender));
      return { allowance: allowance.amount, expires_at: opt(allowance.expiresAt) };
    });
  }

  // ---------- ICRC-3
  @query(m.icrc3_get_archives.args, m.icrc3_get_archives.ret, MANUAL)
  icrc3_get_archives(): void {
    // Every block stays in this canister: there are no archives.
    handle(m.icrc3_get_archives, () => []);
  }

  @query(m.icrc3_get_blocks.args, m.icrc3_get_blocks.ret, MANUAL)
  icrc3_get_blocks(): void {
    handle(m.icrc3_get_blocks, (ranges) => {
      const { logLength, blocks } = getBlocks(state(), ranges);
      return { log_length: logLength, blocks: blocks.map(({ id, block }) => ({ id, block: blockValue(block) })), archived_blocks: [] };
    });
  }

  @query(m.icrc3_get_tip_certificate.args, m.icrc3_get_tip_certificate.ret, MANUAL)
  icrc3_get_tip_certificate(): void {
    handle(m.icrc3_get_tip_certificate, () => {
      const tip = state().tip();
      const certificate = dataCertificate();
      if (tip.lastHash === undefined || certificate === undefined) return [] as [];
      return opt({ certificate, hash_tree: cborEncode(tipTree(tip.hashedCount - 1n, tip.lastHash)) });
    });
  }

  @query(m.icrc3_supported_block_types.args, m.icrc3_supported_block_types.ret, MANUAL)
  icrc3_supported_block_types(): void {
    handle(m.icrc3_supported_block_types, () => BLOCK_TYPES);
  }

  // ---------- ICRC-10
  @query(m.icrc10_supported_standards.args, m.icrc10_supported_standards.ret, MANUAL)
  icrc10_supported_standards(): void {
    handle(m.icrc10_supported_standards, () => STANDARDS);
  }
}
