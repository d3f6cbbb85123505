/**
 * The registry and ledger values the explorer reads: the interfaces' own wire types (src/interface), under the
 * names the views use. Type-only: nothing enters the bundle.
 */
export type { Opt } from '../../interface/candid.js';
export type {
  Breakdown,
  Candidate,
  CardView,
  FindRequest,
  ModelStats,
  Page,
  PageRequest as PageArg,
  RegistryService as ExplorerRegistry,
  ReputationView as Reputation,
  RewardQuote,
  RunnerView,
  TaskFilter as TaskFilterArg,
  TaskListItem,
  TaskView
} from '../../interface/registry/index.js';
export type { Account, LedgerService as ExplorerLedger, Value as Icrc3Value } from '../../interface/ledger/index.js';
