import { IDL } from '@dfinity/candid';
import { candidEncode } from 'azle';

import type { Candidate } from '../../src/core/registry/index.js';
import { Candidate as CandidateType } from '../../src/interface/registry/index.js';

/**
 * find_runners replies encoded by the canister's native (Rust) Candid encoder from Candid text: under QuickJS,
 * @dfinity/candid's encodeValue costs ~9M instructions per candidate, the native encoder a small fraction. The text is
 * annotated with the reply type, so the bytes decode as `variant { Ok : vec Candidate; Err : RegistryError }`
 * (a variant with fewer tags is a subtype).
 */
function text(value: string): string {
  const escaped = value.replace(/[\\"]/g, '\\$&').replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u{${c.charCodeAt(0).toString(16)}}`);
  return `"${escaped}"`;
}

const f64 = (value: number): string => `${(Number.isFinite(value) ? value : 0).toFixed(9)} : float64`;

function candidate(c: Candidate): string {
  const b = c.breakdown;
  return [
    'record {',
    `runner = principal ${text(c.runnerId)};`,
    `endpoint = ${text(c.endpoint ?? '')};`,
    `region = ${text(c.region)};`,
    `model = record { id = ${text(c.model.id)}; digest = ${text(c.model.digest)} };`,
    `engine = ${text(c.engine)};`,
    `deployment = ${c.deployment} : nat32;`,
    `input_price_per_million = ${c.inputPricePerMillion} : nat;`,
    `output_price_per_million = ${c.outputPricePerMillion} : nat;`,
    `state = ${text(c.state)};`,
    `free_slots = ${c.freeSlots} : nat32;`,
    `heartbeat_age_ns = ${c.heartbeatAgeNs} : nat64;`,
    `score = ${c.score} : nat32;`,
    `breakdown = record { load = ${f64(b.load)}; freshness = ${f64(b.freshness)}; price = ${f64(b.price)}; reputation = ${f64(b.reputation)}; latency = ${f64(b.latency)}; efficiency = ${f64(b.efficiency)} };`,
    `affinity = ${c.affinity ? 'true' : 'false'};`,
    `confidential_kind = ${text(c.confidentialKind)};`,
    `confidential_verified = ${c.confidentialVerified ? 'true' : 'false'};`,
    `served_context = opt (${c.servedContext} : nat64)`,
    '}'
  ].join(' ');
}

/** The whole reply is annotated with its type, so the native encoder never has to infer one. */
const REPLY_TYPE = `variant { Ok : ${IDL.Vec(CandidateType).display()} }`;

/** The Ok reply of find_runners. */
export function candidatesReply(candidates: Candidate[]): Uint8Array {
  return candidEncode(`(variant { Ok = vec { ${candidates.map(candidate).join('; ')} } } : ${REPLY_TYPE})`);
}
