/** `deai runner status` exits with this when the runner is not registered or not live, so health checks can tell. */
export const NOT_LIVE_EXIT_CODE = 3;
