import { Principal } from '@dfinity/principal';
import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex } from '@noble/hashes/utils';

import type { TaskState } from '../core/tasks/states.js';
import { createAgent } from '../ic/agent.js';
import { ledgerClient, type LedgerActor as LedgerClient } from '../ic/ledger.js';
import {
  requesterRegistry,
  type ActorOptions,
  type HttpAgent,
  type Identity,
  type RegistryActor as RequesterRegistry
} from '../ic/requester.js';
import { chatViaTask } from './chat-task.js';

import { chatDirect, type ChatOptions, type ChatResult } from './chat.js';
import { PayerClient, type PayerClientOptions, type PayerSigner } from './paid/payer.js';
import type { HttpPost } from './bounded-body.js';
import { IcCredit } from '../ic/credit.js';
import { ensureAllowance } from '../ic/allowance.js';
import type { CreditAccountView, PayerCreditApi } from '../core/credit/index.js';
import { call, DeaiError, unwrap } from './errors.js';
import {
  toAccount,
  toCandidate,
  toCardFilter,
  toFindRequest,
  toPublishedModel,
  toReputation,
  toRewardQuote,
  toTaskQuote,
  toRunnerInfo,
  toTask,
  toBondSettings,
  toRunnerBond
} from './convert.js';
import type { ReadyResult, SubmitTaskOptions, Task, TaskRequest, WaitOptions } from './task-types.js';
import { toNamespaceInfo, type NamespaceInfo } from './namespaces.js';
import {
  type AccountLike,
  type BondSettings,
  type RunnerBond,
  type PublishedModel,
  type ModelFilter,
  type Reputation,
  type RewardQuote,
  type TaskQuote,
  type RunnerCandidate,
  type RunnerInfo,
  type RunnerRequest
} from './types.js';

export type { Identity };

export interface ConnectOptions {
  /** The IC network, e.g. `http://127.0.0.1:4943` (the root key is fetched for anything but mainnet). */
  host: string;
  registryId: Principal | string;
  /** Defaults to the ledger the registry escrows rewards on (`get_task_config().ledger`). */
  ledgerId?: Principal | string;
  /** Who signs the calls; anonymous when left out (enough for reads, not for tasks or transfers). */
  identity?: Identity;
  /** Clock and sleep, injectable so that tests control waiting (defaults: Date.now, setTimeout). */
  clock?: Clock;
  /**
   * Checks certificate signatures of update calls (default: the agent's own check, in-thread). A Node process on a
   * hot path (the gateway, a payer) passes `workerBlsVerify` from src/ic/bls-verify.ts: the same check on worker
   * threads, so tens of milliseconds per call stop blocking its event loop.
   */
  blsVerify?: ActorOptions['blsVerify'];
  /**
   * Used by `chat({ via: 'direct' })` to call runners' endpoints (default: the global fetch; any fetch fits, and in
   * Node, src/inference/http-post.ts costs less CPU per request).
   */
  fetch?: HttpPost;
  /**
   * Pays runners' metered endpoints for `chat({ via: 'direct' })` (README "Metered runner endpoint"): where the payer's
   * books are kept, and its reservation and settlement policy. `credit` defaults to the registry's credit methods
   * called as `identity` (IcCredit). Left out, a signing `identity` still pays with these defaults (books in memory);
   * `false` turns direct chat off. Deposit credit first: `client.depositCredit(amountE8s)`.
   */
  paid?:
    | false
    | (Omit<PayerClientOptions, 'identity' | 'fetch' | 'nowMs' | 'credit'> & {
        credit?: PayerCreditApi;
        /** Signs payments instead of `identity` (e.g. a key the page holds while calls stay anonymous). */
        signer?: PayerSigner;
      });
}

export interface Clock {
  nowMs(): number;
  sleep(ms: number): Promise<void>;
}

const systemClock: Clock = { nowMs: () => Date.now(), sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) };

