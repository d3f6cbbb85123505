/** The management canister's Candid, as the localnet serves it and deploy tooling calls it. */
export * from './idl.js';
export * from './methods.js';
