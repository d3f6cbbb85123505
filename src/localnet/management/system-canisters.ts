import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';

import { ErrorCode } from '../errors.js';
import type { Response } from '../execution/context.js';
import { rejectResponse, type BuiltinCall, type BuiltinCanister, type Engine } from '../execution/engine.js';
import { CMC_CANISTER_ID, CYCLES_LEDGER_CANISTER_ID } from '../ids.js';
import { decodeOne, reply } from './candid.js';
import { CanisterSettingsArg } from '../../interface/management/index.js';

/** Cycles every principal appears to hold on the stand-in cycles ledger (a dev network has no real cycles). */
const DEV_CYCLES_BALANCE = 1_000_000_000_000_000n;

const Account = IDL.Record({ owner: IDL.Principal, subaccount: IDL.Opt(IDL.Vec(IDL.Nat8)) });
const CreateCanisterArgs = IDL.Record({
  from_subaccount: IDL.Opt(IDL.Vec(IDL.Nat8)),
  created_at_time: IDL.Opt(IDL.Nat64),
  amount: IDL.Nat,
  creation_args: IDL.Opt(
    IDL.Record({
      subnet_selection: IDL.Opt(
        IDL.Variant({ Filter: IDL.Record({ subnet_type: IDL.Opt(IDL.Text) }), Subnet: IDL.Record({ subnet: IDL.Principal }) })
      ),
      settings: IDL.Opt(CanisterSettingsArg)
    })
  )
});
const CreateCanisterError = IDL.Variant({
  GenericError: IDL.Record({ message: IDL.Text, error_code: IDL.Nat }),
  TemporarilyUnavailable: IDL.Null,
  Duplicate: IDL.Record({ duplicate_of: IDL.Nat, canister_id: IDL.Opt(IDL.Principal) }),
  CreatedInFuture: IDL.Record({ ledger_time: IDL.Nat64 }),
  FailedToCreate: IDL.Record({ error: IDL.Text, refund_block: IDL.Opt(IDL.Nat), fee_block: IDL.Opt(IDL.Nat) }),
  TooOld: IDL.Null,
  InsufficientFunds: IDL.Record({ balance: IDL.Nat })
});
const CreateCanisterResult = IDL.Variant({
  Ok: IDL.Record({ block_id: IDL.Nat, canister_id: IDL.Principal }),
  Err: CreateCanisterError
});

function noMethod(id: Principal, method: string): Response {
  return rejectResponse(ErrorCode.CanisterMethodNotFound, `Error from Canister ${id.toText()}: Canister has no method '${method}'.`);
}

/** Stand-in for the cycles minting canister: `icp` asks it which subnets it may create canisters on. */
export class CyclesMintingStandIn implements BuiltinCanister {
  constructor(private readonly subnetId: () => Principal) {}

  handle(_engine: Engine, call: BuiltinCall): Response {
    return this.answer(call.method);
  }

  query(_engine: Engine, call: { method: string }): Response {
    return this.answer(call.method);
  }

  private answer(method: string): Response {
    if (method === 'get_default_subnets') return reply(IDL.Vec(IDL.Principal), [this.subnetId()]);
    return noMethod(CMC_CANISTER_ID, method);
  }
}

/** Stand-in for the cycles ledger: creates canisters for `icp canister create/deploy` and reports balances. */
export class CyclesLedgerStandIn implements BuiltinCanister {
  private nextBlock = 0n;

  handle(engine: Engine, call: BuiltinCall): Response {
    if (call.method === 'create_canister') {
      const args = decodeOne<{ amount: bigint; creation_args: [] | [{ settings: [] | [{ controllers: [] | [Principal[]] }] }] }>(
        CreateCanisterArgs,
        call.arg
      );
      const controllers = args.creation_args[0]?.settings[0]?.controllers[0] ?? [call.caller];
      const canister = engine.createCanister({ controllers, cycles: args.amount > 0n ? args.amount : 100_000_000_000_000n });
      return reply(CreateCanisterResult, { Ok: { block_id: this.nextBlock++, canister_id: canister.id } });
    }
    return this.answer(call.method, call.arg);
  }

  query(_engine: Engine, call: { method: string; arg: Uint8Array }): Response {
    return this.answer(call.method, call.arg);
  }

  private answer(method: string, arg: Uint8Array): Response {
    if (method === 'icrc1_balance_of') {
      decodeOne<unknown>(Account, arg);
      return reply(IDL.Nat, DEV_CYCLES_BALANCE);
    }
    if (method === 'icrc1_decimals') return reply(IDL.Nat8, 12);
    if (method === 'icrc1_symbol') return reply(IDL.Text, 'TCYCLES');
    if (method === 'icrc1_fee') return reply(IDL.Nat, 100_000_000n);
    return noMethod(CYCLES_LEDGER_CANISTER_ID, method);
  }
}

export function installSystemCanisters(engine: Engine, subnetId: () => Principal): void {
  engine.builtins.set(CMC_CANISTER_ID.toText(), new CyclesMintingStandIn(subnetId));
  engine.builtins.set(CYCLES_LEDGER_CANISTER_ID.toText(), new CyclesLedgerStandIn());
}
