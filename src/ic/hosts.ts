/** The local network's default address (light: no agent import, for CLI help texts). */
export const LOCAL_HOST = 'http://127.0.0.1:4943';
