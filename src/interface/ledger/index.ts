/** The ledger canister's Candid contract: wire types, IDL, methods and the generated ledger.did. */
export * from './types.js';
export * from './methods.js';
