import { Actor, AgentError, ErrorKindEnum, HttpAgent, type ActorSubclass } from '@dfinity/agent';
import { Principal } from '@dfinity/principal';

// Only the actor factories and the service types that type them: every value the explorer reads goes through the
// SDK's converters (src/sdk/convert.ts) and reaches the views as the SDK's domain types.
import { ledgerIdlFactory, type LedgerService } from '../../interface/ledger/index.js';
import { registryIdlFactory, type RegistryService } from '../../interface/registry/index.js';
import {
  toAccount,
  toCandidate,
  toCardFilter,
  toFindRequest,
  toLedgerId,
  toLedgerLog,
  toModelCapacity,
  toPage,
  toPageRequest,
  toPublishedModel,
  toReputation,
  toRewardQuote,
  toRunnerFilter,
  toRunnerInfo,
  toTask,
  toTaskFilter,
  toTaskSummary
} from '../../sdk/convert.js';
import { DeaiError, unwrap } from '../../sdk/errors.js';
import { CodedError } from '../../core/errors/coded-error.js';
import type { ExplorerConfig } from './config.js';
import type {
  AccountLike,
  LedgerLog,
  ModelCapacity,
  ModelFilter,
  Page,
  PublishedModel,
  Reputation,
  RewardQuote,
  RunnerCandidate,
  RunnerFilter,
  RunnerInfo,
  RunnerRequest,
  Task,
  TaskFilter,
  TaskSummary
} from './types.js';

export interface Client {
  config: ExplorerConfig;
  registry: ActorSubclass<RegistryService>;
  /** Absent when neither the config nor the registry's task config names a ledger. */
  ledger: ActorSubclass<LedgerService> | undefined;
  ledgerId: string | undefined;
}

export type ExplorerErrorCode = 'Unreachable' | 'CanisterNotFound' | 'NotARegistry' | 'CallFailed';

/** A failure the page shows as its error state: a stable code for the view, the message for people. */
export class ExplorerError extends CodedError<ExplorerErrorCode> {
  constructor(code: ExplorerErrorCode, message: string, options?: { cause?: unknown }) {
    // The page polls again on its own; an unreachable network may come back.
    super(code, message, { ...options, retryable: code === 'Unreachable' });
    this.name = 'ExplorerError';
  }
}

// Replica reject codes (IC interface spec): 3 = destination invalid (no such canister), 5 = canister error; error
// code IC0536 = the canister has no such method (it is not the canister the page expects).
const DESTINATION_INVALID = 3;
const CANISTER_ERROR = 5;
const METHOD_NOT_FOUND = 'IC0536';

function rejectOf(error: AgentError): { code: number; errorCode: string | undefined; message: string } | undefined {
  const code: unknown = error.cause.code;
  if (typeof code !== 'object' || code === null || !('rejectCode' in code) || !('rejectMessage' in code)) return undefined;
  const errorCode = 'rejectErrorCode' in code && typeof code.rejectErrorCode === 'string' ? code.rejectErrorCode : undefined;
  return { code: Number(code.rejectCode), errorCode, message: String(code.rejectMessage) };
}

