import { IDL, init, isController, msgCaller, msgReply, Principal, postUpgrade, query, time, trap, update } from 'azle';

import {
  deprecateCard,
  deregisterRunner,
  findRunners,
  getCard,
  heartbeat,
  listCards,
  listRunners,
  makeConfig,
  publishCard,
  registerRunner,
  setAdmins,
  setSuspended,
  stats,
  updateRunner,
  MAX_MANIFEST_BYTES,
  type FindRequest,
  type RegistryError,
  type Result
} from '../../src/core/registry/index.js';
import { parseJson } from '../../src/core/json.js';
import * as C from './candid.js';
import { candidatesReply } from './candid-text.js';
import { args, reply, warmReplyTypes } from '../common/fast-candid.js';
import { openStore } from './stable-store.js';
import { candidateView, cardView, configView, runnerView, statsView } from './views.js';

type Opt<T> = [] | [T];
const some = <T>(value: Opt<T>): T | undefined => value[0];

// Opened on first use, not at module load: azle evaluates the module at build time (Candid generation),
// where stable memory cannot be read.
let opened: ReturnType<typeof openStore> | undefined;
const state = (): ReturnType<typeof openStore> => (opened ??= openStore());
const caller = (): string => msgCaller().toText();

/** Manifests arrive as JSON text (what `deai` reads from YAML or JSON files), bounded and parsed here. */
function manifestOf(json: string): Result<unknown> {
  if (json.length > MAX_MANIFEST_BYTES) return { Err: { LimitExceeded: { what: 'manifest bytes', limit: BigInt(MAX_MANIFEST_BYTES) } } };
  try {
    return { Ok: parseJson(json) };
  } catch (error) {
    return { Err: { InvalidManifest: { issues: [{ path: '', message: `not valid JSON: ${String(error)}` }] } } };
  }
}

const REPLY_TYPES = [...Object.values(C.Results), C.OptCardView, C.OptRunnerView, C.StatsList, C.ConfigView];

function configure(args: Opt<{ admins: Principal[]; heartbeat_interval_seconds: Opt<bigint>; heartbeat_ttl_seconds: Opt<bigint> }>): void {
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
  warmReplyTypes(REPLY_TYPES);
}

/** Decodes the arguments, runs `body`, and replies with a cached-type-table encoding of its result. */
function handle<A extends unknown[]>(argTypes: IDL.Type[], returnType: IDL.Type, body: (...decoded: A) => unknown): void {
  // IDL.decode has checked the bytes against argTypes, so the values have the parameter types.
  reply(returnType, body(...(args(argTypes) as A)));
}

const mapResult = <T, U>(result: Result<T>, view: (value: T) => U): { Ok: U } | { Err: RegistryError } =>
  'Ok' in result ? { Ok: view(result.Ok) } : result;


function findRequestOf(request: C.FindRequestArgs): FindRequest {
  const minContext = some(request.min_context);
  return {
    model: some(request.model),
    family: some(request.family),
    minContext: minContext === undefined ? undefined : Number(minContext),
    quantizations: some(request.quantizations),
    minBits: some(request.min_bits),
    inputModality: some(request.input_modality),
    outputModality: some(request.output_modality),
    capabilities: some(request.capabilities),
    engine: some(request.engine),
    acceleratorClass: some(request.accelerator_class),
    region: some(request.region),
    maxInputPricePerMillion: some(request.max_input_price_per_million),
    maxOutputPricePerMillion: some(request.max_output_price_per_million),
    endpointRequired: some(request.endpoint_required),
    confidentialRequired: some(request.confidential_required),
    affinityKey: some(request.affinity_key),
    limit: some(request.limit)
  };
}

export default class {
  @init([IDL.Opt(C.InitArgs)])
  init(args: Opt<{ admins: Principal[]; heartbeat_interval_seconds: Opt<bigint>; heartbeat_ttl_seconds: Opt<bigint> }>): void {
    configure(args);
  }

  @postUpgrade([IDL.Opt(C.InitArgs)])
  postUpgrade(args: Opt<{ admins: Principal[]; heartbeat_interval_seconds: Opt<bigint>; heartbeat_ttl_seconds: Opt<bigint> }>): void {
    // state() rebuilds the heap copies from stable memory on first use.
    configure(args);
  }

  @update([IDL.Text], C.Results.modelRef, { manual: true })
  publish_model_card(): void {
    handle([IDL.Text], C.Results.modelRef, (manifestJson: string) => {
      const manifest = manifestOf(manifestJson);
      if ('Err' in manifest) return manifest;
      return publishCard(state(), caller(), time(), manifest.Ok);
    });
  }

  @query([IDL.Text, IDL.Opt(IDL.Text)], C.OptCardView, { manual: true })
  get_model_card(): void {
    handle([IDL.Text, IDL.Opt(IDL.Text)], C.OptCardView, (id: string, digest: Opt<string>) => {
      const stored = getCard(state(), id, some(digest));
      return stored === undefined ? [] : [cardView(stored)];
    });
  }

