import { HttpAgent, type Identity } from '@dfinity/agent';

import { IcError } from './errors.js';

export { LOCAL_HOST } from './hosts.js';

/** True for hosts whose root key must be fetched (anything but mainnet). */
export function isLocalHost(host: string): boolean {
  return !/^https:\/\/(icp-api\.io|icp0\.io|ic0\.app)/.test(host);
}

/** An agent that verifies everything with the network's root key (fetched for local networks). */
export async function createAgent(host: string, identity?: Identity): Promise<HttpAgent> {
  try {
    return await HttpAgent.create({ host, identity, shouldFetchRootKey: isLocalHost(host) });
  } catch (error) {
    throw new IcError(
      'NetworkUnreachable',
      `Cannot reach the IC network at ${host}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error }
    );
  }
}
