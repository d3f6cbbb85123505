import { Principal } from '@dfinity/principal';

import { blockRow } from '../blocks.js';
import { ExplorerError, fromLedger } from '../client.js';
import { empty, filterForm, h, link, table } from '../dom.js';
import { ago, short, tokens } from '../format.js';
import { href, type Route } from '../route.js';
import type { Account } from '../types.js';
import type { Context, View } from './view.js';

const RECENT_BLOCKS = 25n;

function accountOf(owner: string, subaccountHex: string | null): Account {
  let principal: Principal;
  try {
    principal = Principal.fromText(owner);
  } catch {
    throw new ExplorerError('CallFailed', `"${owner}" is not a principal`);
  }
  if (subaccountHex === null) return { owner: principal, subaccount: [] };
  if (!/^[0-9a-f]{64}$/i.test(subaccountHex)) throw new ExplorerError('CallFailed', 'subaccount must be 64 hex digits');
  return { owner: principal, subaccount: [Uint8Array.from(subaccountHex.match(/../g) ?? [], (b) => parseInt(b, 16))] };
}

const accountLink = (text: string | undefined): Node | string => {
  if (text === undefined) return '—';
  const [owner = '', sub] = text.split('.');
  const query = new URLSearchParams({ account: owner });
  if (sub !== undefined) query.set('subaccount', sub);
  return link(href('ledger', undefined, query), short(text), { title: text, 'data-account': text });
};

async function ledgerData(ctx: Context, route: Route): Promise<HTMLElement> {
  const owner = route.query.get('account');
  const [symbol, decimals, fee, supply, log] = await Promise.all([
    fromLedger(ctx.client, (l) => l.icrc1_symbol()),
    fromLedger(ctx.client, (l) => l.icrc1_decimals()),
    fromLedger(ctx.client, (l) => l.icrc1_fee()),
    fromLedger(ctx.client, (l) => l.icrc1_total_supply()),
    fromLedger(ctx.client, (l) => l.icrc3_get_blocks([{ start: 0n, length: 0n }]))
  ]);
  const start = log.log_length > RECENT_BLOCKS ? log.log_length - RECENT_BLOCKS : 0n;
  const recent = await fromLedger(ctx.client, (l) => l.icrc3_get_blocks([{ start, length: RECENT_BLOCKS }]));
  const amount = (value: bigint | undefined): string => (value === undefined ? '—' : tokens(value, decimals, symbol));
  let balance: HTMLElement | null = null;
  if (owner !== null) {
    const value = await fromLedger(ctx.client, (l) => l.icrc1_balance_of(accountOf(owner, route.query.get('subaccount'))));
    balance = h(
      'section',
      { class: 'card' },
      h('h2', {}, 'Balance'),
      h('p', { class: 'big', id: 'balance' }, amount(value)),
      h(
        'p',
        { class: 'hint' },
        owner,
        ' · ',
        link(href('tasks', undefined, new URLSearchParams({ requester: owner })), 'tasks it requested'),
        ' · ',
        link(href('tasks', undefined, new URLSearchParams({ runner: owner })), 'tasks it ran')
      )
    );
  }
  const rows = recent.blocks.map((b) => blockRow(b.id, b.block)).sort((a, b) => (a.id < b.id ? 1 : -1));
  return h(
    'div',
    {},
    h(
      'p',
      { class: 'hint' },
      `${symbol} ledger ${ctx.client.ledgerId ?? ''} · fee ${amount(fee)} · supply ${amount(supply)} · ${log.log_length} blocks`
    ),
    balance,
    h('h2', {}, 'Recent blocks'),
    rows.length === 0
      ? empty('The ledger has no blocks yet.')
      : table(
          ['Block', 'Kind', 'From', 'To', 'Amount', 'Fee', 'Memo', 'When'],
          rows.map((r) => [
            String(r.id),
            r.kind,
            accountLink(r.from),
            accountLink(r.to),
            amount(r.amount),
            amount(r.fee),
            r.memo ?? '',
            r.atNs === undefined ? '' : ago(r.atNs)
          ]),
          { id: 'blocks-table' }
        )
  );
}

/** Ledger: token facts, the balance of an account, and the newest ICRC-3 blocks. */
export const ledgerView: View = {
  title: () => 'Ledger',
  controls(ctx, route) {
    return filterForm(
      [
        { name: 'account', label: 'Account owner', value: route.query.get('account') ?? '', placeholder: 'principal' },
        { name: 'subaccount', label: 'Subaccount (hex)', value: route.query.get('subaccount') ?? '', placeholder: 'optional' }
      ],
      (values) => ctx.navigate(href('ledger', undefined, values))
    );
  },
  data: ledgerData
};
