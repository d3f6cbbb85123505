/** The registry's catalog as one caller: model cards, namespaces, runners, their bonds and reputation. */
import { Principal } from '@dfinity/principal';

import { opt } from '../interface/candid.js';
import type { RegistryActor as RequesterRegistry } from '../ic/requester.js';
import { call, DeaiError, unwrap } from './errors.js';
import {
  toCandidate,
  toCardFilter,
  toFindRequest,
  toPublishedModel,
  toReputation,
  toRunnerInfo,
  toBondSettings,
  toRunnerBond
} from './convert.js';
import { toNamespaceInfo, type NamespaceInfo } from './namespaces.js';
import type {
  BondSettings,
  RunnerBond,
  PublishedModel,
  ModelFilter,
  Reputation,
  RunnerCandidate,
  RunnerInfo,
  RunnerRequest
} from './types.js';

const MODEL_PAGE = 100;

/** DeaiClient's calls about models, namespaces and runners; DeaiClient (client.ts) adds tasks, chat, credit and the ledger. */
export class CatalogClient {
  protected constructor(
    protected readonly registry: RequesterRegistry,
    readonly registryId: Principal,
    /** The caller's principal (anonymous without an identity). */
    readonly principal: Principal
  ) {}

  /**
   * Every published model card matching `filter` (pages through the registry).
   * @example
   * const llamas = await client.listModels({ family: 'llama' });
   */
  async listModels(filter: ModelFilter = {}): Promise<PublishedModel[]> {
    const cards: PublishedModel[] = [];
    let after: string | undefined;
    for (;;) {
      const page = unwrap(
        'list_model_cards',
        await call('list_model_cards', () =>
          this.registry.list_model_cards(toCardFilter(filter), { after: opt(after), limit: [MODEL_PAGE] })
        )
      );
      cards.push(...page.items.map(toPublishedModel));
      after = page.next[0];
      if (after === undefined || page.items.length === 0) return cards;
    }
  }

  /**
   * One model card (its latest version unless `digest` is given); throws DeaiError `NotFound` when absent.
   * @example
   * const card = await client.getModel('llama-3.2-1b-instruct-q4_k_m');
   */
  async getModel(id: string, digest?: string): Promise<PublishedModel> {
    const card = (await call('get_model_card', () => this.registry.get_model_card(id, opt(digest))))[0];
    if (card === undefined)
      throw new DeaiError('NotFound', `Model ${id}${digest === undefined ? '' : `@${digest}`} is not published`, {
        kind: { ModelCard: null },
        id: digest === undefined ? id : `${id}@${digest}`
      });
    return toPublishedModel(card);
  }

  /**
   * Publishes a model card (a manifest object of kind ModelCard, or its JSON text); the registry validates it
   * again and answers its id and digest. Publishing the same card twice is a no-op.
   * @example
   * const { id, digest } = await client.publishModel(validateModelCard(parsed));
   */
  async publishModel(card: object | string): Promise<{ id: string; digest: string }> {
    const json = typeof card === 'string' ? card : JSON.stringify(card);
    return unwrap('publish_model_card', await call('publish_model_card', () => this.registry.publish_model_card(json)));
  }

  /**
   * Who publishes under an org (the part of a model id before `/`), or undefined while nobody holds it.
   * @example
   * const ns = await client.getNamespace('meta-llama');
   * console.log(ns?.owner, ns?.delegates);
   */
  async getNamespace(namespace: string): Promise<NamespaceInfo | undefined> {
    const view = (await call('get_namespace', () => this.registry.get_namespace(namespace)))[0];
    return view === undefined ? undefined : toNamespaceInfo(view);
  }

  /**
   * Admins give an org to `owner` (its delegates are cleared); throws DeaiError `Unauthorized` for others.
   * @example
   * await client.assignNamespace('meta-llama', 'w7x7r-cok77-xa');
   */
  async assignNamespace(namespace: string, owner: Principal | string): Promise<NamespaceInfo> {
    const principal = typeof owner === 'string' ? Principal.fromText(owner) : owner;
    const view = unwrap('assign_namespace', await call('assign_namespace', () => this.registry.assign_namespace(namespace, principal)));
    return toNamespaceInfo(view);
  }

  /**
   * Admins remove the cards `publisher` published under an org it no longer holds (a squatter's, from before the org
   * was assigned), one bounded call: pass the returned `next` back until it is undefined.
   * @example
   * let next: string | undefined;
   * do ({ next } = await client.purgeNamespaceCards('meta-llama', squatter, { after: next })); while (next !== undefined);
   */
  async purgeNamespaceCards(
    namespace: string,
    publisher: Principal | string,
    options: { after?: string; limit?: number } = {}
  ): Promise<{ removed: number; next?: string }> {
    const principal = typeof publisher === 'string' ? Principal.fromText(publisher) : publisher;
    const after: [] | [string] = options.after === undefined ? [] : [options.after];
    const limit: [] | [number] = options.limit === undefined ? [] : [options.limit];
    const report = unwrap(
      'purge_namespace_cards',
      await call('purge_namespace_cards', () => this.registry.purge_namespace_cards(namespace, principal, after, limit))
    );
    return report.next[0] === undefined ? { removed: report.removed } : { removed: report.removed, next: report.next[0] };
  }

