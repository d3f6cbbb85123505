import type { History } from '../chart.js';
import type { Client } from '../client.js';
import type { Route } from '../route.js';

/** What a view gets: the connected client, the capacity history of this page, and a way to change the route. */
export interface Context {
  client: Client;
  history: History;
  navigate(hash: string): void;
}

/**
 * A view has static controls (built once per route, so typing is never interrupted) and a data region that the
 * poll loop rebuilds; `data` throws an ExplorerError for the error state.
 */
export interface View {
  title(route: Route): string;
  controls?(ctx: Context, route: Route): HTMLElement;
  data(ctx: Context, route: Route): Promise<HTMLElement>;
}
