import '../common/text-codec.js';
import {
  canisterSelf,
  init,
  inspectMessage,
  isController,
  msgArgData,
  msgCaller,
  msgMethodName,
  msgReply,
  postUpgrade,
  query,
  setTimerInterval,
  time,
  trap,
  update
} from 'azle';
import {
  deprecateCard,
  findRunners,
  getCard,
  heartbeat,
  listCards,
  listRunners,
  makeConfig,
  publishCard,
  setAdmins,
  setSuspended,
  stats,
  updateRunner,
  manageable,
  inspectIngress,
  parseCardText,
  parseManifestBytes
} from '../../src/core/registry/index.js';
import { fromOpt as some, opt, type Opt } from '../../src/interface/candid.js';
import { RegistryInit, registryMethods as m, type InitArgs } from '../../src/interface/registry/index.js';
import { candidatesReply } from './candid-text.js';
import {
  decodeInline,
  ResultArgsWithOutputBytes,
  SubmitTaskArgsWithInputBytes,
  registerArgsWithManifestBytes,
  RegisterRunnerArgsWithManifestBytes,
  updateArgsWithManifestBytes,
  UpdateRunnerArgsWithManifestBytes
} from './submit-args.js';
import { warmArgPlans } from '../common/candid-decoder.js';
import { warmManifestValidators } from '../../src/core/manifest/index.js';
import { argsOf, replyOf, warmReplyTypes } from '../common/fast-candid.js';
import { handle, isMethod, tooLarge } from './bounded-args.js';
import { runMigrations } from './migrations.js';
import { bondShortfall, deregisterWithBond, maintainBonds, registerWithBond } from './bonds.js';
import { maintainTasks, processPayouts, retryStaleEscrows } from './tasks.js';
import { LEDGER_ARG_TYPES, LEDGER_REPLY_TYPES } from './ledger-calls.js';
import { findRequestOf } from './task-views.js';
import { candidateView, cardView, configView, runnerView, statsView } from './views.js';
import { maintainCredit } from './credit.js';
import { MANUAL, caller, mapResult, state } from './context.js';
import { TaskMethods } from './task-methods.js';

/** Every method's argument types, whose decoding plans are built once per install. */
const ARG_TYPES = Object.values(m).flatMap((method) => method.args);

/** Every method's reply type (the shared Results and Replies instances), warmed once per install. */
const REPLY_TYPES = Object.values(m).flatMap((method) => (method.ret === undefined ? [] : [method.ret]));

/** Task maintenance (expired leases, deadlines, reviews, epochs), payouts and escrow retries run on this interval. */
const MAINTENANCE_SECONDS = 5;

/** Three timers, so three messages: a trap or IC0522 in one (payouts, say) never rolls back another's work. */
function startMaintenance(): void {
  setTimerInterval(MAINTENANCE_SECONDS, () => maintainTasks(state()));
  setTimerInterval(MAINTENANCE_SECONDS, () => processPayouts(state()));
  setTimerInterval(MAINTENANCE_SECONDS, () => retryStaleEscrows(state()));
  // Bonds (stale locks, ended cooldowns) in a fourth message: their ledger calls never hold back the others.
  setTimerInterval(MAINTENANCE_SECONDS, () => maintainBonds(state()));
  // Credit (closing lines, balances to pay, lost deposit replies) in a fifth.
  setTimerInterval(MAINTENANCE_SECONDS, () => maintainCredit(state()));
}

function configure(args: Opt<InitArgs>): void {
  const given = some(args);
  const current = state().hasConfig() ? state().config() : undefined;
  const interval = some(given?.heartbeat_interval_seconds ?? []);
  const ttl = some(given?.heartbeat_ttl_seconds ?? []);
  const config = makeConfig({
    admins: given?.admins.map((a) => a.toText()) ?? current?.admins ?? [],
    heartbeatIntervalNs: interval === undefined ? current?.heartbeatIntervalNs : interval * 1_000_000_000n,
    heartbeatTtlNs: ttl === undefined ? current?.heartbeatTtlNs : ttl * 1_000_000_000n
  });
  // A bad init or upgrade argument must fail the install, so that nothing runs with an unchecked configuration.
  if ('Err' in config) trap(`invalid registry arguments: ${JSON.stringify(config.Err)}`);
  state().setConfig(config.Ok);
  warmManifestValidators();
  warmReplyTypes([...REPLY_TYPES, ...LEDGER_ARG_TYPES]);
  warmArgPlans([
    ...ARG_TYPES,
    SubmitTaskArgsWithInputBytes,
    ResultArgsWithOutputBytes,
    ...UpdateRunnerArgsWithManifestBytes,
    ...RegisterRunnerArgsWithManifestBytes,
    ...LEDGER_REPLY_TYPES
  ]);
}

