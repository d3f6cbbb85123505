/** The DeAI dApp SDK: discover models and runners, submit paid inference tasks, wait for and settle results. */
export { DeaiClient, type Clock, type ConnectOptions, type Identity } from './client.js';
export {
  TASK_STATES,
  type ReadyResult,
  type SubmitTaskOptions,
  type Task,
  type TaskFilter,
  type TaskRequest,
  type TaskResult,
  type TaskState,
  type TaskSummary,
  type WaitOptions
} from './task-types.js';
export type { NamespaceInfo } from './namespaces.js';
export { DeaiError, isDeaiError, type DeaiErrorCode, type DeaiErrorDetails } from './errors.js';
export { CodedError, type CodedErrorJson } from '../core/errors/coded-error.js';
export type {
  AccountLike,
  BondSettings,
  RunnerBond,
  LedgerBlock,
  LedgerLog,
  ModelCapacity,
  Page,
  PublishedModel,
  ModelFilter,
  Reputation,
  RewardQuote,
  TaskQuote,
  RunnerCandidate,
  RunnerFilter,
  RunnerInfo,
  RunnerRequest,
  ScoreBreakdown
} from './types.js';
export type { ChatAttempt, ChatMessage, ChatOptions, ChatProgress, ChatResult } from './chat.js';
export {
  PayerClient,
  type PaidRequest,
  type PaidResult,
  type PaidTarget,
  type PayerClientOptions,
  type PayerSigner
} from './paid/payer.js';
export { memoryPayerStore, type PayerLine, type PayerStateStore } from './paid/state.js';
export type { Charge, AcceptedCharge, PayerCreditApi, CreditLineView, SettleOutcome, UsageSettlement } from '../core/credit/index.js';
