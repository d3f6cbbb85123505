/** CLI defaults that help texts show: kept free of imports so that registering a command loads nothing heavy. */
export const DEFAULT_IDENTITY_PATH = '.deai/identity.pem';
export { LOCAL_HOST } from '../ic/hosts.js';