const DEFAULT_DEADLINE_MS = 3_600_000;
const DEFAULT_MAX_OUTPUT_TOKENS = 512;
const MODEL_PAGE = 100;
const FAILED_STATES: ReadonlySet<TaskState> = new Set(['failed', 'expired', 'rejected']);
const RESULT_STATES: ReadonlySet<TaskState> = new Set(['review', 'accepted']);

/** A key identity (Ed25519, secp256k1) can sign payments; a delegation chain or the anonymous identity cannot. */
const isSigner = (identity: Identity): identity is Identity & PayerSigner =>
  typeof (identity as Partial<PayerSigner>).sign === 'function' && typeof (identity as Partial<PayerSigner>).getPublicKey === 'function';

/** A dApp's connection to the DeAI registry and its reward ledger, as one identity. */
export class DeaiClient {
  private constructor(
    private readonly registry: RequesterRegistry,
    private readonly ledgerActor: LedgerClient | undefined,
    readonly registryId: Principal,
    /** The reward ledger; undefined when the registry has none configured (then only reads work). */
    readonly ledgerId: Principal | undefined,
    /** The caller's principal (anonymous without an identity). */
    readonly principal: Principal,
    private readonly clock: Clock,
    /** Pays runners for direct chat; undefined without a signing identity or with `paid: false`. */
    readonly payer: PayerClient | undefined,
    /** The registry's credit methods as the caller (deposits, lines, settlement). */
    readonly credit: IcCredit
  ) {}

  /**
   * Connects to the registry (and its ledger: `ledgerId`, else the one the registry escrows on; without either,
   * ledger methods reject with DeaiError `NotConfigured`).
   * @example
   * const client = await DeaiClient.connect({ host: 'http://127.0.0.1:4943', registryId, identity });
   */
  static async connect(options: ConnectOptions): Promise<DeaiClient> {
    const agent: HttpAgent = await call('connect', () => createAgent(options.host, options.identity));
    const registryId = typeof options.registryId === 'string' ? Principal.fromText(options.registryId) : options.registryId;
    const actorOptions: ActorOptions = options.blsVerify === undefined ? {} : { blsVerify: options.blsVerify };
    const registry = requesterRegistry(agent, registryId, actorOptions);
    const ledgerId =
      options.ledgerId === undefined
        ? (await call('get_task_config', () => registry.get_task_config())).ledger[0]
        : typeof options.ledgerId === 'string'
          ? Principal.fromText(options.ledgerId)
          : options.ledgerId;
    const principal = await call('getPrincipal', () => agent.getPrincipal());
    const paid = options.paid === false ? undefined : options.paid;
    const signer = paid?.signer ?? (options.identity !== undefined && isSigner(options.identity) ? options.identity : undefined);
    if (paid !== undefined && signer === undefined)
      throw new DeaiError('NotConfigured', '`paid` needs a signing identity', { what: 'identity' }, { retryable: false });
    const ledger = ledgerId === undefined ? undefined : ledgerClient(agent, ledgerId, actorOptions);
    const credit = new IcCredit(registry, { registryId, principal, ...(ledger === undefined ? {} : { ledger }) });
    const payer =
      options.paid === false || signer === undefined
        ? undefined
        : await PayerClient.open({
            // Books are the network's: its registry and root key (a fresh local network has a new key, same ids).
            network: networkIdOf(registryId.toText(), agent.rootKey),
            ...paid,
            credit: paid?.credit ?? credit,
            identity: signer,
            fetch: options.fetch ?? globalThis.fetch.bind(globalThis)
          });
    return new DeaiClient(registry, ledger, registryId, ledgerId, principal, options.clock ?? systemClock, payer, credit);
  }

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
   * What a runner's identity must hold to register while bonds are on: the bond, the approval's fee and the
   * transfer's fee (0 when no bond is required).
   * @example
   * await operator.transfer(runnerId, await operator.bondCost());
   */
  async bondCost(): Promise<bigint> {
    const { amountE8s } = await this.bondSettings();
    if (amountE8s === 0n || this.ledgerActor === undefined) return 0n;
    const fee = await call('icrc1_fee', () => this.ledger().icrc1_fee());
    return amountE8s + 2n * fee;
  }