/** Turns what the agent, fetch or the registry (a DeaiError from its `Err`) threw into the page's error state. */
export function classify(error: unknown, what: string, host: string): ExplorerError {
  if (error instanceof ExplorerError) return error;
  // The registry answered, with a named `Err` (NotFound, InvalidArgument, …): its message names the variant and fields.
  if (error instanceof DeaiError) return new ExplorerError('CallFailed', `${what}: ${error.message}`, { cause: error });
  if (error instanceof AgentError) {
    const reject = rejectOf(error);
    if (reject?.code === DESTINATION_INVALID)
      return new ExplorerError('CanisterNotFound', `${what} not found on ${host}: ${reject.message}`, { cause: error });
    // A canister with the method but other Candid types traps while decoding the argument ("did not find …").
    if (reject?.code === CANISTER_ERROR && (reject.errorCode === METHOD_NOT_FOUND || /did not find|Candid/i.test(reject.message))) {
      return new ExplorerError('NotARegistry', `${what} does not answer like a DeAI canister: ${reject.message}`, { cause: error });
    }
    if (error.kind === ErrorKindEnum.Transport) {
      return new ExplorerError('Unreachable', `cannot reach ${host}: ${error.message}`, { cause: error });
    }
    if (reject !== undefined) return new ExplorerError('CallFailed', `${what} rejected the call: ${reject.message}`, { cause: error });
  }
  if (error instanceof TypeError) return new ExplorerError('Unreachable', `cannot reach ${host}: ${error.message}`, { cause: error });
  return new ExplorerError('CallFailed', `${what}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

/** A principal typed into the page (route or filter); `field` names it in the error. */
export function parsePrincipal(text: string, field: string): string {
  try {
    return Principal.fromText(text).toText();
  } catch {
    throw new ExplorerError('CallFailed', `${field}: "${text}" is not a principal`);
  }
}

/** Creates the agent (fetching the root key on a local network) and the actors. */
export async function connect(config: ExplorerConfig): Promise<Client> {
  let agent: HttpAgent;
  try {
    agent = await HttpAgent.create({ host: config.host, shouldFetchRootKey: config.fetchRootKey });
  } catch (error) {
    throw classify(error, 'the network', config.host);
  }
  const registry = Actor.createActor<RegistryService>(registryIdlFactory, { agent, canisterId: Principal.fromText(config.registry) });
  let ledgerId = config.ledger;
  if (ledgerId === undefined) {
    try {
      ledgerId = toLedgerId(await registry.get_task_config());
    } catch (error) {
      throw classify(error, `registry canister ${config.registry}`, config.host);
    }
  }
  const ledger =
    ledgerId === undefined
      ? undefined
      : Actor.createActor<LedgerService>(ledgerIdlFactory, { agent, canisterId: Principal.fromText(ledgerId) });
  return { config, registry, ledger, ledgerId };
}

/** Runs a registry call, classifying its failure. */
async function fromRegistry<T>(client: Client, call: (registry: ActorSubclass<RegistryService>) => Promise<T>): Promise<T> {
  try {
    return await call(client.registry);
  } catch (error) {
    throw classify(error, `registry canister ${client.config.registry}`, client.config.host);
  }
}

async function fromLedger<T>(client: Client, call: (ledger: ActorSubclass<LedgerService>) => Promise<T>): Promise<T> {
  if (client.ledger === undefined) throw new ExplorerError('CallFailed', 'no ledger: pass ?ledger=<id> or set the registry task config');
  const ledger = client.ledger;
  try {
    return await call(ledger);
  } catch (error) {
    throw classify(error, `ledger canister ${client.ledgerId ?? ''}`, client.config.host);
  }
}

//#region registry reads (each returns the SDK's domain types)

export const listModels = async (client: Client, filter: ModelFilter, limit: number): Promise<Page<PublishedModel>> =>
  toPage(
    unwrap('list_model_cards', await fromRegistry(client, (r) => r.list_model_cards(toCardFilter(filter), toPageRequest({ limit })))),
    toPublishedModel
  );

export const modelCapacity = async (client: Client): Promise<ModelCapacity[]> =>
  (await fromRegistry(client, (r) => r.stats())).map(toModelCapacity);

export const findRunners = async (client: Client, request: RunnerRequest): Promise<RunnerCandidate[]> =>
  unwrap('find_runners', await fromRegistry(client, (r) => r.find_runners(toFindRequest(request)))).map(toCandidate);

export const listRunners = async (client: Client, filter: RunnerFilter, limit: number): Promise<Page<RunnerInfo>> =>
  toPage(
    unwrap('list_runners', await fromRegistry(client, (r) => r.list_runners(toRunnerFilter(filter), toPageRequest({ limit })))),
    toRunnerInfo
  );

/** The runner, or undefined when none is registered under `id`. */
export async function tryGetRunner(client: Client, id: string): Promise<RunnerInfo | undefined> {
  const [view] = await fromRegistry(client, (r) => r.get_runner(Principal.fromText(id)));
  return view === undefined ? undefined : toRunnerInfo(view);
}

/** The runner's reputation, or undefined before its first task. */
export async function tryGetReputation(client: Client, id: string): Promise<Reputation | undefined> {
  const [view] = await fromRegistry(client, (r) => r.get_reputation(Principal.fromText(id)));
  return view === undefined ? undefined : toReputation(view);
}

export const listTasks = async (client: Client, filter: TaskFilter, page: { after?: string; limit: number }): Promise<Page<TaskSummary>> =>
  toPage(unwrap('list_tasks', await fromRegistry(client, (r) => r.list_tasks(toTaskFilter(filter), toPageRequest(page)))), toTaskSummary);

/** The task as this (anonymous) caller may read it, or undefined when there is none. */
export async function tryGetTask(client: Client, id: string): Promise<Task | undefined> {
  const [view] = await fromRegistry(client, (r) => r.get_task(id));
  return view === undefined ? undefined : toTask(view);
}

export const quoteReward = async (client: Client, rewardE8s: bigint, redundancy: number): Promise<RewardQuote> =>
  toRewardQuote(await fromRegistry(client, (r) => r.quote_reward(rewardE8s, redundancy)));

//#endregion

//#region ledger reads

export interface TokenFacts {
  symbol: string;
  decimals: number;
  feeE8s: bigint;
  supplyE8s: bigint;
}

export async function tokenFacts(client: Client): Promise<TokenFacts> {
  const [symbol, decimals, feeE8s, supplyE8s] = await Promise.all([
    fromLedger(client, (l) => l.icrc1_symbol()),
    fromLedger(client, (l) => l.icrc1_decimals()),
    fromLedger(client, (l) => l.icrc1_fee()),
    fromLedger(client, (l) => l.icrc1_total_supply())
  ]);
  return { symbol, decimals, feeE8s, supplyE8s };
}

export const balanceOf = (client: Client, account: AccountLike): Promise<bigint> =>
  fromLedger(client, (l) => l.icrc1_balance_of(toAccount(account)));

/** The newest `count` blocks of the ledger's log (and the log's length). */
export async function recentBlocks(client: Client, count: bigint): Promise<LedgerLog> {
  const { length } = toLedgerLog(await fromLedger(client, (l) => l.icrc3_get_blocks([{ start: 0n, length: 0n }])));
  const start = length > count ? length - count : 0n;
  return toLedgerLog(await fromLedger(client, (l) => l.icrc3_get_blocks([{ start, length: count }])));
}

//#endregion
