/** The registry canister's Candid contract: wire types, IDL, methods and the generated registry.did. */
export * from './errors.js';
export * from './discovery.js';
export * from './tasks.js';
export * from './namespaces.js';
export * from './bonds.js';
export * from './credit.js';
export * from './methods.js';
