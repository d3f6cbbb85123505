import { Principal } from '@dfinity/principal';

import { TASK_STATES } from '../../../core/tasks/states.js';
import { ExplorerError, fromRegistry, okOf } from '../client.js';
import { badge, empty, filterForm, h, link, table } from '../dom.js';
import { ago, isoTime, short, tokens } from '../format.js';
import { href, type Route } from '../route.js';
import type { TaskFilterArg, TaskListItem, TaskView } from '../types.js';
import type { Context, View } from './view.js';

const STATES = ['', ...TASK_STATES];
export const TASK_HEADERS = ['Task', 'State', 'Model', 'Reward', 'Runners', 'Tokens in/out', 'Created'];

const runnerLink = (id: string): HTMLElement => link(href('runners', id), short(id), { title: id, 'data-runner': id });

export function taskRows(items: TaskListItem[]): Array<Array<Node | string>> {
  return items.map((t) => [
    link(href('tasks', t.id), t.id, { 'data-task': t.id }),
    badge(t.state),
    t.model,
    tokens(t.reward_e8s),
    t.runners.length === 0 ? '—' : h('span', {}, ...t.runners.flatMap((r, i) => [i === 0 ? '' : ', ', runnerLink(r.toText())])),
    t.results === 0 ? '—' : `${t.input_tokens} / ${t.output_tokens}`,
    ago(t.created_at_ns)
  ]);
}

function principalOf(text: string | null, field: string): [] | [Principal] {
  if (text === null) return [];
  try {
    return [Principal.fromText(text)];
  } catch {
    throw new ExplorerError('CallFailed', `${field}: "${text}" is not a principal`);
  }
}

async function taskList(ctx: Context, route: Route): Promise<HTMLElement> {
  const q = route.query;
  const state = q.get('state');
  const filter: TaskFilterArg = {
    requester: principalOf(q.get('requester'), 'requester'),
    runner: principalOf(q.get('runner'), 'runner'),
    state: state === null ? [] : [state]
  };
  const after = q.get('after');
  const page = okOf(await fromRegistry(ctx.client, (r) => r.list_tasks(filter, { after: after === null ? [] : [after], limit: [25] })));
  const next = page.next[0];
  const older = new URLSearchParams(q);
  if (next !== undefined) older.set('after', next);
  return h(
    'div',
    {},
    page.items.length === 0
      ? empty(after === null && state === null ? 'No task has been submitted yet.' : 'No task matches these filters.')
      : table(TASK_HEADERS, taskRows(page.items), { id: 'tasks-table' }),
    h(
      'p',
      { class: 'pager' },
      after === null ? null : link(href('tasks', undefined, new URLSearchParams([...q].filter(([k]) => k !== 'after'))), '← newest'),
      ' ',
      next === undefined ? null : link(href('tasks', undefined, older), 'older →')
    )
  );
}

interface Step {
  atNs: bigint;
  what: string;
  runner?: string;
}

/** The task's life from what the registry records: created, escrowed, leased, results, failures, review, outcome. */
function timeline(task: TaskView): Step[] {
  const steps: Step[] = [{ atNs: task.created_at_ns, what: 'submitted' }];
  if (task.escrow_block[0] !== undefined)
    steps.push({ atNs: task.created_at_ns, what: `reward escrowed (ledger block ${task.escrow_block[0]})` });
  for (const l of task.leases)
    steps.push({ atNs: l.claimed_at_ns, what: `leased (until ${isoTime(l.expires_at_ns)})`, runner: l.runner.toText() });
  for (const r of task.results)
    steps.push({
      atNs: r.at_ns,
      what: `result ${short(r.output_digest)} · ${r.input_tokens} in / ${r.output_tokens} out tokens · ${Math.round(r.total_ms)} ms`,
      runner: r.runner.toText()
    });
  for (const f of task.failures) steps.push({ atNs: f.at_ns, what: `failed: ${f.reason}`, runner: f.runner.toText() });
  steps.sort((a, b) => (a.atNs < b.atNs ? -1 : a.atNs > b.atNs ? 1 : 0));
  const review = task.review_ends_at_ns[0];
  if (review !== undefined && task.state === 'review')
    steps.push({ atNs: review, what: 'review window ends; accepted unless the requester rejects' });
  steps.push({ atNs: -1n, what: `now ${task.state}${task.outcome[0] === undefined ? '' : `: ${task.outcome[0]}`}` });
  return steps;
}

