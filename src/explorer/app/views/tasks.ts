import { TASK_STATES } from '../../../sdk/task-types.js';
import { ExplorerError, listTasks, parsePrincipal, quoteReward, tryGetTask } from '../client.js';
import { badge, empty, filterForm, h, link, table } from '../dom.js';
import { ago, isoTime, short, tokens } from '../format.js';
import { href, type Route } from '../route.js';
import type { Task, TaskFilter, TaskState, TaskSummary } from '../types.js';
import type { Context, View } from './view.js';

const STATES = ['', ...TASK_STATES];
export const TASK_HEADERS = ['Task', 'State', 'Model', 'Reward', 'Runners', 'Tokens in/out', 'Created'];

const runnerLink = (id: string): HTMLElement => link(href('runners', id), short(id), { title: id, 'data-runner': id });

/** Private content the registry leaves out for whoever is not the requester, one of its runners or an admin. */
export const PRIVATE = 'private (only the requester, its runners and admins can read it)';

export function taskRows(items: TaskSummary[]): Array<Array<Node | string>> {
  return items.map((t) => [
    link(href('tasks', t.id), t.id, { 'data-task': t.id }),
    badge(t.state),
    t.model,
    tokens(t.rewardE8s),
    t.runners.length === 0 ? '—' : h('span', {}, ...t.runners.flatMap((r, i) => [i === 0 ? '' : ', ', runnerLink(r)])),
    t.results === 0 ? '—' : `${t.inputTokens} / ${t.outputTokens}`,
    ago(t.createdAtNs)
  ]);
}

function stateOf(text: string): TaskState {
  const state = TASK_STATES.find((s) => s === text);
  if (state === undefined) throw new ExplorerError('CallFailed', `state: "${text}" is not one of ${TASK_STATES.join(', ')}`);
  return state;
}

async function taskList(ctx: Context, route: Route): Promise<HTMLElement> {
  const q = route.query;
  const state = q.get('state');
  const requester = q.get('requester');
  const runner = q.get('runner');
  const filter: TaskFilter = {
    ...(requester === null ? {} : { requester: parsePrincipal(requester, 'requester') }),
    ...(runner === null ? {} : { runner: parsePrincipal(runner, 'runner') }),
    ...(state === null ? {} : { state: stateOf(state) })
  };
  const after = q.get('after');
  const page = await listTasks(ctx.client, filter, { ...(after === null ? {} : { after }), limit: 25 });
  const next = page.next;
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
function timeline(task: Task): Step[] {
  const steps: Step[] = [{ atNs: task.createdAtNs, what: 'submitted' }];
  if (task.escrowBlock !== undefined) steps.push({ atNs: task.createdAtNs, what: `reward escrowed (ledger block ${task.escrowBlock})` });
  for (const l of task.leases) steps.push({ atNs: l.claimedAtNs, what: `leased (until ${isoTime(l.expiresAtNs)})`, runner: l.runner });
  for (const r of task.results)
    steps.push({
      atNs: r.atNs,
      what: `result ${r.outputDigest === '' ? '(digest sealed until the task settles)' : short(r.outputDigest)} · ${r.inputTokens} in / ${r.outputTokens} out tokens · ${Math.round(r.totalMs)} ms`,
      runner: r.runner
    });
  for (const f of task.failures) steps.push({ atNs: f.atNs, what: `failed: ${f.reason}`, runner: f.runner });
  steps.sort((a, b) => (a.atNs < b.atNs ? -1 : a.atNs > b.atNs ? 1 : 0));
  if (task.reviewEndsAtNs !== undefined && task.state === 'review')
    steps.push({ atNs: task.reviewEndsAtNs, what: 'review window ends; accepted unless the requester rejects' });
  steps.push({ atNs: -1n, what: `now ${task.state}${task.outcome === undefined ? '' : `: ${task.outcome}`}` });
  return steps;
}

/**
 * Content the caller may read, kept inline or stored elsewhere (a reference); when the registry left both out (it
 * redacts prompts and outputs by the task privacy rules, README "Task privacy"), it says so.
 */
function content(inline: string | undefined, reference: string | undefined, attrs: Record<string, string>): HTMLElement {
  if (inline !== undefined) return h('pre', { class: 'output', ...attrs }, inline);
  if (reference !== undefined) return h('p', attrs, `stored at ${reference}`);
  return h('p', { class: 'hint private', ...attrs }, PRIVATE);
}

async function taskDetail(ctx: Context, id: string): Promise<HTMLElement> {
  const task = await tryGetTask(ctx.client, id);
  if (task === undefined) return empty(`No task ${id}.`);
  const quote = await quoteReward(ctx.client, task.rewardE8s, task.redundancy);
  const paid = new Set(task.paidRunners);
  const usage = task.results.reduce((sum, r) => ({ input: sum.input + r.inputTokens, output: sum.output + r.outputTokens }), {
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
        link(href('ledger', undefined, new URLSearchParams({ account: task.requester })), short(task.requester), {
          title: task.requester
        }),
        ' · ',
        link(href('tasks', undefined, new URLSearchParams({ requester: task.requester })), 'their tasks')
      )
    ],
    [
      'Reward',
      h(
        'span',
        { id: 'task-reward' },
        `${tokens(task.rewardE8s)} budget (at most ${tokens(quote.perRunnerNetE8s)} per runner; paid by metered tokens, the rest refunded)`
      )
    ],
    ['Redundancy', String(task.redundancy)],
    [
      'Usage',
      task.results.length === 0
        ? 'no result yet'
        : `${usage.input} input / ${usage.output} output tokens (limit ${task.limits.maxOutputTokens})`
    ],
    ['Deadline', `${isoTime(task.deadlineNs)} (${ago(task.deadlineNs)})`],
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
    h('h2', {}, 'Prompt'),
    content(task.input.inline, task.input.reference, { id: 'task-prompt' }),
    ...task.results.flatMap((r) => [
      h('h2', {}, `Output of ${short(r.runner)}`),
      content(r.output, r.reference, { 'data-output': r.runner })
    ])
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