  /**
   * Approves the registry for the runner bond (plus the ledger fee), as registration requires while bonds are on;
   * returns the bond amount (0: nothing to approve).
   * @example
   * await runnerClient.approveBond(); // then register_runner
   */
  async approveBond(): Promise<bigint> {
    const { amountE8s } = await this.bondSettings();
    if (amountE8s === 0n || this.ledgerActor === undefined) return 0n;
    await this.ensureAllowance(amountE8s);
    return amountE8s;
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

  /**
   * The bounds of a budget (`rewardE8s`): the most each runner can be paid, the protocol fee if it is all used, the
   * refund on failure, and whether the registry accepts it. `quoteTask` prices a request at the runners' prices.
   * @example
   * const quote = await client.quoteReward(1_000_000n);
   * if (!quote.acceptable) throw new Error('budget too small');
   */
  async quoteReward(rewardE8s: bigint, redundancy = 1): Promise<RewardQuote> {
    return toRewardQuote(await call('quote_reward', () => this.registry.quote_reward(rewardE8s, redundancy)));
  }

  /**
   * Prices a task at the live runners' posted prices: the cheapest and median runner's cost for the prompt's most
   * tokens (its UTF-8 bytes plus the chat template, and `maxOutputTokens`), the budgets they would claim at, the
   * protocol fee and the emission the work could earn.
   * @example
   * const quote = await client.quoteTask({ model, prompt: 'Say hello.', maxOutputTokens: 64 });
   * await client.submitTask({ model, prompt: 'Say hello.', maxOutputTokens: 64, rewardE8s: quote.medianBudgetE8s });
   */
  async quoteTask(options: { model: string; prompt?: string; maxOutputTokens: number; redundancy?: number }): Promise<TaskQuote> {
    const inputBytes = options.prompt === undefined ? undefined : new TextEncoder().encode(options.prompt).length;
    const reply = await call('quote_task', () =>
      this.registry.quote_task({
        request: toFindRequest({ model: options.model }),
        input_bytes: inputBytes === undefined ? [] : [inputBytes],
        max_output_tokens: options.maxOutputTokens,
        redundancy: options.redundancy === undefined ? [] : [options.redundancy]
      })
    );
    return toTaskQuote(unwrap('quote_task', reply));
  }

  /**
   * Escrows the reward and queues a task. Approves the registry on the ledger first when the current allowance
   * does not cover reward + ledger fee (the approval itself costs one fee).
   * @example
   * const task = await client.submitTask({ model: card.id, prompt: 'Say hello.', rewardE8s: 1_000_000n });
   * // Only runners in eu-west at most 2,000 e8s per million input tokens may claim this one:
   * await client.submitTask({ model: card.id, prompt: 'Hi.', rewardE8s: 1_000_000n, request: { region: 'eu-west', maxInputPricePerMillion: 2_000n } });
   */
  async submitTask(options: SubmitTaskOptions): Promise<Task> {
    await this.ensureAllowance(options.rewardE8s);
    const deadlineNs = BigInt(this.clock.nowMs() + (options.deadlineMs ?? DEFAULT_DEADLINE_MS)) * 1_000_000n;
    const result = await call('submit_task', () =>
      this.registry.submit_task({
        idempotency_key: options.idempotencyKey ?? globalThis.crypto.randomUUID(),
        request: toFindRequest({
          ...taskRequestOf(options.request),
          model: options.model,
          ...(options.digests === undefined ? {} : { digests: options.digests })
        }),
        input: { inline: [options.prompt], digest: [], reference: [] },
        limits: {
          max_output_tokens: options.maxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS,
          temperature: opt(options.temperature),
          seed: opt(options.seed)
        },
        reward_e8s: options.rewardE8s,
        deadline_ns: deadlineNs,
        redundancy: opt(options.redundancy),
        refund_subaccount: []
      })
    );
    return toTask(unwrap('submit_task', result));
  }

  /**
   * The task as the registry holds it; throws DeaiError `NotFound` for an unknown id.
   * @example
   * const { state } = await client.getTask(task.id);
   */
  async getTask(id: string): Promise<Task> {
    const task = (await call('get_task', () => this.registry.get_task(id)))[0];
    if (task === undefined) throw new DeaiError('NotFound', `Task ${id} does not exist`, { kind: { Task: null }, id });
    return toTask(task);
  }

  /**
   * Polls the task until it has a result the caller may read (state review or accepted) and returns the first one.
   * A task whose results agreed on no majority goes back to `queued` with an `escalated: …` outcome (README
   * "Operators and redundancy"): it keeps waiting through that, and `onProgress` reports the outcome. A review in
   * which no result is readable yet (no majority as the registry counts votes now) is waited through too. Rejects with
   * DeaiError `TaskFailed` when the task ends failed, expired or rejected, `Timeout` after `timeoutMs`.
   * @example
   * const result = await client.waitForResult(task.id, { timeoutMs: 60_000, onProgress: (s) => console.log(s) });
   * console.log(result.output);
   */
  async waitForResult(id: string, options: WaitOptions = {}): Promise<ReadyResult> {
    const timeoutMs = options.timeoutMs ?? 300_000;
    const pollMs = options.pollMs ?? 1_000;
    const endsAtMs = this.clock.nowMs() + timeoutMs;
    let last: string | undefined;
    for (;;) {
      const task = await this.getTask(id);
      const seen = `${task.state}\u0000${task.outcome ?? ''}`;
      if (seen !== last) {
        last = seen;
        options.onProgress?.(task.state, task.outcome === undefined ? {} : { outcome: task.outcome });
      }
      // The first result the caller may read (the registry seals other runners' results until the task settles); in
      // review only a readable one, since more results or votes may still come; once accepted, any.
      const readable = task.results.find((r) => r.output !== undefined || r.reference !== undefined);
      const first = readable ?? (task.state === 'accepted' ? task.results[0] : undefined);
      if (RESULT_STATES.has(task.state) && first !== undefined) {
        const { atNs: _atNs, firstTokenMs: _firstTokenMs, ...result } = first;
        return { taskId: task.id, state: task.state, ...result };
      }
      if (FAILED_STATES.has(task.state)) {
        throw new DeaiError(
          'TaskFailed',
          `Task ${id} ended ${task.state}: ${task.outcome ?? 'no outcome given'}`,
          { state: task.state, ...(task.outcome === undefined ? {} : { outcome: task.outcome }) },
          { retryable: false }
        );
      }
      const leftMs = endsAtMs - this.clock.nowMs();
      if (leftMs <= 0)
        throw new DeaiError('Timeout', `Task ${id} has no result after ${timeoutMs} ms (state ${task.state})`, {
          state: task.state,
          timeoutMs
        });
      await this.clock.sleep(Math.min(pollMs, leftMs));
    }
  }

  /**
   * One chat completion from the network. `via: 'task'` (default) escrows `rewardE8s` in an on-chain task, waits
   * for a runner's result and returns it (accepting it at once with `accept: true`); `via: 'direct'` calls the
   * best-ranked runners' OpenAI-compatible endpoints in order, failing over to the next one when a runner is
   * unreachable, slow or answers an error, and rejects with DeaiError `AllRunnersFailed` (every attempt in
   * `details.attempts`) or `NoRunners`.
   * @example
   * const paid = await client.chat({ model, prompt: 'Say hello.', rewardE8s: 1_000_000n, accept: true });
   * const fast = await client.chat({ model, via: 'direct', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }] });
   * console.log(paid.content, fast.content, fast.failedAttempts);
   */
  async chat(options: ChatOptions): Promise<ChatResult> {
    if (options.via === 'direct') {
      return chatDirect(
        { findRunners: (request) => this.findRunners(request), payer: this.payer, nowMs: () => this.clock.nowMs() },
        options
      );
    }
    return chatViaTask(this, options);
  }

  /**
   * Accepts the result of a task in review: the runners are paid at the next settlement pass.
   * @example
   * await client.accept(task.id);
   */
  async accept(id: string): Promise<Task> {
    return toTask(unwrap('accept_task', await call('accept_task', () => this.registry.accept_task(id))));
  }

  /**
   * Rejects the result of a task in review. The work read is still paid (the runners' metered cost and the protocol
   * fee; the rest of the budget is refunded), but it earns no emission and counts against the runner, weighted by the
   * requester's paid history (README "Review").
   * @example
   * await client.reject(task.id, 'answered in the wrong language');
   */
  async reject(id: string, reason: string): Promise<Task> {
    return toTask(unwrap('reject_task', await call('reject_task', () => this.registry.reject_task(id, reason))));
  }

  /**
   * Deposits `amountE8s` from the caller's ledger account into its credit at the registry (approving the registry for
   * it plus the ledger fee when needed), what direct chat pays runners from. Returns the credit account after it.
   * @example
   * await client.depositCredit(100_000_000n);
   * const { freeE8s } = await client.creditAccount();
   */
  async depositCredit(amountE8s: bigint): Promise<CreditAccountView> {
    this.ledger();
    // CreditError (coded by the registry's error variant, e.g. `LedgerError`) passes through as is.
    return this.credit.depositCredit(amountE8s);
  }

  /** The credit account of `owner` (default: the caller): free, reserved toward runners, and accrued as a runner. */
  async creditAccount(owner: Principal | string = this.principal): Promise<CreditAccountView> {
    const text = typeof owner === 'string' ? owner : owner.toText();
    const found = await call('get_credit_account', () => this.credit.getCreditAccount(text));
    return found ?? { owner: text, freeE8s: 0n, reservedE8s: 0n, accruedE8s: 0n };
  }

  /**
   * Ledger balance of `account` (default: this client's principal), in e8s.
   * @example
   * const mine = await client.balance();
   * const theirs = await client.balance('aaaaa-aa');
   */
  async balance(account: AccountLike = this.principal): Promise<bigint> {
    return call('icrc1_balance_of', () => this.ledger().icrc1_balance_of(toAccount(account)));
  }

  /**
   * Sends `amountE8s` to `to` (the ledger fee is charged on top); returns the ledger block index.
   * @example
   * const block = await client.transfer('2vxsx-fae', 5_000_000n);
   */
  async transfer(to: AccountLike, amountE8s: bigint): Promise<bigint> {
    const result = await call('icrc1_transfer', () =>
      this.ledger().icrc1_transfer({ from_subaccount: [], to: toAccount(to), amount: amountE8s, fee: [], memo: [], created_at_time: [] })
    );
    return unwrap('icrc1_transfer', result);
  }

  /** The ledger actor, or DeaiError `NotConfigured` when the registry names no ledger. */
  private ledger(): LedgerClient {
    if (this.ledgerActor === undefined)
      throw new DeaiError('NotConfigured', 'The registry has no ledger configured: pass ledgerId to connect, or run set_task_config', {
        what: 'ledger'
      });
    return this.ledgerActor;
  }

  /** Approves the registry for reward + fee unless the current allowance already covers it. */
  private async ensureAllowance(rewardE8s: bigint): Promise<void> {
    const { error } = await call('icrc2_approve', () => ensureAllowance(this.ledger(), this.principal, this.registryId, rewardE8s));
    if (error !== undefined) unwrap('icrc2_approve', { Err: error });
  }
}

function opt<T>(value: T | undefined): [] | [T] {
  return value === undefined ? [] : [value];
}

/** A task's routing constraints, without a model or limit a JavaScript caller may have left in (the model is given apart). */
function taskRequestOf(request: TaskRequest | undefined): TaskRequest {
  if (request === undefined) return {};
  const full: RunnerRequest = request;
  const { model: _model, limit: _limit, ...constraints } = full;
  return constraints;
}

/** Names a network for the payer's books: the registry id and a digest of the network's root key. */
export function networkIdOf(registryId: string, rootKey: Uint8Array | ArrayBuffer | null | undefined): string {
  if (rootKey === null || rootKey === undefined) return registryId;
  const digest = bytesToHex(sha256(rootKey instanceof Uint8Array ? rootKey : new Uint8Array(rootKey))).slice(0, 16);
  return `${registryId}@${digest}`;
}
