import { balanceOf, ExplorerError, parsePrincipal, recentBlocks, tokenFacts } from '../client.js';
import { empty, filterForm, h, link, table } from '../dom.js';
import { ago, short, tokens } from '../format.js';
import { href, type Route } from '../route.js';
import type { AccountLike } from '../types.js';
import type { Context, View } from './view.js';

const RECENT_BLOCKS = 25n;

function accountOf(owner: string, subaccountHex: string | null): AccountLike {
  const principal = parsePrincipal(owner, 'account');
  if (subaccountHex === null) return principal;
  if (!/^[0-9a-f]{64}$/i.test(subaccountHex)) throw new ExplorerError('CallFailed', 'subaccount must be 64 hex digits');
  return { owner: principal, subaccount: Uint8Array.from(subaccountHex.match(/../g) ?? [], (b) => parseInt(b, 16)) };
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
  const [{ symbol, decimals, feeE8s, supplyE8s }, log] = await Promise.all([
    tokenFacts(ctx.client),
    recentBlocks(ctx.client, RECENT_BLOCKS)
  ]);
  const amount = (value: bigint | undefined): string => (value === undefined ? '—' : tokens(value, decimals, symbol));
  let balance: HTMLElement | null = null;
  if (owner !== null) {
    const value = await balanceOf(ctx.client, accountOf(owner, route.query.get('subaccount')));
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
  const rows = [...log.blocks].sort((a, b) => (a.id < b.id ? 1 : -1));
  return h(
    'div',
    {},
    h(
      'p',
      { class: 'hint' },
      `${symbol} ledger ${ctx.client.ledgerId ?? ''} · fee ${amount(feeE8s)} · supply ${amount(supplyE8s)} · ${log.length} blocks`
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
            amount(r.amountE8s),
            amount(r.feeE8s),
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