/**
 * The registry canister. Its methods are grouped by area in a chain of classes (azle collects the decorated methods of
 * the whole chain): credit-methods.ts, governance-methods.ts, task-methods.ts and, here, install, ingress, cards,
 * runners and admins.
 */
export default class extends TaskMethods {
  /**
   * Cheap early refusal of ingress (not a security boundary: every method checks again): unknown methods, arguments
   * larger than the method can need, and anonymous callers of methods that write. It
   * reads the method name, the argument's size and the caller; it never decodes the argument.
   */
  @inspectMessage({ manual: true })
  inspect(): boolean {
    const method = msgMethodName();
    const known = isMethod(method);
    const refusal = inspectIngress({
      method,
      argBytes: msgArgData().length,
      caller: caller(),
      known,
      readOnly: known && m[method].mode === 'query'
    });
    return refusal === undefined;
  }

  @init([RegistryInit])
  init(args: Opt<InitArgs>): void {
    configure(args);
    runMigrations(state(), true);
    startMaintenance();
  }

  @postUpgrade([RegistryInit])
  postUpgrade(args: Opt<InitArgs>): void {
    // state() rebuilds the heap copies from stable memory on first use. Timers do not survive an upgrade.
    configure(args);
    // State an older version wrote is migrated in budgeted timer steps (quota counters, namespaces, review votes).
    runMigrations(state(), false);
    startMaintenance();
  }

  @update(m.publish_model_card.args, m.publish_model_card.ret, MANUAL)
  publish_model_card(): void {
    handle(m.publish_model_card, (manifestJson) => {
      const manifest = parseCardText(manifestJson);
      if ('Err' in manifest) return manifest;
      return publishCard(state(), caller(), time(), manifest.Ok);
    });
  }

  @query(m.get_model_card.args, m.get_model_card.ret, MANUAL)
  get_model_card(): void {
    handle(m.get_model_card, (id, digest) => {
      const stored = getCard(state(), id, some(digest));
      return opt(stored === undefined ? undefined : cardView(stored));
    });
  }

  @query(m.list_model_cards.args, m.list_model_cards.ret, MANUAL)
  list_model_cards(): void {
    handle(m.list_model_cards, (filter, page) => {
      const result = listCards(
        state(),
        {
          id: some(filter.id),
          family: some(filter.family),
          format: some(filter.format),
          quantization: some(filter.quantization),
          includeDeprecated: some(filter.include_deprecated)
        },
        { after: some(page.after), limit: some(page.limit) }
      );
      return mapResult(result, (p) => ({ items: p.items.map(cardView), next: p.next === undefined ? [] : [p.next] }));
    });
  }

  @query(m.list_runners.args, m.list_runners.ret, MANUAL)
  list_runners(): void {
    handle(m.list_runners, (filter, page) => {
      const now = time();
      const result = listRunners(
        state(),
        now,
        { model: some(filter.model), liveOnly: some(filter.live_only) },
        { after: some(page.after), limit: some(page.limit) }
      );
      return mapResult(result, (p) => ({
        items: p.items.map((r) => runnerView(state(), r, now)),
        next: p.next === undefined ? [] : [p.next]
      }));
    });
  }

  @update(m.deprecate_model_card.args, m.deprecate_model_card.ret, MANUAL)
  deprecate_model_card(): void {
    handle(m.deprecate_model_card, (ref, reason) => {
      return deprecateCard(state(), caller(), time(), ref, reason);
    });
  }

