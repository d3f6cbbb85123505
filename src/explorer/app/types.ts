/**
 * The values the explorer shows: the SDK's domain types (camelCase, optional fields, principals as text), converted
 * from the registry's and the ledger's wire values by src/sdk/convert.ts. Type-only: nothing enters the bundle.
 */
export type {
  AccountLike,
  LedgerBlock,
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
  ScoreBreakdown,
  Task,
  TaskFilter,
  TaskResult,
  TaskState,
  TaskSummary
} from '../../sdk/index.js';