  @query([C.CardFilter, C.PageRequest], C.Results.cardPage, { manual: true })
  list_model_cards(): void {
    handle([C.CardFilter, C.PageRequest], C.Results.cardPage, (
    filter: { id: Opt<string>; family: Opt<string>; format: Opt<string>; quantization: Opt<string>; include_deprecated: Opt<boolean> },
    page: { after: Opt<string>; limit: Opt<number> }
  ) => {
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

  @query([C.RunnerFilter, C.PageRequest], C.Results.runnerPage, { manual: true })
  list_runners(): void {
    handle([C.RunnerFilter, C.PageRequest], C.Results.runnerPage, (filter: { model: Opt<string>; live_only: Opt<boolean> }, page: { after: Opt<string>; limit: Opt<number> }) => {
      const now = time();
      const result = listRunners(state(), now, { model: some(filter.model), liveOnly: some(filter.live_only) }, { after: some(page.after), limit: some(page.limit) });
      return mapResult(result, (p) => ({ items: p.items.map((r) => runnerView(state(), r, now)), next: p.next === undefined ? [] : [p.next] }));
    });
  }

  @update([C.ModelRef, IDL.Text], C.Results.unit, { manual: true })
  deprecate_model_card(): void {
    handle([C.ModelRef, IDL.Text], C.Results.unit, (ref: { id: string; digest: string }, reason: string) => {
      return deprecateCard(state(), caller(), time(), ref, reason);
    });
  }

  @update([IDL.Text], C.Results.runner, { manual: true })
  register_runner(): void {
    handle([IDL.Text], C.Results.runner, (manifestJson: string) => {
      const manifest = manifestOf(manifestJson);
      if ('Err' in manifest) return manifest;
      return mapResult(registerRunner(state(), caller(), time(), manifest.Ok), (r) => runnerView(state(), r, time()));
    });
  }

  @update([IDL.Principal, IDL.Text], C.Results.runner, { manual: true })
  update_runner(): void {
    handle([IDL.Principal, IDL.Text], C.Results.runner, (runner: Principal, manifestJson: string) => {
      const manifest = manifestOf(manifestJson);
      if ('Err' in manifest) return manifest;
      return mapResult(updateRunner(state(), caller(), time(), runner.toText(), manifest.Ok), (r) => runnerView(state(), r, time()));
    });
  }

  @update([IDL.Principal], C.Results.unit, { manual: true })
  deregister_runner(): void {
    handle([IDL.Principal], C.Results.unit, (runner: Principal) => {
      return deregisterRunner(state(), caller(), runner.toText());
    });
  }

  @update([C.HeartbeatArgs], C.Results.heartbeat, { manual: true })
  heartbeat(): void {
    handle([C.HeartbeatArgs], C.Results.heartbeat, (args: { state: string; busy_slots: number; queue_depth: number; tokens_per_second: number; kv_cache_usage: number }) => {
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

  @query([IDL.Principal], C.OptRunnerView, { manual: true })
  get_runner(): void {
    handle([IDL.Principal], C.OptRunnerView, (runner: Principal) => {
      const stored = state().runners.get(runner.toText());
      return stored === undefined ? [] : [runnerView(state(), stored, time())];
    });
  }

  @query([C.FindRequest], C.Results.candidates, { manual: true })
  find_runners(): void {
    const [request] = args([C.FindRequest]) as [C.FindRequestArgs];
    const result = findRunners(state(), time(), findRequestOf(request));
    if ('Ok' in result && result.Ok.length > 0) msgReply(candidatesReply(result.Ok));
    else reply(C.Results.candidates, mapResult(result, (candidates) => candidates.map(candidateView)));
  }

  @query([], C.StatsList, { manual: true })
  stats(): void {
    handle([], C.StatsList, () => {
      return stats(state(), time()).map(statsView);
    });
  }

  @update([IDL.Principal, IDL.Text], C.Results.unit, { manual: true })
  suspend_runner(): void {
    handle([IDL.Principal, IDL.Text], C.Results.unit, (runner: Principal, reason: string) => {
      return setSuspended(state(), caller(), time(), runner.toText(), reason);
    });
  }

  @update([IDL.Principal], C.Results.unit, { manual: true })
  unsuspend_runner(): void {
    handle([IDL.Principal], C.Results.unit, (runner: Principal) => {
      return setSuspended(state(), caller(), time(), runner.toText(), undefined);
    });
  }

  @update([IDL.Vec(IDL.Principal)], C.Results.unit, { manual: true })
  set_admins(): void {
    handle([IDL.Vec(IDL.Principal)], C.Results.unit, (admins: Principal[]) => {
      return setAdmins(state(), caller(), isController(msgCaller()), admins.map((a) => a.toText()));
    });
  }

  @query([], C.ConfigView, { manual: true })
  get_config(): void {
    handle([], C.ConfigView, () => {
      return configView(state().config());
    });
  }
}
