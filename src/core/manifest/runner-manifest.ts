import { z } from 'zod';
import {
  ACCELERATOR_COUNT_MAX,
  ACCELERATOR_DEVICES_MAX,
  ACCELERATOR_MEMORY_GIB_MAX,
  ACCELERATOR_MODEL_MAX_LENGTH,
  ACCELERATOR_PEAK_TOPS_MAX,
  ACCELERATOR_VENDOR_MAX_LENGTH,
  ACCELERATOR_TOPS_PER_WATT_MAX,
  ACCELERATOR_WATTS_MAX,
  ACCELERATOR_WATTS_MIN,
  ACCELERATORS_MAX,
  CONTEXT_LENGTH_MAX,
  CPU_CORES_MAX,
  DEPLOYMENTS_MAX,
  DEPLOYMENTS_MIN,
  ENDPOINT_MAX_LENGTH,
  ENGINE_VERSION_MAX_LENGTH,
  IMAGE_REF_MAX_LENGTH,
  PRICE_PER_MILLION_MAX,
  PRICE_PER_MILLION_MIN,
  PRINCIPAL_TEXT_MAX_LENGTH,
  RAM_GIB_MAX,
  REGION_MAX_LENGTH,
  RUNNER_SLOTS_MAX,
  SLOTS_MAX
} from './limits.ts';
import { AmountSchema, DigestSchema, formatted, intRange, text, versionLabel } from './fields.ts';
import { formatModelRef, ModelRefSchema } from './model-ref.ts';
import { ACCELERATOR_CLASSES, API_DIALECTS, API_VERSION, CONFIDENTIAL_KINDS, CPU_ARCHITECTURES, ENGINES } from './vocabulary.ts';

/** Shape of a textual principal; the canister checks the CRC with the real `Principal`. */
const PrincipalTextSchema = formatted(
  /^[a-z2-7]{1,5}(?:-[a-z2-7]{1,5})*$/,
  'a textual principal (groups of up to 5 of a-z 2-7 separated by "-", e.g. "aaaaa-aa")',
  PRINCIPAL_TEXT_MAX_LENGTH
);

const LABEL = '[A-Za-z0-9]+(?:-+[A-Za-z0-9]+)*';
const URL_PATTERN = new RegExp(
  `^https?://(?:${LABEL}(?:\\.${LABEL})*|\\[[0-9A-Fa-f:.]+\\])(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~%!$&'()*+,;=:@/-]*)?$`
);

/** Base URL of the runner's API; a regex, because the canister has no `URL`. */
const EndpointSchema = formatted(URL_PATTERN, 'an http(s) URL such as "https://runner.example.org"', ENDPOINT_MAX_LENGTH);

const RegionSchema = formatted(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'a region of a-z 0-9 and "-", e.g. "eu-west"', REGION_MAX_LENGTH);

const OCI_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const OCI_DOMAIN = '[A-Za-z0-9]+(?:[.-][A-Za-z0-9]+)*(?::[0-9]+)?';
const OCI_PINNED = new RegExp(
  `^(?:${OCI_DOMAIN}/)?${OCI_COMPONENT}(?:/${OCI_COMPONENT})*(?::[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?@sha256:[0-9a-f]{64}$`
);

/** OCI image that pins its content: `registry/repo[:tag]@sha256:<64 hex>`. */
const ImageSchema = formatted(OCI_PINNED, 'an OCI image reference pinned by digest ("name[:tag]@sha256:<64 hex>")', IMAGE_REF_MAX_LENGTH);

const AcceleratorSchema = z
  .strictObject({
    class: z.enum(ACCELERATOR_CLASSES),
    vendor: text(ACCELERATOR_VENDOR_MAX_LENGTH),
    model: text(ACCELERATOR_MODEL_MAX_LENGTH),
    memoryGiB: z.number().gte(0).lte(ACCELERATOR_MEMORY_GIB_MAX),
    count: intRange(1, ACCELERATOR_COUNT_MAX),
    peakTops: z.number().gt(0).lte(ACCELERATOR_PEAK_TOPS_MAX).optional(),
    watts: z.number().gte(ACCELERATOR_WATTS_MIN).lte(ACCELERATOR_WATTS_MAX).optional()
  })
  .superRefine((accelerator, ctx) => {
    const { peakTops, watts } = accelerator;
    if (
      peakTops !== undefined &&
      watts !== undefined &&
      watts >= ACCELERATOR_WATTS_MIN &&
      peakTops / watts > ACCELERATOR_TOPS_PER_WATT_MAX
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['peakTops'],
        input: peakTops,
        message: `implausible: ${peakTops} TOPS at ${watts} W is more than ${ACCELERATOR_TOPS_PER_WATT_MAX} TOPS per watt`
      });
    }
  });

