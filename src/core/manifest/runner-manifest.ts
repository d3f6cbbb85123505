import { z } from 'zod';
import {
  ACCELERATOR_COUNT_MAX,
  ACCELERATOR_MEMORY_GIB_MAX,
  ACCELERATOR_MODEL_MAX_LENGTH,
  ACCELERATOR_PEAK_TOPS_MAX,
  ACCELERATOR_VENDOR_MAX_LENGTH,
  ACCELERATOR_WATTS_MAX,
  ACCELERATORS_MAX,
  CONTEXT_LENGTH_MAX,
  CPU_CORES_MAX,
  DEPLOYMENTS_MAX,
  DEPLOYMENTS_MIN,
  ENDPOINT_MAX_LENGTH,
  ENGINE_VERSION_MAX_LENGTH,
  IMAGE_REF_MAX_LENGTH,
  PRINCIPAL_TEXT_MAX_LENGTH,
  RAM_GIB_MAX,
  REGION_MAX_LENGTH,
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

const AcceleratorSchema = z.strictObject({
  class: z.enum(ACCELERATOR_CLASSES),
  vendor: text(ACCELERATOR_VENDOR_MAX_LENGTH),
  model: text(ACCELERATOR_MODEL_MAX_LENGTH),
  memoryGiB: z.number().gte(0).lte(ACCELERATOR_MEMORY_GIB_MAX),
  count: intRange(1, ACCELERATOR_COUNT_MAX),
  peakTops: z.number().gt(0).lte(ACCELERATOR_PEAK_TOPS_MAX).optional(),
  watts: z.number().gt(0).lte(ACCELERATOR_WATTS_MAX).optional()
});

const HardwareSchema = z.strictObject({
  accelerators: z.array(AcceleratorSchema).max(ACCELERATORS_MAX),
  cpu: z.strictObject({
    cores: intRange(1, CPU_CORES_MAX),
    architecture: z.enum(CPU_ARCHITECTURES)
  }),
  ramGiB: z.number().gt(0).lte(RAM_GIB_MAX)
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

/** Per-million-token prices in ledger units. */
const PriceSchema = z.strictObject({
  inputPerMillion: AmountSchema,
  outputPerMillion: AmountSchema
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
