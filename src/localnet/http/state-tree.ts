import { Principal } from '@dfinity/principal';

import { buildTree, leb128, type HashTree, type LabeledTree } from '../certification/hash-tree.js';
import { encodeCbor } from '../crypto/cbor.js';
import type { HostKeys } from '../crypto/host-keys.js';
import type { Engine } from '../execution/engine.js';
import type { IngressRecord } from '../execution/messages.js';
import { CANISTER_RANGE_END, CANISTER_RANGE_START, toHex } from '../ids.js';

type MutableTree = Map<string, MutableTree | Uint8Array>;

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
/** Labels are bytes; we key maps by hex so byte labels and text labels never collide. */
const key = (label: Uint8Array | string): string => toHex(typeof label === 'string' ? utf8(label) : label);

function child(tree: MutableTree, label: Uint8Array | string): MutableTree {
  const k = key(label);
  const existing = tree.get(k);
  if (existing instanceof Map) return existing;
  const created: MutableTree = new Map();
  tree.set(k, created);
  return created;
}

function leaf(tree: MutableTree, label: Uint8Array | string, value: Uint8Array): void {
  tree.set(key(label), value);
}

function freeze(tree: MutableTree): LabeledTree {
  const out = new Map<Uint8Array, LabeledTree | Uint8Array>();
  for (const [k, v] of tree) out.set(Buffer.from(k, 'hex'), v instanceof Map ? freeze(v) : v);
  return out;
}

/** `/request_status/<id>/…` for a finished (or running) ingress message. */
export function addRequestStatus(tree: MutableTree, record: IngressRecord): void {
  const node = child(child(tree, 'request_status'), record.requestId);
  leaf(node, 'status', utf8(record.status));
  if (record.status === 'replied' && record.reply !== undefined) leaf(node, 'reply', record.reply);
  if (record.status === 'rejected' && record.reject !== undefined) {
    leaf(node, 'reject_code', leb128(BigInt(record.reject.code)));
    leaf(node, 'reject_message', utf8(record.reject.message));
    leaf(node, 'error_code', utf8(record.reject.errorCode));
  }
}

export function addTime(tree: MutableTree, wallNs: bigint): void {
  leaf(tree, 'time', leb128(wallNs));
}

export function newTree(): MutableTree {
  return new Map();
}

export function finishTree(tree: MutableTree): HashTree {
  return buildTree(freeze(tree));
}

function rangesCbor(): Uint8Array {
  return encodeCbor([[CANISTER_RANGE_START.toUint8Array(), CANISTER_RANGE_END.toUint8Array()]]);
}

function addSubnet(tree: MutableTree, keys: HostKeys): void {
  const subnet = child(child(tree, 'subnet'), keys.subnetId.toUint8Array());
  leaf(subnet, 'canister_ranges', rangesCbor());
  leaf(child(child(subnet, 'node'), keys.nodeId.toUint8Array()), 'public_key', keys.nodeKeyDer);
  leaf(subnet, 'public_key', keys.rootKeyDer);
  leaf(subnet, 'type', utf8('application'));
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => toHex(a) === toHex(b);

/**
 * The certified state tree for a read_state request: exactly the requested paths that exist (plus /time).
 * request_status is revealed only to the request's sender, as the specification requires.
 */
export function readStateTree(engine: Engine, keys: HostKeys, paths: Uint8Array[][], sender: Principal, wallNs: bigint): HashTree {
  const tree = newTree();
  addTime(tree, wallNs);
  for (const path of paths) {
    const [first, second, third, fourth] = path;
    const head = first === undefined ? '' : new TextDecoder().decode(first);
    if (head === 'subnet') {
      if (second === undefined || sameBytes(second, keys.subnetId.toUint8Array())) addSubnet(tree, keys);
    } else if (head === 'canister_ranges') {
      if (second !== undefined && sameBytes(second, keys.subnetId.toUint8Array())) {
        leaf(child(child(tree, 'canister_ranges'), keys.subnetId.toUint8Array()), CANISTER_RANGE_START.toUint8Array(), rangesCbor());
      }
    } else if (head === 'request_status' && second !== undefined) {
      const record = engine.ingressRecord(toHex(second));
      if (record !== undefined && record.sender.toText() === sender.toText()) addRequestStatus(tree, record);
    } else if (head === 'canister' && second !== undefined && third !== undefined) {
      addCanisterPath(tree, engine, Principal.fromUint8Array(second), new TextDecoder().decode(third), fourth, sender);
    }
  }
  return finishTree(tree);
}

function addCanisterPath(
  tree: MutableTree,
  engine: Engine,
  id: Principal,
  field: string,
  name: Uint8Array | undefined,
  sender: Principal
): void {
  const canister = engine.getCanister(id);
  if (canister === undefined) return;
  const node = child(child(tree, 'canister'), id.toUint8Array());
  if (field === 'controllers') {
    leaf(node, 'controllers', encodeCbor(canister.settings.controllers.map((c) => c.toUint8Array())));
  } else if (field === 'module_hash' && canister.loaded !== undefined) {
    leaf(node, 'module_hash', canister.loaded.code.moduleHash);
  } else if (field === 'metadata' && name !== undefined && canister.loaded !== undefined) {
    const section = canister.loaded.code.metadata.get(new TextDecoder().decode(name));
    const visible = section !== undefined && (section.visibility === 'public' || canister.isController(sender.toUint8Array()));
    if (visible) leaf(child(node, 'metadata'), name, section.content);
  }
}

/** Paths clients may not read through read_state (certified_data is only served via ic0.data_certificate). */
export function isForbiddenPath(path: Uint8Array[]): boolean {
  const [first, , third] = path;
  return (
    first !== undefined &&
    new TextDecoder().decode(first) === 'canister' &&
    third !== undefined &&
    new TextDecoder().decode(third) === 'certified_data'
  );
}