  /**
   * The org's owner lets `delegate` publish cards under it too; throws DeaiError `NamespaceOwned` for anyone else.
   * @example
   * await client.delegateNamespace('acme', teammate);
   */
  async delegateNamespace(namespace: string, delegate: Principal | string): Promise<NamespaceInfo> {
    const principal = typeof delegate === 'string' ? Principal.fromText(delegate) : delegate;
    const view = unwrap(
      'delegate_namespace',
      await call('delegate_namespace', () => this.registry.delegate_namespace(namespace, principal))
    );
    return toNamespaceInfo(view);
  }

  /**
   * The org's owner takes a delegate's right to publish back (its published cards stay).
   * @example
   * await client.revokeNamespaceDelegate('acme', teammate);
   */
  async revokeNamespaceDelegate(namespace: string, delegate: Principal | string): Promise<NamespaceInfo> {
    const principal = typeof delegate === 'string' ? Principal.fromText(delegate) : delegate;
    const view = unwrap(
      'revoke_namespace_delegate',
      await call('revoke_namespace_delegate', () => this.registry.revoke_namespace_delegate(namespace, principal))
    );
    return toNamespaceInfo(view);
  }

  /**
   * Live runners that can serve `request`, best first.
   * @example
   * const [best] = await client.findRunners({ model: card.id, minContext: 4096n, limit: 3 });
   */
  async findRunners(request: RunnerRequest): Promise<RunnerCandidate[]> {
    return unwrap('find_runners', await call('find_runners', () => this.registry.find_runners(toFindRequest(request)))).map(toCandidate);
  }

  /**
   * A registered runner: its deployments, last heartbeat and whether it is live; throws DeaiError `NotFound`.
   * @example
   * const runner = await client.getRunner(best.runner);
   * console.log(runner.live, runner.heartbeat?.state, runner.deployments.length);
   */
  async getRunner(id: Principal | string): Promise<RunnerInfo> {
    const principal = typeof id === 'string' ? Principal.fromText(id) : id;
    const view = (await call('get_runner', () => this.registry.get_runner(principal)))[0];
    if (view === undefined)
      throw new DeaiError('NotFound', `Runner ${principal.toText()} is not registered`, { kind: { Runner: null }, id: principal.toText() });
    return toRunnerInfo(view);
  }

  /**
   * The runner bond settings: what registration locks (while a ledger is configured; 0 = no bond), the cooldown
   * before a deregistered runner's bond is returned, and the slashes.
   * @example
   * const { amountE8s } = await client.bondSettings();
   */
  async bondSettings(): Promise<BondSettings> {
    return toBondSettings(await call('get_bond_config', () => this.registry.get_bond_config()));
  }

  /**
   * A runner's bond (also during its cooldown after deregistration), or undefined when it has none.
   * @example
   * const bond = await client.getBond(runnerId);
   * console.log(bond?.state, bond?.amountE8s);
   */
  async getBond(id: Principal | string = this.principal): Promise<RunnerBond | undefined> {
    const principal = typeof id === 'string' ? Principal.fromText(id) : id;
    const view = (await call('get_bond', () => this.registry.get_bond(principal)))[0];
    return view === undefined ? undefined : toRunnerBond(view);
  }

  /**
   * The caller, named as a runner's operator, accepts it: the runner's pay goes to the caller from now on and the
   * runner counts in the caller's quota. Throws DeaiError `Unauthorized` when the caller is not the named operator.
   * @example
   * await operatorClient.acceptOperator(runnerId);
   */
  async acceptOperator(runner: Principal | string): Promise<RunnerInfo> {
    const principal = typeof runner === 'string' ? Principal.fromText(runner) : runner;
    return toRunnerInfo(unwrap('accept_operator', await call('accept_operator', () => this.registry.accept_operator(principal))));
  }

  /**
   * What the registry counted for a runner (completed, failed, rejected, expired leases, latency); all zero for a
   * runner that has done nothing yet.
   * @example
   * const { completed, failed } = await client.getReputation(runnerId);
   */
  async getReputation(id: Principal | string): Promise<Reputation> {
    const principal = typeof id === 'string' ? Principal.fromText(id) : id;
    const view = (await call('get_reputation', () => this.registry.get_reputation(principal)))[0];
    return view === undefined ? { completed: 0, failed: 0, rejected: 0, expiredLeases: 0, latencyMsEma: 0 } : toReputation(view);
  }
}
