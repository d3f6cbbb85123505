export * from './encoding.js';
export * from './signature.js';
export * from './receipt.js';
export * from './request-auth.js';
export type * from './api.js';
export * from './metering.js';