  /** Async: while bonds are required the bond is moved first (canisters/registry/bonds.ts). */
  @update(m.register_runner.args, m.register_runner.ret, MANUAL)
  async register_runner(): Promise<void> {
    if (tooLarge('register_runner')) return;
    // Read before any await (after one, the message's caller and argument are the ledger's reply's).
    const runner = caller();
    const bytes = registerArgsWithManifestBytes();
    // With bonds on, an unfunded caller is refused before its manifest is decoded and parsed (issue 15).
    const short = await bondShortfall(state(), runner);
    if (short !== undefined) return replyOf(m.register_runner, { Err: short });
    const manifest = parseManifestBytes(bytes, decodeInline);
    if ('Err' in manifest) return replyOf(m.register_runner, manifest);
    const registered = await registerWithBond(state(), runner, manifest.Ok, canisterSelf().toText());
    replyOf(
      m.register_runner,
      mapResult(registered, (r) => runnerView(state(), r, time()))
    );
  }

  @update(m.update_runner.args, m.update_runner.ret, MANUAL)
  update_runner(): void {
    if (tooLarge('update_runner')) return;
    // Who may manage the runner is checked before the manifest is decoded and parsed (~850 instructions a byte under
    // QuickJS): a stranger's 64 KiB manifest costs the check, not the parse (issue 15).
    const [runner, bytes] = updateArgsWithManifestBytes();
    const allowed = manageable(state(), caller(), runner.toText());
    if ('Err' in allowed) return replyOf(m.update_runner, allowed);
    const manifest = parseManifestBytes(bytes, decodeInline);
    if ('Err' in manifest) return replyOf(m.update_runner, manifest);
    replyOf(
      m.update_runner,
      mapResult(updateRunner(state(), caller(), time(), runner.toText(), manifest.Ok, canisterSelf().toText()), (r) =>
        runnerView(state(), r, time())
      )
    );
  }

  @update(m.deregister_runner.args, m.deregister_runner.ret, MANUAL)
  deregister_runner(): void {
    handle(m.deregister_runner, (runner) => {
      return deregisterWithBond(state(), caller(), runner.toText());
    });
  }

  @update(m.heartbeat.args, m.heartbeat.ret, MANUAL)
  heartbeat(): void {
    handle(m.heartbeat, (args) => {
      const result = heartbeat(state(), caller(), time(), {
        state: args.state,
        busySlots: args.busy_slots,
        queueDepth: args.queue_depth,
        tokensPerSecond: args.tokens_per_second,
        kvCacheUsage: args.kv_cache_usage
      });
      return mapResult(result, (ack) => ({ next_heartbeat_in_ns: ack.nextHeartbeatInNs, ttl_ns: ack.ttlNs }));
    });
  }

  @query(m.get_runner.args, m.get_runner.ret, MANUAL)
  get_runner(): void {
    handle(m.get_runner, (runner) => {
      const stored = state().runners.get(runner.toText());
      return opt(stored === undefined ? undefined : runnerView(state(), stored, time()));
    });
  }

  @query(m.find_runners.args, m.find_runners.ret, MANUAL)
  find_runners(): void {
    if (tooLarge('find_runners')) return;
    const [request] = argsOf(m.find_runners);
    const result = findRunners(state(), time(), findRequestOf(request), caller());
    if ('Ok' in result && result.Ok.length > 0) msgReply(candidatesReply(result.Ok));
    else
      replyOf(
        m.find_runners,
        mapResult(result, (candidates) => candidates.map(candidateView))
      );
  }

  @query(m.stats.args, m.stats.ret, MANUAL)
  stats(): void {
    handle(m.stats, () => {
      return stats(state(), time()).map(statsView);
    });
  }

  @update(m.suspend_runner.args, m.suspend_runner.ret, MANUAL)
  suspend_runner(): void {
    handle(m.suspend_runner, (runner, reason) => {
      return setSuspended(state(), caller(), time(), runner.toText(), reason);
    });
  }

  @update(m.unsuspend_runner.args, m.unsuspend_runner.ret, MANUAL)
  unsuspend_runner(): void {
    handle(m.unsuspend_runner, (runner) => {
      return setSuspended(state(), caller(), time(), runner.toText(), undefined);
    });
  }

  @update(m.set_admins.args, m.set_admins.ret, MANUAL)
  set_admins(): void {
    handle(m.set_admins, (admins) => {
      return setAdmins(
        state(),
        caller(),
        isController(msgCaller()),
        admins.map((a) => a.toText())
      );
    });
  }

  @query(m.get_config.args, m.get_config.ret, MANUAL)
  get_config(): void {
    handle(m.get_config, () => {
      return configView(state().config());
    });
  }
}