const HardwareSchema = z
  .strictObject({
    accelerators: z.array(AcceleratorSchema).max(ACCELERATORS_MAX),
    cpu: z.strictObject({
      cores: intRange(1, CPU_CORES_MAX),
      architecture: z.enum(CPU_ARCHITECTURES)
    }),
    ramGiB: z.number().gt(0).lte(RAM_GIB_MAX)
  })
  .superRefine((hardware, ctx) => {
    const devices = hardware.accelerators.reduce((n, a) => n + a.count, 0);
    if (devices > ACCELERATOR_DEVICES_MAX && hardware.accelerators.every((a) => a.count <= ACCELERATOR_COUNT_MAX)) {
      ctx.addIssue({
        code: 'custom',
        path: ['accelerators'],
        message: `implausible: ${devices} accelerator devices in one runner (at most ${ACCELERATOR_DEVICES_MAX})`
      });
    }
  });

/** Confidential computing: anything but `none` must point at its attestation evidence. */
const ConfidentialSchema = z
  .strictObject({
    kind: z.enum(CONFIDENTIAL_KINDS),
    evidenceDigest: DigestSchema.optional()
  })
  .superRefine((confidential, ctx) => {
    if (confidential.kind !== 'none' && confidential.evidenceDigest === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['evidenceDigest'],
        message: `missing required field: kind ${confidential.kind} needs the sha256 digest of its attestation evidence`
      });
    }
    if (confidential.kind === 'none' && confidential.evidenceDigest !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['evidenceDigest'],
        input: confidential.evidenceDigest,
        message: 'expected no evidenceDigest when kind is none (set kind to sgx | sev-snp | tdx | gpu-cc)'
      });
    }
  });

/** A price per million tokens within the plausibility bounds. */
const PricePerMillionSchema = AmountSchema.refine((price) => price >= PRICE_PER_MILLION_MIN && price <= PRICE_PER_MILLION_MAX, {
  error: (issue) =>
    `expected a price per million tokens between ${PRICE_PER_MILLION_MIN} and ${PRICE_PER_MILLION_MAX}, got ${String(issue.input)}`
});

/** Per-million-token prices in ledger units. */
const PriceSchema = z.strictObject({
  inputPerMillion: PricePerMillionSchema,
  outputPerMillion: PricePerMillionSchema
});

const DeploymentSchema = z.strictObject({
  model: ModelRefSchema,
  engine: z.enum(ENGINES),
  engineVersion: versionLabel(ENGINE_VERSION_MAX_LENGTH),
  apiDialect: z.enum(API_DIALECTS),
  image: ImageSchema.optional(),
  servedContext: intRange(1, CONTEXT_LENGTH_MAX),
  slots: intRange(1, SLOTS_MAX),
  price: PriceSchema,
  evidenceDigest: DigestSchema.optional()
});

const DeploymentsSchema = z
  .array(DeploymentSchema)
  .min(DEPLOYMENTS_MIN)
  .max(DEPLOYMENTS_MAX)
  .superRefine((deployments, ctx) => {
    const slots = deployments.reduce((n, d) => n + d.slots, 0);
    // Only when every deployment's own slots are in bounds: one oversized value is reported once, where it is.
    if (slots > RUNNER_SLOTS_MAX && deployments.every((d) => d.slots <= SLOTS_MAX)) {
      ctx.addIssue({ code: 'custom', path: [], message: `implausible: ${slots} slots in one runner (at most ${RUNNER_SLOTS_MAX})` });
    }
    const firstAt = new Map<string, number>();
    deployments.forEach((deployment, index) => {
      const key = `${formatModelRef(deployment.model)} ${deployment.engine}`;
      const first = firstAt.get(key);
      if (first === undefined) {
        firstAt.set(key, index);
        return;
      }
      ctx.addIssue({
        code: 'custom',
        path: [index],
        message: `duplicate deployment: model ${deployment.model.id} (${deployment.model.digest}) on ${deployment.engine} is already declared at deployments[${first}]`
      });
    });
  });

/** A runner node: who operates it, what hardware it has, and which models it serves on which engine. */
export const RunnerManifestSchema = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('RunnerManifest'),
  operator: PrincipalTextSchema,
  endpoint: EndpointSchema.optional(),
  region: RegionSchema,
  hardware: HardwareSchema,
  confidential: ConfidentialSchema,
  deployments: DeploymentsSchema
});

export type RunnerManifest = z.infer<typeof RunnerManifestSchema>;
export type RunnerManifestInput = z.input<typeof RunnerManifestSchema>;
export type Deployment = RunnerManifest['deployments'][number];
export type Accelerator = RunnerManifest['hardware']['accelerators'][number];
