import { Actor, AgentError, ErrorKindEnum, HttpAgent, type ActorSubclass } from '@dfinity/agent';
import { Principal } from '@dfinity/principal';

import { registryIdlFactory } from '../../interface/registry/index.js';
import { ledgerIdlFactory } from '../../interface/ledger/index.js';
import type { ExplorerConfig } from './config.js';
import type { ExplorerLedger, ExplorerRegistry } from './types.js';
import { CodedError } from '../../core/errors/coded-error.js';

export interface Client {
  config: ExplorerConfig;
  registry: ActorSubclass<ExplorerRegistry>;
  /** Absent when neither the config nor the registry's task config names a ledger. */
  ledger: ActorSubclass<ExplorerLedger> | undefined;
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

/** Turns what the agent or fetch threw into the page's error state. */
export function classify(error: unknown, what: string, host: string): ExplorerError {
  if (error instanceof ExplorerError) return error;
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

/** Creates the agent (fetching the root key on a local network) and the actors. */
export async function connect(config: ExplorerConfig): Promise<Client> {
  let agent: HttpAgent;
  try {
    agent = await HttpAgent.create({ host: config.host, shouldFetchRootKey: config.fetchRootKey });
  } catch (error) {
    throw classify(error, 'the network', config.host);
  }
  const registry = Actor.createActor<ExplorerRegistry>(registryIdlFactory, { agent, canisterId: Principal.fromText(config.registry) });
  let ledgerId = config.ledger;
  if (ledgerId === undefined) {
    try {
      ledgerId = (await registry.get_task_config()).ledger[0]?.toText();
    } catch (error) {
      throw classify(error, `registry canister ${config.registry}`, config.host);
    }
  }
  const ledger =
    ledgerId === undefined
      ? undefined
      : Actor.createActor<ExplorerLedger>(ledgerIdlFactory, { agent, canisterId: Principal.fromText(ledgerId) });
  return { config, registry, ledger, ledgerId };
}

/** Runs a registry call, classifying its failure. */
export async function fromRegistry<T>(client: Client, call: (registry: ActorSubclass<ExplorerRegistry>) => Promise<T>): Promise<T> {
  try {
    return await call(client.registry);
  } catch (error) {
    throw classify(error, `registry canister ${client.config.registry}`, client.config.host);
  }
}

export async function fromLedger<T>(client: Client, call: (ledger: ActorSubclass<ExplorerLedger>) => Promise<T>): Promise<T> {
  if (client.ledger === undefined) throw new ExplorerError('CallFailed', 'no ledger: pass ?ledger=<id> or set the registry task config');
  const ledger = client.ledger;
  try {
    return await call(ledger);
  } catch (error) {
    throw classify(error, `ledger canister ${client.ledgerId ?? ''}`, client.config.host);
  }
}

/** A registry `Result`: the Ok value, or the Err variant as an ExplorerError. */
export function okOf<T>(result: { Ok: T } | { Err: Record<string, unknown> }): T {
  if ('Ok' in result) return result.Ok;
  const [name = 'Err', detail] = Object.entries(result.Err)[0] ?? [];
  throw new ExplorerError(
    'CallFailed',
    `${name}: ${JSON.stringify(detail, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`
  );
}
