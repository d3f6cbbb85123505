/** Where the local network listens and keeps its state unless told otherwise (light: no engine, no binaryen). */
export const DEFAULT_PORT = 4943;
export const DEFAULT_STATE_DIR = '.deai/localnet';
