import { MAX_PRINCIPAL_BYTES, SUBACCOUNT_BYTES } from './limits.js';
import type { Account } from './types.js';

/** The anonymous principal (0x04) as hex. */
export const ANONYMOUS_OWNER = '04';
const ZERO_SUBACCOUNT = '00'.repeat(SUBACCOUNT_BYTES);
const HEX = /^(?:[0-9a-f]{2})*$/;

/**
 * The key under which an account's balance lives: the default subaccount (absent or 32 zero bytes) is the owner
 * alone, so both spellings share one balance, as ICRC-1 requires.
 */
export function accountKey(account: Account): string {
  const sub = account.subaccount;
  return sub === undefined || sub === ZERO_SUBACCOUNT ? account.owner : `${account.owner}.${sub}`;
}

export function sameAccount(a: Account, b: Account): boolean {
  return accountKey(a) === accountKey(b);
}

/** Why an account is malformed, or undefined when it is well formed. */
export function accountProblem(account: Account): string | undefined {
  if (!HEX.test(account.owner) || account.owner.length === 0 || account.owner.length > MAX_PRINCIPAL_BYTES * 2)
    return 'owner is not a principal';
  if (account.subaccount !== undefined && (account.subaccount.length !== SUBACCOUNT_BYTES * 2 || !HEX.test(account.subaccount))) {
    return `subaccount must be exactly ${SUBACCOUNT_BYTES} bytes`;
  }
  return undefined;
}
