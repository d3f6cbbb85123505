import { query, time, update } from 'azle';
import {
  acceptOperator,
  assignNamespace,
  delegateNamespace,
  getNamespace,
  revokeNamespaceDelegate,
  setQuotas,
  type Quotas
} from '../../src/core/registry/index.js';
import { setBondConfig } from '../../src/core/rewards/index.js';
import { fromOpt as some, opt } from '../../src/interface/candid.js';
import { registryMethods as m } from '../../src/interface/registry/index.js';
import { handle } from './bounded-args.js';
import { bondConfigView, bondView } from './bonds.js';
import { namespaceResult, namespaceView, purgeCards } from './namespaces.js';
import { runnerView } from './views.js';
import { MANUAL, caller, mapResult, state } from './context.js';
import { CreditMethods } from './credit-methods.js';

const quotasView = (q: Quotas) => ({
  runners_per_operator: q.runnersPerOperator,
  open_tasks_per_requester: q.openTasksPerRequester,
  cards_per_publisher: q.cardsPerPublisher
});

/** The canister's quota, namespace, operator and bond methods (namespaces.ts, bonds.ts). */
export class GovernanceMethods extends CreditMethods {
  @update(m.set_quotas.args, m.set_quotas.ret, MANUAL)
  set_quotas(): void {
    handle(m.set_quotas, (a) =>
      mapResult(
        setQuotas(state(), caller(), {
          runnersPerOperator: some(a.runners_per_operator),
          openTasksPerRequester: some(a.open_tasks_per_requester),
          cardsPerPublisher: some(a.cards_per_publisher)
        }),
        quotasView
      )
    );
  }

  @query(m.get_quotas.args, m.get_quotas.ret, MANUAL)
  get_quotas(): void {
    handle(m.get_quotas, () => quotasView(state().quotas()));
  }

  @query(m.get_namespace.args, m.get_namespace.ret, MANUAL)
  get_namespace(): void {
    handle(m.get_namespace, (name) => {
      const record = getNamespace(state(), name);
      return opt(record === undefined ? undefined : namespaceView(record));
    });
  }

  @update(m.assign_namespace.args, m.assign_namespace.ret, MANUAL)
  assign_namespace(): void {
    handle(m.assign_namespace, (name, owner) => namespaceResult(assignNamespace(state(), caller(), time(), name, owner.toText())));
  }

  @update(m.delegate_namespace.args, m.delegate_namespace.ret, MANUAL)
  delegate_namespace(): void {
    handle(m.delegate_namespace, (name, delegate) => namespaceResult(delegateNamespace(state(), caller(), name, delegate.toText())));
  }

  @update(m.purge_namespace_cards.args, m.purge_namespace_cards.ret, MANUAL)
  purge_namespace_cards(): void {
    handle(m.purge_namespace_cards, (name, publisher, after, limit) =>
      purgeCards(state(), caller(), name, publisher.toText(), after[0], limit[0] === undefined ? undefined : Number(limit[0]))
    );
  }

  @update(m.revoke_namespace_delegate.args, m.revoke_namespace_delegate.ret, MANUAL)
  revoke_namespace_delegate(): void {
    handle(m.revoke_namespace_delegate, (name, delegate) =>
      namespaceResult(revokeNamespaceDelegate(state(), caller(), name, delegate.toText()))
    );
  }

  /** The operator a runner's manifest names accepts it: payouts go to it from now on, and it counts in its quota. */
  @update(m.accept_operator.args, m.accept_operator.ret, MANUAL)
  accept_operator(): void {
    handle(m.accept_operator, (runner) =>
      mapResult(acceptOperator(state(), caller(), time(), runner.toText()), (r) => runnerView(state(), r, time()))
    );
  }

  @update(m.set_bond_config.args, m.set_bond_config.ret, MANUAL)
  set_bond_config(): void {
    handle(m.set_bond_config, (a) =>
      mapResult(
        setBondConfig(state(), caller(), {
          amountE8s: some(a.amount_e8s),
          cooldownSeconds: some(a.cooldown_seconds),
          slashBps: some(a.slash_bps),
          expiredLeaseThreshold: some(a.expired_lease_threshold)
        }),
        bondConfigView
      )
    );
  }

  @query(m.get_bond_config.args, m.get_bond_config.ret, MANUAL)
  get_bond_config(): void {
    handle(m.get_bond_config, () => bondConfigView(state().bondConfig()));
  }

  /** A runner's bond, also after deregistration (until it is returned). */
  @query(m.get_bond.args, m.get_bond.ret, MANUAL)
  get_bond(): void {
    handle(m.get_bond, (runner) => {
      const bond = state().bonds.get(runner.toText());
      return opt(bond === undefined ? undefined : bondView(bond));
    });
  }
}
