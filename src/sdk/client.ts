import type { Principal } from '@dfinity/principal';

import type { LedgerActor as LedgerClient } from '../ic/ledger.js';
import type { Identity, RegistryActor as RequesterRegistry } from '../ic/requester.js';
import { chatViaTask } from './chat-task.js';
import { chatDirect, type ChatOptions, type ChatResult } from './chat.js';
import type { PayerClient } from './paid/payer.js';
import type { IcCredit } from '../ic/credit.js';
import { ensureAllowance } from '../ic/allowance.js';
import type { CreditAccountView } from '../core/credit/index.js';
import { CatalogClient } from './catalog-client.js';
import { call, DeaiError, unwrap } from './errors.js';
import { toAccount, toRewardQuote, toTask } from './convert.js';
import { openConnection, type Clock, type ConnectOptions } from './connect.js';
import { getTask, quoteTask, submitTask, waitForResult, type TaskCallDeps } from './tasks.js';
import type { ReadyResult, SubmitTaskOptions, Task, WaitOptions } from './task-types.js';
import type { AccountLike, RewardQuote, TaskQuote } from './types.js';

export type { Identity };
export { networkIdOf, type Clock, type ConnectOptions } from './connect.js';

/** A dApp's connection to the DeAI registry and its reward ledger, as one identity. */
export class DeaiClient extends CatalogClient {
  private constructor(
    registry: RequesterRegistry,
    private readonly ledgerActor: LedgerClient | undefined,
    registryId: Principal,
    /** The reward ledger; undefined when the registry has none configured (then only reads work). */
    readonly ledgerId: Principal | undefined,
    principal: Principal,
    private readonly clock: Clock,
    /** Pays runners for direct chat; undefined without a signing identity or with `paid: false`. */
    readonly payer: PayerClient | undefined,
    /** The registry's credit methods as the caller (deposits, lines, settlement). */
    readonly credit: IcCredit
  ) {
    super(registry, registryId, principal);
  }

  /**
   * Connects to the registry (and its ledger: `ledgerId`, else the one the registry escrows on; without either,
   * ledger methods reject with DeaiError `NotConfigured`).
   * @example
   * const client = await DeaiClient.connect({ host: 'http://127.0.0.1:4943', registryId, identity });
   */
  static async connect(options: ConnectOptions): Promise<DeaiClient> {
    const c = await openConnection(options);
    return new DeaiClient(c.registry, c.ledger, c.registryId, c.ledgerId, c.principal, c.clock, c.payer, c.credit);
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
    return quoteTask(this.taskDeps(), options);
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
    return submitTask(this.taskDeps(), options);
  }

  /**
   * The task as the registry holds it; throws DeaiError `NotFound` for an unknown id.
   * @example
   * const { state } = await client.getTask(task.id);
   */
  async getTask(id: string): Promise<Task> {
    return getTask(this.taskDeps(), id);
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
    return waitForResult(this.taskDeps(), id, options);
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

  /** The registry, clock and client methods the task calls (tasks.ts) use. */
  private taskDeps(): TaskCallDeps {
    return {
      registry: this.registry,
      clock: this.clock,
      ensureAllowance: (rewardE8s) => this.ensureAllowance(rewardE8s),
      getTask: (id) => this.getTask(id)
    };
  }
}
