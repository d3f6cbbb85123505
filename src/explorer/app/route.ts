/** Hash routes: `#/<view>[/<id>][?query]`, so every view and filter has a link. */
export interface Route {
  view: 'models' | 'runners' | 'tasks' | 'ledger';
  id: string | undefined;
  query: URLSearchParams;
}

const VIEWS: ReadonlySet<string> = new Set(['models', 'runners', 'tasks', 'ledger']);
const isView = (name: string): name is Route['view'] => VIEWS.has(name);

export function parseRoute(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#\/?/, '').split('?');
  const [view = '', ...rest] = path.split('/');
  const id = rest.length === 0 || rest.join('/') === '' ? undefined : decodeURIComponent(rest.join('/'));
  return { view: isView(view) ? view : 'models', id, query: new URLSearchParams(query) };
}

export function href(view: Route['view'], id?: string, query?: URLSearchParams): string {
  const q = query === undefined || [...query.keys()].length === 0 ? '' : `?${query.toString()}`;
  return `#/${view}${id === undefined ? '' : `/${encodeURIComponent(id)}`}${q}`;
}
