import { History } from './chart.js';
import { classify, connect, ExplorerError, modelCapacity, type Client } from './client.js';
import { ConfigError, loadConfigFile, resolveConfig, type ExplorerConfig } from './config.js';
import { failure, h, loading } from './dom.js';
import { parseRoute, type Route } from './route.js';
import { ledgerView } from './views/ledger.js';
import { modelsView } from './views/models.js';
import { runnersView } from './views/runners.js';
import { tasksView } from './views/tasks.js';
import type { Context, View } from './views/view.js';

const VIEWS: Record<Route['view'], View> = { models: modelsView, runners: runnersView, tasks: tasksView, ledger: ledgerView };

const app = document.getElementById('app') ?? document.body;
const status = document.getElementById('status');
const footer = document.getElementById('footer');

function setStatus(state: 'loading' | 'live' | 'error', text: string): void {
  if (status === null) return;
  status.dataset.state = state;
  status.textContent = text;
}

const codeOf = (error: unknown): string => (error instanceof ExplorerError || error instanceof ConfigError ? error.code : 'CallFailed');

/** Renders the route: controls once, then the data region (replaced only when a refresh completes). */
class Page {
  private generation = 0;
  private dataRegion: HTMLElement = h('div');
  private busy = false;

  constructor(private readonly ctx: Context) {}

  show(route: Route): void {
    this.generation++;
    const view = VIEWS[route.view];
    document.title = `${view.title(route)} · DeAI explorer`;
    for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a')) a.classList.toggle('active', a.dataset.view === route.view);
    this.dataRegion = h('div', { class: 'data', id: 'data' }, loading(view.title(route).toLowerCase()));
    app.replaceChildren(h('h1', {}, view.title(route)), view.controls?.(this.ctx, route) ?? '', this.dataRegion);
    void this.refresh(route, true);
  }

  async refresh(route: Route, first = false): Promise<void> {
    if (this.busy && !first) return;
    this.busy = true;
    const generation = this.generation;
    try {
      const content = await VIEWS[route.view].data(this.ctx, route);
      if (generation !== this.generation) return;
      this.dataRegion.replaceChildren(content);
      setStatus('live', `live · ${new Date().toLocaleTimeString()}`);
    } catch (error) {
      if (generation !== this.generation) return;
      const classified = classify(error, 'the explorer', this.ctx.client.config.host);
      this.dataRegion.replaceChildren(failure(classified.message, classified.code));
      setStatus('error', classified.code === 'Unreachable' ? 'unreachable' : 'error');
    } finally {
      if (generation === this.generation) this.busy = false;
    }
  }
}

/** Samples capacity on every poll, whatever the view, so the models chart covers the whole page lifetime. */
async function sample(client: Client, history: History): Promise<void> {
  const atMs = Date.now();
  for (const s of await modelCapacity(client)) history.record(s.model, { atMs, readyRunners: s.readyRunners, freeSlots: s.freeSlots });
}

function fatal(error: unknown, config: ExplorerConfig | undefined): void {
  const classified =
    error instanceof ConfigError ? error : classify(error, `registry canister ${config?.registry ?? ''}`, config?.host ?? '');
  const retry = config === undefined ? '' : ` Retrying every ${config.pollMs / 1000} s.`;
  app.replaceChildren(
    h('h1', {}, 'Cannot show the registry'),
    failure(classified.message, codeOf(classified)),
    h('p', { class: 'hint' }, `The page reads config.json next to it; ?host=…&registry=…&ledger=… in the URL override it.${retry}`)
  );
  setStatus('error', classified.code === 'Unreachable' ? 'unreachable' : 'error');
  // A network that is still starting, or canisters not deployed yet: try again (a bad configuration stays an error).
  if (config !== undefined) window.setTimeout(() => void start(), config.pollMs);
}

async function start(): Promise<void> {
  let config: ExplorerConfig | undefined;
  try {
    config = resolveConfig(await loadConfigFile(), new URLSearchParams(location.search), location.origin);
    app.replaceChildren(loading('the registry'));
    const client = await connect(config);
    if (footer !== null)
      footer.textContent = `${config.host} · registry ${config.registry}${client.ledgerId === undefined ? '' : ` · ledger ${client.ledgerId}`} · refresh every ${config.pollMs / 1000} s`;
    const history = new History();
    await sample(client, history);
    const page = new Page({ client, history, navigate: (hash) => (location.hash = hash) });
    const current = (): Route => parseRoute(location.hash);
    window.addEventListener('hashchange', () => page.show(current()));
    page.show(current());
    window.setInterval(() => {
      void sample(client, history)
        .catch(() => undefined)
        .then(() => page.refresh(current()));
    }, config.pollMs);
  } catch (error) {
    fatal(error, config);
  }
}

void start();
