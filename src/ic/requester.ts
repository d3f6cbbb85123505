/** Types the SDK needs from the agent layer, so that src/sdk never imports @dfinity/agent itself. */
export type { HttpAgent, Identity } from '@dfinity/agent';
export { registryClient as requesterRegistry, type ActorOptions, type RegistryActor } from './registry.js';
