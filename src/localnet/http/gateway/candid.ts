import { IDL, idlLabelToId } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';

/**
 * The canister HTTP interface of the HTTP gateway protocol spec. The streaming token's type is the canister's
 * choice: it is decoded as `IDL.Unknown` and re-encoded with the type the decoder attached to it.
 */
const HeaderField = IDL.Tuple(IDL.Text, IDL.Text);
export type HeaderField = [string, string];

export const HttpRequest = IDL.Record({
  method: IDL.Text,
  url: IDL.Text,
  headers: IDL.Vec(HeaderField),
  body: IDL.Vec(IDL.Nat8),
  certificate_version: IDL.Opt(IDL.Nat16)
});
export interface HttpRequest {
  method: string;
  url: string;
  headers: HeaderField[];
  body: Uint8Array;
  certificate_version: [] | [number];
}

export const HttpUpdateRequest = IDL.Record({ method: IDL.Text, url: IDL.Text, headers: IDL.Vec(HeaderField), body: IDL.Vec(IDL.Nat8) });

/** A value decoded as `IDL.Unknown`: it carries the type it had on the wire. */
export type Unknown = { type(): IDL.Type };

/** The callback's reply; its token is opaque, kept with its wire type to be sent back. */
export const StreamingCallbackHttpResponse = IDL.Record({ body: IDL.Vec(IDL.Nat8), token: IDL.Opt(IDL.Unknown) });
export interface StreamingCallbackHttpResponse {
  body: Uint8Array | number[];
  token: [] | [Unknown];
}

// The streaming strategy is decoded as Unknown: a typed func whose argument is the canister's token type would fail
// Candid's subtype check and decode as `null`.
export const HttpResponse = IDL.Record({
  status_code: IDL.Nat16,
  headers: IDL.Vec(HeaderField),
  body: IDL.Vec(IDL.Nat8),
  upgrade: IDL.Opt(IDL.Bool),
  streaming_strategy: IDL.Opt(IDL.Unknown)
});
export interface HttpResponse {
  status_code: number;
  headers: HeaderField[];
  body: Uint8Array | number[];
  upgrade: [] | [boolean];
  streaming_strategy: [] | [Unknown];
}

export interface StreamingCallback {
  callback: [Principal, string];
  /** The token, Candid-encoded as the callback's argument. */
  token: Uint8Array;
}

function resolve(type: IDL.Type): IDL.Type {
  let current: IDL.Type | undefined = type;
  while (current instanceof IDL.RecClass) current = current.getType();
  return current ?? type;
}

/** A record or variant field by name (wire types only know the names' hashes). */
function field(type: IDL.Type, value: unknown, name: string): [IDL.Type, unknown] | undefined {
  const resolved = resolve(type);
  if (!(resolved instanceof IDL.RecordClass || resolved instanceof IDL.VariantClass)) return undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  const id = idlLabelToId(name);
  const entry = resolved._fields.find(([label]) => idlLabelToId(label) === id);
  if (entry === undefined || !(entry[0] in value)) return undefined;
  return [entry[1], (value as Record<string, unknown>)[entry[0]]];
}

/** `variant { Callback: record { callback: func; token: T } }`, or undefined when it is not that shape. */
export function parseStrategy(strategy: Unknown): StreamingCallback | undefined {
  const callbackRecord = field(strategy.type(), strategy, 'Callback');
  if (callbackRecord === undefined) return undefined;
  const callback = field(callbackRecord[0], callbackRecord[1], 'callback');
  const token = field(callbackRecord[0], callbackRecord[1], 'token');
  if (callback === undefined || token === undefined || !(resolve(callback[0]) instanceof IDL.FuncClass)) return undefined;
  return { callback: callback[1] as [Principal, string], token: new Uint8Array(IDL.encode([token[0]], [token[1]])) };
}

/** Encodes a callback's token back to Candid with the type it was decoded with. */
export function encodeToken(token: Unknown): Uint8Array {
  return new Uint8Array(IDL.encode([token.type()], [token]));
}
