import { capacityChart } from '../chart.js';
import { findRunners, listModels, modelCapacity } from '../client.js';
import { empty, filterForm, h, link, table } from '../dom.js';
import { href, type Route } from '../route.js';
import type { ModelFilter } from '../types.js';
import { FIND_FIELDS, findRequestOf, hasRunnerFilter } from './find.js';
import type { Context, View } from './view.js';

/** Models: published cards with live capacity (stats) and, when filtered like find_runners, matching runners. */
export const modelsView: View = {
  title: () => 'Models',
  controls(ctx, route) {
    return filterForm(
      FIND_FIELDS.map((f) => ({ name: f.name, label: f.label, value: route.query.get(f.name) ?? '' })),
      (values) => ctx.navigate(href('models', undefined, values))
    );
  },
  async data(ctx: Context, route: Route) {
    const q = route.query;
    const filter: ModelFilter = {};
    for (const [key, name] of [
      ['id', 'model'],
      ['family', 'family'],
      ['quantization', 'quantization']
    ] as const) {
      const value = q.get(name);
      if (value !== null) filter[key] = value;
    }
    const [page, stats] = await Promise.all([listModels(ctx.client, filter, 100), modelCapacity(ctx.client)]);
    const cards = page.items;
    const matching = new Map<string, number>();
    if (hasRunnerFilter(q)) {
      const candidates = await findRunners(ctx.client, findRequestOf(q, 100));
      for (const c of candidates) matching.set(c.model.id, (matching.get(c.model.id) ?? 0) + 1);
    }
    const byModel = new Map(stats.map((s) => [s.model, s]));
    const minContext = q.get('min_context');
    const shown = cards.filter(
      (c) =>
        (minContext === null || c.contextLength >= BigInt(/^\d+$/.test(minContext) ? minContext : '0')) &&
        (!hasRunnerFilter(q) || matching.has(c.id))
    );
    const total = ctx.history.total();
    const chart = h(
      'section',
      { class: 'card chart-card' },
      h('h2', {}, 'Capacity over this page’s lifetime'),
      total.length === 0 ? empty('No samples yet.') : capacityChart(total, 'ready runners and free slots, all models'),
      h(
        'p',
        { class: 'legend' },
        h('span', { class: 'key key-ready' }, 'ready runners'),
        ' ',
        h('span', { class: 'key key-free' }, 'free slots'),
        ` · ${total.length} samples`
      )
    );
    if (shown.length === 0)
      return h('div', {}, chart, empty(cards.length === 0 ? 'No model cards are published yet.' : 'No model matches these filters.'));
    const rows = shown.map((card) => {
      const s = byModel.get(card.id);
      const series = ctx.history.of(card.id);
      return [
        h(
          'span',
          {},
          link(href('runners', undefined, new URLSearchParams({ model: card.id })), card.id, { 'data-model': card.id }),
          card.deprecated !== undefined ? h('span', { class: 'badge badge-deprecated' }, 'deprecated') : null
        ),
        `${card.family} · ${card.quantization} · ${card.bits} bits`,
        card.contextLength.toString(),
        String(s?.readyRunners ?? 0),
        String(s?.freeSlots ?? 0),
        String(s?.queueDepth ?? 0),
        s === undefined ? '—' : `${s.medianInputPricePerMillion} / ${s.medianOutputPricePerMillion}`,
        hasRunnerFilter(q) ? String(matching.get(card.id) ?? 0) : '—',
        series.length === 0 ? '' : capacityChart(series, `capacity of ${card.id}`, 120, 32)
      ];
    });
    return h(
      'div',
      {},
      chart,
      table(
        ['Model', 'Card', 'Context', 'Ready runners', 'Free slots', 'Queue', 'Median price in/out per M', 'Matching runners', 'Trend'],
        rows,
        { id: 'models-table' }
      )
    );
  }
};
