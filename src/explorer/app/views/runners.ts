import { findRunners, listRunners, listTasks, parsePrincipal, tryGetReputation, tryGetRunner } from '../client.js';
import { badge, empty, filterForm, h, link, table } from '../dom.js';
import { ago, duration, nowNs, percent, short } from '../format.js';
import { href, type Route } from '../route.js';
import type { Reputation, RunnerInfo, ScoreBreakdown } from '../types.js';
import { FIND_FIELDS, findRequestOf } from './find.js';
import { hardwareOf } from './hardware.js';
import { taskRows, TASK_HEADERS } from './tasks.js';
import type { Context, View } from './view.js';

const stateOf = (r: RunnerInfo): string =>
  r.suspended !== undefined ? 'suspended' : !r.live ? 'offline' : (r.heartbeat?.state ?? 'unknown');
const slotsOf = (r: RunnerInfo): number => r.deployments.reduce((sum, d) => sum + d.slots, 0);
const loadOf = (r: RunnerInfo): string => {
  const hb = r.heartbeat;
  return hb === undefined ? '—' : `${hb.busySlots}/${slotsOf(r)} busy · queue ${hb.queueDepth} · ${hb.tokensPerSecond.toFixed(1)} tok/s`;
};
const reputationText = (rep: Reputation | undefined): string =>
  rep === undefined
    ? 'none yet'
    : `${rep.completed} done · ${rep.failed} failed · ${rep.rejected} rejected · ${rep.expiredLeases} expired · ${Math.round(rep.latencyMsEma)} ms`;
const runnerLink = (id: string): HTMLElement => link(href('runners', id), short(id), { title: id, 'data-runner': id });

function breakdownBars(b: ScoreBreakdown): HTMLElement {
  return h(
    'div',
    { class: 'bars' },
    ...(['load', 'freshness', 'price', 'reputation', 'latency', 'efficiency'] as const).map((key) =>
      h(
        'div',
        { class: 'bar', title: `${key}: ${b[key].toFixed(3)}` },
        h('span', {}, key),
        h('i', { style: `width:${Math.round(Math.min(1, Math.max(0, b[key])) * 100)}%` }),
        h('b', {}, b[key].toFixed(2))
      )
    )
  );
}

async function ranking(ctx: Context, route: Route): Promise<HTMLElement> {
  const candidates = await findRunners(ctx.client, findRequestOf(route.query, 20));
  if (candidates.length === 0) return empty('No live runner matches this request.');
  return table(
    ['Rank', 'Runner', 'Model', 'Score', 'Breakdown', 'Free slots', 'Price in/out per M', 'Heartbeat'],
    candidates.map((c, i) => [
      String(i + 1),
      runnerLink(c.runner),
      c.model.id,
      String(c.score),
      breakdownBars(c.breakdown),
      String(c.freeSlots),
      `${c.inputPricePerMillion} / ${c.outputPricePerMillion}`,
      `${duration(c.heartbeatAgeNs)} ago`
    ]),
    { id: 'ranking-table' }
  );
}

async function runnerList(ctx: Context, route: Route): Promise<HTMLElement> {
  const model = route.query.get('model');
  const page = await listRunners(
    ctx.client,
    { ...(model === null ? {} : { model }), ...(route.query.get('live') === '1' ? { liveOnly: true } : {}) },
    100
  );
  if (page.items.length === 0) return empty(model === null ? 'No runner is registered yet.' : `No runner serves ${model}.`);
  const reputations = await Promise.all(page.items.map((r) => tryGetReputation(ctx.client, r.id)));
  const now = nowNs();
  return table(
    ['Runner', 'State', 'Region', 'Hardware', 'Deployments', 'Load', 'Reputation', 'Heartbeat'],
    page.items.map((r, i) => [
      runnerLink(r.id),
      badge(stateOf(r)),
      r.region,
      hardwareOf(r.manifestJson),
      r.deployments.map((d) => `${d.modelId} (${d.engine}, ${d.slots} slots)`).join(', '),
      loadOf(r),
      reputationText(reputations[i]),
      r.heartbeat === undefined ? 'never' : ago(r.heartbeat.atNs, now)
    ]),
    { id: 'runners-table' }
  );
}

async function runnerDetail(ctx: Context, id: string): Promise<HTMLElement> {
  const principal = parsePrincipal(id, 'runner');
  const [runner, reputation, taskPage] = await Promise.all([
    tryGetRunner(ctx.client, principal),
    tryGetReputation(ctx.client, principal),
    listTasks(ctx.client, { runner: principal }, { limit: 20 })
  ]);
  if (runner === undefined) return empty(`No runner ${id} is registered.`);
  const hb = runner.heartbeat;
  const facts: Array<[string, Node | string]> = [
    ['Principal', h('code', { id: 'runner-principal' }, runner.id)],
    ['State', badge(stateOf(runner))],
    ['Operator', runner.operator],
    ['Region', runner.region],
    ['Endpoint', runner.endpoint ?? 'none published'],
    ['Hardware', hardwareOf(runner.manifestJson)],
    ['Load', loadOf(runner)],
    ['KV cache', hb === undefined ? '—' : percent(hb.kvCacheUsage)],
    ['Last heartbeat', hb === undefined ? 'never' : ago(hb.atNs)],
    ['Registered', ago(runner.registeredAtNs)],
    ['Reputation', reputationText(reputation)]
  ];
  return h(
    'div',
    {},
    h('dl', { class: 'facts' }, ...facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    h('h2', {}, 'Deployments'),
    table(
      ['Model', 'Engine', 'Context', 'Slots', 'Price in/out per M'],
      runner.deployments.map((d) => [
        link(href('models', undefined, new URLSearchParams({ model: d.modelId })), d.modelId),
        `${d.engine} ${d.engineVersion}`,
        d.servedContext.toString(),
        String(d.slots),
        `${d.inputPricePerMillion} / ${d.outputPricePerMillion}`
      ])
    ),
    h('h2', {}, 'Recent tasks'),
    taskPage.items.length === 0 ? empty('This runner has not worked on a task yet.') : table(TASK_HEADERS, taskRows(taskPage.items))
  );
}

/** Runners: the registered list with live state, a runner's page, and a ranking for a chosen request. */
export const runnersView: View = {
  title: (route) => (route.id === undefined ? 'Runners' : `Runner ${short(route.id)}`),
  controls(ctx, route) {
    if (route.id !== undefined) return h('p', {}, link(href('runners'), '← all runners'));
    return h(
      'div',
      {},
      h('p', { class: 'hint' }, 'Rank runners for a request (as find_runners does); leave every field empty to list them all.'),
      filterForm(
        [
          ...FIND_FIELDS.map((f) => ({ name: f.name, label: f.label, value: route.query.get(f.name) ?? '' })),
          { name: 'live', label: 'Live only', value: route.query.get('live') ?? '', options: ['', '1'] }
        ],
        (values) => ctx.navigate(href('runners', undefined, values))
      )
    );
  },
  async data(ctx, route) {
    if (route.id !== undefined) return runnerDetail(ctx, route.id);
    const ranked = [...route.query.keys()].some((k) => k !== 'live');
    const [list, rank] = await Promise.all([runnerList(ctx, route), ranked ? ranking(ctx, route) : Promise.resolve(undefined)]);
    return h(
      'div',
      {},
      rank === undefined ? null : h('section', { class: 'card' }, h('h2', {}, 'Ranked for this request'), rank),
      h('h2', {}, 'Registered runners'),
      list
    );
  }
};