async function taskDetail(ctx: Context, id: string): Promise<HTMLElement> {
  const found = await fromRegistry(ctx.client, (r) => r.get_task(id));
  const task = found[0];
  if (task === undefined) return empty(`No task ${id}.`);
  const quote = await fromRegistry(ctx.client, (r) => r.quote_reward(task.reward_e8s, task.redundancy));
  const paid = new Set(task.paid_runners.map((p) => p.toText()));
  const usage = task.results.reduce((sum, r) => ({ input: sum.input + r.input_tokens, output: sum.output + r.output_tokens }), {
    input: 0n,
    output: 0n
  });
  const facts: Array<[string, Node | string]> = [
    ['Task', h('code', { id: 'task-id' }, task.id)],
    ['State', h('span', { id: 'task-state' }, badge(task.state))],
    ['Model', link(href('models', undefined, new URLSearchParams({ model: task.model })), task.model)],
    [
      'Requester',
      h(
        'span',
        {},
        link(href('ledger', undefined, new URLSearchParams({ account: task.requester.toText() })), short(task.requester.toText()), {
          title: task.requester.toText()
        }),
        ' · ',
        link(href('tasks', undefined, new URLSearchParams({ requester: task.requester.toText() })), 'their tasks')
      )
    ],
    [
      'Reward',
      h(
        'span',
        { id: 'task-reward' },
        `${tokens(task.reward_e8s)} (protocol fee ${tokens(quote.protocol_fee_e8s)}, per runner net ${tokens(quote.per_runner_net_e8s)})`
      )
    ],
    ['Redundancy', String(task.redundancy)],
    [
      'Usage',
      task.results.length === 0
        ? 'no result yet'
        : `${usage.input} input / ${usage.output} output tokens (limit ${task.limits.max_output_tokens})`
    ],
    ['Deadline', `${isoTime(task.deadline_ns)} (${ago(task.deadline_ns)})`],
    ['Paid runners', paid.size === 0 ? 'none' : h('span', {}, ...[...paid].flatMap((p, i) => [i === 0 ? '' : ', ', runnerLink(p)]))]
  ];
  return h(
    'div',
    {},
    h('dl', { class: 'facts' }, ...facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    h('h2', {}, 'Timeline'),
    h(
      'ol',
      { class: 'timeline', id: 'task-timeline' },
      ...timeline(task).map((s) =>
        h(
          'li',
          {},
          h('time', {}, s.atNs < 0n ? '' : isoTime(s.atNs)),
          h('span', {}, s.what),
          s.runner === undefined ? null : h('span', {}, ' by ', runnerLink(s.runner))
        )
      )
    ),
    ...task.results.flatMap((r) =>
      r.output[0] === undefined ? [] : [h('h2', {}, `Output of ${short(r.runner.toText())}`), h('pre', { class: 'output' }, r.output[0])]
    )
  );
}

/** Tasks: newest first with filters and paging, and one task's timeline, runners, usage and reward. */
export const tasksView: View = {
  title: (route) => (route.id === undefined ? 'Tasks' : `Task ${route.id}`),
  controls(ctx, route) {
    if (route.id !== undefined) return h('p', {}, link(href('tasks'), '← all tasks'));
    return filterForm(
      [
        { name: 'state', label: 'State', value: route.query.get('state') ?? '', options: STATES },
        { name: 'requester', label: 'Requester', value: route.query.get('requester') ?? '', placeholder: 'principal' },
        { name: 'runner', label: 'Runner', value: route.query.get('runner') ?? '', placeholder: 'principal' }
      ],
      (values) => ctx.navigate(href('tasks', undefined, values))
    );
  },
  data: (ctx, route) => (route.id === undefined ? taskList(ctx, route) : taskDetail(ctx, route.id))
};
