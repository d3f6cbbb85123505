/**
 * Turns the operator's partial manifest (runner.yaml) and what the probes measured into the
 * RunnerManifest and ModelCards the runner registers. The registered facts are the measured ones:
 * the operator may ADD what no probe can see (price, region, endpoint, license, slots of a vLLM
 * deployment, analog/NPU accelerators, peak TOPS) but never CONTRADICT a measurement (engine and its
 * version, quantization, parameters, trained context, context beyond what is served, GPUs, RAM, CPU).
 */
import {
  API_VERSION,
  manifestErrorMap,
  safeValidateModelCard,
  safeValidateRunnerManifest,
  toManifestIssues,
  type ManifestIssue,
  type ModelCard,
  type RunnerManifest
} from '../core/manifest/index.js';
import { DeclaredManifestSchema, type DeclaredDeployment, type DeclaredManifest } from './declared.js';
import { RunnerError } from './errors.js';
import type { GgufFacts } from './probes/gguf.js';
import type { Hardware } from './probes/hardware.js';
import type { ProbeResult, ReadyProbe, ServedModel } from './probes/types.js';
import { Findings, type Contradiction } from './reconcile-findings.js';
import { reconcileHardware } from './reconcile-hardware.js';

export type { Contradiction } from './reconcile-findings.js';
export { MEMORY_TOLERANCE } from './reconcile-hardware.js';

/** What the probes measured on this machine. */
export interface ProbedFacts {
  hardware: Hardware;
  llama?: ProbeResult;
  vllm?: ProbeResult;
  /** The GGUF file llama-server serves, with the sha256 (64 hex) of its bytes. */
  gguf?: GgufFacts & { digest: string };
}

export type ReconcileResult =
  | { ok: true; manifest: RunnerManifest; cards: ModelCard[] }
  | { ok: false; code: 'ManifestContradictsProbe'; issues: Contradiction[] }
  | { ok: false; code: 'ManifestInvalid'; issues: ManifestIssue[] };

/** The HTTP dialects each probed engine speaks. */
const ENGINE_DIALECTS: Readonly<Record<ReadyProbe['engine'], readonly string[]>> = {
  'llama.cpp': ['openai', 'llama.cpp'],
  vllm: ['openai']
};

/** Reconciles without throwing: the manifest and cards, or every contradiction / problem found. */
export function safeReconcileManifest(declared: unknown, probed: ProbedFacts): ReconcileResult {
  const parsed = DeclaredManifestSchema.safeParse(declared, { error: manifestErrorMap, reportInput: true });
  if (!parsed.success) return { ok: false, code: 'ManifestInvalid', issues: toManifestIssues(parsed.error.issues) };
  const findings = new Findings();
  const hardware = reconcileHardware(parsed.data.hardware, probed.hardware, findings);
  const cards = new Map<string, Record<string, unknown>>();
  const deployments = parsed.data.deployments.map((deployment, index) =>
    reconcileDeployment(deployment, `deployments[${index}]`, probed, findings, cards)
  );
  if (findings.contradictions.length > 0) {
    return { ok: false, code: 'ManifestContradictsProbe', issues: findings.contradictions };
  }
  if (findings.invalid.length > 0) return { ok: false, code: 'ManifestInvalid', issues: findings.invalid };
  return finish(parsed.data, hardware, deployments, cards);
}

/** Like {@link safeReconcileManifest}, but throws a `RunnerError` whose `issues` list every problem. */
export function reconcileManifest(declared: unknown, probed: ProbedFacts): { manifest: RunnerManifest; cards: ModelCard[] } {
  const result = safeReconcileManifest(declared, probed);
  if (result.ok) return { manifest: result.manifest, cards: result.cards };
  const lines = result.issues.map((issue) => `  ${issue.path}: ${issue.message}`);
  const head = result.code === 'ManifestContradictsProbe' ? 'runner manifest contradicts the probes' : 'invalid runner manifest';
  throw new RunnerError(result.code, [`${head}:`, ...lines].join('\n'), { issues: result.issues });
}

