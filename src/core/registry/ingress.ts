import { MAX_INLINE_INPUT_BYTES, MAX_OUTPUT_BYTES } from '../tasks/limits.js';
import { ANONYMOUS_PRINCIPAL } from './errors.js';
import { MAX_ADMINS, MAX_CARD_BYTES, MAX_MANIFEST_BYTES } from './limits.js';

/**
 * Largest Candid argument (bytes) each registry update method accepts, derived from the field limits: what a valid
 * call can need, plus room for the Candid header and the small fields. `canister_inspect_message` refuses larger
 * ingress before anything is decoded, and each method checks the same bound before it decodes (inspect_message is
 * not a security boundary: it does not run for calls from other canisters).
 */
const SMALL_ARG_BYTES = 4 * 1024;
/** A FindRequest at its bounds: 3 lists of 32 values and ~12 texts of 160 characters, up to 3 UTF-8 bytes each. */
export const MAX_FIND_REQUEST_BYTES = 64 * 1024;

export const MAX_ARG_BYTES: Readonly<Record<string, number>> = {
  publish_model_card: MAX_CARD_BYTES + 1024,
  register_runner: MAX_MANIFEST_BYTES + 1024,
  update_runner: MAX_MANIFEST_BYTES + 1024,
  submit_task: MAX_INLINE_INPUT_BYTES + MAX_FIND_REQUEST_BYTES + SMALL_ARG_BYTES,
  complete_task: MAX_OUTPUT_BYTES + SMALL_ARG_BYTES,
  set_admins: MAX_ADMINS * 40 + 1024,
  find_runners: MAX_FIND_REQUEST_BYTES,
  // A FindRequest, as find_runners takes, and the task's small fields.
  quote_task: MAX_FIND_REQUEST_BYTES + SMALL_ARG_BYTES,
  // MAX_SETTLE_ITEMS items of at most 64 bytes each (nat64 fields, a nat owed below 2^128).
  settle_usage: 256 * 64 + 1024
};

/** The largest argument a method accepts (a small default for the methods with only small fields). */
export const maxArgBytes = (method: string): number => MAX_ARG_BYTES[method] ?? SMALL_ARG_BYTES;

export interface Ingress {
  method: string;
  argBytes: number;
  caller: string;
  /** Whether `method` is a public method of the registry's interface. */
  known: boolean;
  /** Whether the method only reads (a query called through the update path). */
  readOnly: boolean;
}

/**
 * Admin methods are not refused here: a non-admin gets the typed `Unauthorized` from the method, whose first check
 * it is (cheap), so clients keep a typed answer.
 */
export type IngressRefusal = 'UnknownMethod' | 'ArgumentTooLarge' | 'AnonymousCaller';

/**
 * Why ingress would be refused before it runs, cheapest check first; undefined to accept. Pure: the canister's
 * inspect_message passes the method name, the argument's size and the caller, never the decoded argument.
 */
export function inspectIngress(ingress: Ingress): IngressRefusal | undefined {
  if (!ingress.known) return 'UnknownMethod';
  if (ingress.argBytes > maxArgBytes(ingress.method)) return 'ArgumentTooLarge';
  if (ingress.readOnly) return undefined;
  if (ingress.caller === ANONYMOUS_PRINCIPAL) return 'AnonymousCaller';
  return undefined;
}
