import { Principal } from '@dfinity/principal';

import { ExplorerError, fromRegistry, okOf } from '../client.js';
import { badge, empty, filterForm, h, link, table } from '../dom.js';
import { ago, duration, nowNs, percent, short } from '../format.js';
import { href, type Route } from '../route.js';
import type { Breakdown, Reputation, RunnerView } from '../types.js';
import { FIND_FIELDS, findRequestOf } from './find.js';
import { hardwareOf } from './hardware.js';
import { taskRows, TASK_HEADERS } from './tasks.js';
import type { Context, View } from './view.js';

const stateOf = (r: RunnerView): string =>
  r.suspended.length > 0 ? 'suspended' : !r.live ? 'offline' : (r.heartbeat[0]?.state ?? 'unknown');
const slotsOf = (r: RunnerView): number => r.deployments.reduce((sum, d) => sum + d.slots, 0);
const loadOf = (r: RunnerView): string => {
  const hb = r.heartbeat[0];
  return hb === undefined
    ? '—'
    : `${hb.busy_slots}/${slotsOf(r)} busy · queue ${hb.queue_depth} · ${hb.tokens_per_second.toFixed(1)} tok/s`;
};
const reputationText = (rep: Reputation | undefined): string =>
  rep === undefined
    ? 'none yet'
    : `${rep.completed} done · ${rep.failed} failed · ${rep.rejected} rejected · ${rep.expired_leases} expired · ${Math.round(rep.latency_ms_ema)} ms`;
const runnerLink = (id: string): HTMLElement => link(href('runners', id), short(id), { title: id, 'data-runner': id });

function breakdownBars(b: Breakdown): HTMLElement {
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
  const candidates = okOf(await fromRegistry(ctx.client, (r) => r.find_runners(findRequestOf(route.query, 20))));
  if (candidates.length === 0) return empty('No live runner matches this request.');
  return table(
    ['Rank', 'Runner', 'Model', 'Score', 'Breakdown', 'Free slots', 'Price in/out per M', 'Heartbeat'],
    candidates.map((c, i) => [
      String(i + 1),
      runnerLink(c.runner.toText()),
      c.model.id,
      String(c.score),
      breakdownBars(c.breakdown),
      String(c.free_slots),
      `${c.input_price_per_million} / ${c.output_price_per_million}`,
      `${duration(c.heartbeat_age_ns)} ago`
    ]),
    { id: 'ranking-table' }
  );
}

async function runnerList(ctx: Context, route: Route): Promise<HTMLElement> {
  const model = route.query.get('model');
  const page = okOf(
    await fromRegistry(ctx.client, (r) =>
      r.list_runners(
        { model: model === null ? [] : [model], live_only: route.query.get('live') === '1' ? [true] : [] },
        { after: [], limit: [100] }
      )
    )
  );
  if (page.items.length === 0) return empty(model === null ? 'No runner is registered yet.' : `No runner serves ${model}.`);
  const reputations = await Promise.all(page.items.map((r) => fromRegistry(ctx.client, (reg) => reg.get_reputation(r.id))));
  const now = nowNs();
  return table(
    ['Runner', 'State', 'Region', 'Hardware', 'Deployments', 'Load', 'Reputation', 'Heartbeat'],
    page.items.map((r, i) => [
      runnerLink(r.id.toText()),
      badge(stateOf(r)),
      r.region,
      hardwareOf(r.manifest_json),
      r.deployments.map((d) => `${d.model_id} (${d.engine}, ${d.slots} slots)`).join(', '),
      loadOf(r),
      reputationText(reputations[i]?.[0]),
      r.heartbeat[0] === undefined ? 'never' : ago(r.heartbeat[0].at_ns, now)
    ]),
    { id: 'runners-table' }
  );
}

async function runnerDetail(ctx: Context, id: string): Promise<HTMLElement> {
  let principal: Principal;
  try {
    principal = Principal.fromText(id);
  } catch {
    throw new ExplorerError('CallFailed', `"${id}" is not a principal`);
  }
  const [found, reputation, tasks] = await Promise.all([
    fromRegistry(ctx.client, (r) => r.get_runner(principal)),
    fromRegistry(ctx.client, (r) => r.get_reputation(principal)),
    fromRegistry(ctx.client, (r) => r.list_tasks({ requester: [], runner: [principal], state: [] }, { after: [], limit: [20] }))
  ]);
  const runner = found[0];
  if (runner === undefined) return empty(`No runner ${id} is registered.`);
  const hb = runner.heartbeat[0];
  const facts: Array<[string, Node | string]> = [
    ['Principal', h('code', { id: 'runner-principal' }, runner.id.toText())],
    ['State', badge(stateOf(runner))],
    ['Operator', runner.operator],
    ['Region', runner.region],
    ['Endpoint', runner.endpoint[0] ?? 'none published'],
    ['Hardware', hardwareOf(runner.manifest_json)],
    ['Load', loadOf(runner)],
    ['KV cache', hb === undefined ? '—' : percent(hb.kv_cache_usage)],
    ['Last heartbeat', hb === undefined ? 'never' : ago(hb.at_ns)],
    ['Registered', ago(runner.registered_at_ns)],
    ['Reputation', reputationText(reputation[0])]
  ];
  const taskPage = okOf(tasks);
  return h(
    'div',
    {},
    h('dl', { class: 'facts' }, ...facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    h('h2', {}, 'Deployments'),
    table(
      ['Model', 'Engine', 'Context', 'Slots', 'Price in/out per M'],
      runner.deployments.map((d) => [
        link(href('models', undefined, new URLSearchParams({ model: d.model_id })), d.model_id),
        `${d.engine} ${d.engine_version}`,
        d.served_context.toString(),
        String(d.slots),
        `${d.input_price_per_million} / ${d.output_price_per_million}`
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