function finish(
  declared: DeclaredManifest,
  hardware: Hardware,
  deployments: Record<string, unknown>[],
  cardInputs: Map<string, Record<string, unknown>>
): ReconcileResult {
  const cards: ModelCard[] = [];
  const issues: ManifestIssue[] = [];
  for (const [path, input] of cardInputs) {
    const card = safeValidateModelCard(input);
    if (card.ok) {
      // Two deployments of the same weights publish one card.
      if (!cards.some((other) => other.id === card.manifest.id && other.digest === card.manifest.digest)) cards.push(card.manifest);
    } else issues.push(...card.issues.map((issue) => ({ ...issue, path: joinPath(`${path}.card`, issue.path) })));
  }
  const manifest = safeValidateRunnerManifest({
    apiVersion: declared.apiVersion ?? API_VERSION,
    kind: declared.kind ?? 'RunnerManifest',
    operator: declared.operator,
    ...(declared.endpoint === undefined ? {} : { endpoint: declared.endpoint }),
    region: declared.region,
    hardware,
    // Nothing is claimed without evidence; confidential computing is an addition the operator makes.
    confidential: declared.confidential ?? { kind: 'none' },
    deployments
  });
  if (!manifest.ok) issues.push(...manifest.issues);
  if (issues.length > 0 || !manifest.ok) return { ok: false, code: 'ManifestInvalid', issues };
  return { ok: true, manifest: manifest.manifest, cards };
}

function joinPath(prefix: string, path: string): string {
  if (path === '') return prefix;
  return path.startsWith('[') ? `${prefix}${path}` : `${prefix}.${path}`;
}

// ── deployments ────────────────────────────────────────────────────────────────────────────────

function reconcileDeployment(
  declared: DeclaredDeployment,
  path: string,
  probed: ProbedFacts,
  findings: Findings,
  cards: Map<string, Record<string, unknown>>
): Record<string, unknown> {
  const probe = engineProbe(declared, path, probed, findings);
  if (probe === undefined) return {};
  const served = servedModel(declared, path, probe, findings);
  if (served === undefined) return {};

  if (declared.engineVersion !== undefined && declared.engineVersion !== probe.engineVersion) {
    findings.contradict(
      `${path}.engineVersion`,
      declared.engineVersion,
      probe.engineVersion,
      `${probe.engine} reports version ${probe.engineVersion}`
    );
  }
  const dialects = ENGINE_DIALECTS[probe.engine];
  if (declared.apiDialect !== undefined && !dialects.includes(declared.apiDialect)) {
    findings.contradict(`${path}.apiDialect`, declared.apiDialect, dialects.join(' | '), `${probe.engine} speaks ${dialects.join(' | ')}`);
  }
  if (declared.servedContext !== undefined && declared.servedContext > served.servedContext) {
    findings.contradict(
      `${path}.servedContext`,
      declared.servedContext,
      served.servedContext,
      `${probe.engine} serves at most ${served.servedContext} tokens per request`
    );
  }
  if (probe.slots !== undefined && declared.slots !== undefined && declared.slots > probe.slots.total) {
    findings.contradict(`${path}.slots`, declared.slots, probe.slots.total, `${probe.engine} has ${probe.slots.total} slots`);
  }
  const slots = declared.slots ?? probe.slots?.total;
  if (slots === undefined) findings.problem(`${path}.slots`, `missing required field: ${probe.engine} reports no slot count, declare it`);

  const model =
    probe.engine === 'llama.cpp'
      ? ggufModel(declared, path, served, probed.gguf, findings, cards)
      : declaredOnlyModel(declared, path, served, findings);
  return {
    model,
    engine: probe.engine,
    engineVersion: probe.engineVersion,
    apiDialect: declared.apiDialect ?? 'openai',
    ...(declared.image === undefined ? {} : { image: declared.image }),
    // The registry refuses more context than the card's (the trained context): an engine stretched past it is capped.
    servedContext: declared.servedContext ?? Math.min(served.servedContext, served.trainedContext ?? served.servedContext),
    slots,
    price: declared.price,
    ...(declared.evidenceDigest === undefined ? {} : { evidenceDigest: declared.evidenceDigest })
  };
}

/** The ready probe of the deployment's engine, or a contradiction saying why there is none. */
function engineProbe(declared: DeclaredDeployment, path: string, probed: ProbedFacts, findings: Findings): ReadyProbe | undefined {
  const results = [probed.llama, probed.vllm].filter((result): result is ProbeResult => result !== undefined);
  const engine = declared.engine ?? (results.length === 1 ? results[0]?.engine : undefined);
  if (engine === undefined) {
    findings.problem(
      `${path}.engine`,
      `missing required field: ${results.length} engines were probed, say which one serves this deployment`
    );
    return undefined;
  }
  const result = engine === 'llama.cpp' ? probed.llama : engine === 'vllm' ? probed.vllm : undefined;
  if (result?.status === 'ready') return result;
  const state =
    result === undefined
      ? 'not probed'
      : result.status === 'unreachable'
        ? `unreachable (${result.error.message})`
        : result.status === 'malformed'
          ? `malformed answer from ${result.endpoint}`
          : 'loading';
  findings.contradict(`${path}.engine`, engine, state, `${engine} is ${state}; the runner registers only engines it measured ready`);
  return undefined;
}

function servedModel(declared: DeclaredDeployment, path: string, probe: ReadyProbe, findings: Findings): ServedModel | undefined {
  const id = declared.model?.id;
  const byId = probe.models.find((model) => model.id === id);
  // llama-server in single-model mode answers whatever `model` says, so its one model is the one.
  const only = probe.engine === 'llama.cpp' && probe.models.length === 1 ? probe.models[0] : undefined;
  const fallback = id === undefined && probe.models.length === 1 ? probe.models[0] : undefined;
  const served = byId ?? only ?? fallback;
  if (served === undefined) {
    const ids = probe.models.map((model) => model.id).join(', ');
    findings.contradict(`${path}.model.id`, id, ids, `${probe.engine} serves ${ids}`);
  }
  return served;
}

/** llama.cpp: the model is the GGUF file: digest, quantization, size and context are measured. */
function ggufModel(
  declared: DeclaredDeployment,
  path: string,
  served: ServedModel,
  gguf: ProbedFacts['gguf'],
  findings: Findings,
  cards: Map<string, Record<string, unknown>>
): { id: unknown; digest: unknown } {
  const id = declared.model?.id ?? served.id;
  if (gguf === undefined) {
    findings.problem(`${path}.model`, 'no GGUF file was probed: the runner measures the digest of the file llama-server serves');
    return { id, digest: declared.model?.digest };
  }
  // The file probed must be the file served, or every fact below describes the wrong weights.
  if (served.quantization !== undefined && served.quantization !== gguf.quantization) {
    findings.contradict(
      'gguf.quantization',
      gguf.quantization,
      served.quantization,
      `${gguf.path} is ${gguf.quantization}, llama-server serves ${served.quantization}`
    );
  }
  if (served.parameters !== undefined && served.parameters !== gguf.parameters) {
    findings.contradict(
      'gguf.parameters',
      gguf.parameters,
      served.parameters,
      `${gguf.path} has ${gguf.parameters} parameters, llama-server serves ${served.parameters}`
    );
  }
  const digest = `sha256:${gguf.digest}`;
  const claims: Array<[string, unknown, unknown]> = [
    ['quantization', declared.quantization, gguf.quantization],
    ['contextLength', declared.contextLength, gguf.contextLength],
    ['parameters', declared.parameters, gguf.parameters],
    ['architecture', declared.architecture, gguf.architecture],
    ['model.digest', declared.model?.digest, digest]
  ];
  for (const [field, claim, fact] of claims) {
    if (claim !== undefined && claim !== fact) {
      findings.contradict(`${path}.${field}`, claim, fact, `the GGUF file says ${String(fact)}`);
    }
  }
  const card = declared.card;
  const input = served.inputModalities ?? ['text'];
  const claimedInput = card?.modalities?.input ?? [];
  const unseen = claimedInput.filter((modality) => !input.some((served) => served === modality));
  if (unseen.length > 0) {
    findings.contradict(`${path}.card.modalities.input`, claimedInput, input, `llama-server has no projector for ${unseen.join(', ')}`);
  }
  if (gguf.bitsPerWeight === undefined) {
    findings.problem(`${path}.model`, `${gguf.path}: a tensor type has no known size, so bits per weight cannot be measured`);
  }
  cards.set(path, {
    apiVersion: API_VERSION,
    kind: 'ModelCard',
    id,
    version: card?.version ?? gguf.version,
    family: card?.family ?? gguf.architecture,
    architecture: gguf.architecture,
    ...(card?.base === undefined ? {} : { base: card.base }),
    parameters: { total: gguf.parameters },
    format: 'gguf',
    quantization: { method: gguf.quantization, bits: gguf.bitsPerWeight, label: gguf.quantization },
    contextLength: gguf.contextLength,
    modalities: { input, output: card?.modalities?.output ?? ['text'] },
    capabilities: card?.capabilities ?? [],
    license: card?.license ?? gguf.license,
    digest
  });
  return { id, digest };
}

/** vLLM: weights are not a file the runner hashes; the operator names them and the registry holds the card. */
function declaredOnlyModel(
  declared: DeclaredDeployment,
  path: string,
  served: ServedModel,
  findings: Findings
): { id: unknown; digest: unknown } {
  for (const field of ['quantization', 'contextLength', 'parameters', 'architecture', 'card'] as const) {
    if (declared[field] !== undefined) {
      findings.problem(`${path}.${field}`, `cannot be checked for a vLLM deployment (only GGUF files are read); remove it`);
    }
  }
  return { id: declared.model?.id ?? served.id, digest: declared.model?.digest };
}
