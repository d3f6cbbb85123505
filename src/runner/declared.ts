import { z } from 'zod';

import { ACCELERATOR_CLASSES, CPU_ARCHITECTURES, ENGINES } from '../core/manifest/index.js';

// ── the operator's partial manifest ───────────────────────────────────────────────────────────
// Fields the runner only passes on are `unknown` here: the core schemas validate them at the end.

export const DeclaredAcceleratorSchema = z.strictObject({
  class: z.enum(ACCELERATOR_CLASSES),
  vendor: z.string().min(1),
  model: z.string().min(1),
  memoryGiB: z.number().min(0).optional(),
  count: z.int().min(1).optional(),
  peakTops: z.number().optional(),
  watts: z.number().optional()
});

const DeclaredCardSchema = z.strictObject({
  version: z.unknown().optional(),
  family: z.unknown().optional(),
  license: z.unknown().optional(),
  base: z.unknown().optional(),
  capabilities: z.unknown().optional(),
  modalities: z.strictObject({ input: z.array(z.string()), output: z.array(z.string()) }).optional()
});

const DeclaredDeploymentSchema = z.strictObject({
  model: z.strictObject({ id: z.string().min(1).optional(), digest: z.string().min(1).optional() }).optional(),
  engine: z.enum(ENGINES).optional(),
  engineVersion: z.string().min(1).optional(),
  apiDialect: z.string().min(1).optional(),
  image: z.unknown().optional(),
  servedContext: z.int().min(1).optional(),
  slots: z.int().min(1).optional(),
  price: z.unknown().optional(),
  evidenceDigest: z.unknown().optional(),
  // Claims about the weights, checked against the GGUF file and the server.
  quantization: z.string().min(1).optional(),
  contextLength: z.int().min(1).optional(),
  parameters: z.int().min(1).optional(),
  architecture: z.string().min(1).optional(),
  card: DeclaredCardSchema.optional()
});

export const DeclaredManifestSchema = z.strictObject({
  apiVersion: z.unknown().optional(),
  kind: z.unknown().optional(),
  operator: z.unknown().optional(),
  endpoint: z.unknown().optional(),
  region: z.unknown().optional(),
  confidential: z.unknown().optional(),
  hardware: z
    .strictObject({
      accelerators: z.array(DeclaredAcceleratorSchema).optional(),
      cpu: z.strictObject({ cores: z.int().min(1).optional(), architecture: z.enum(CPU_ARCHITECTURES).optional() }).optional(),
      ramGiB: z.number().gt(0).optional()
    })
    .optional(),
  deployments: z.array(DeclaredDeploymentSchema).min(1)
});

export type DeclaredManifest = z.infer<typeof DeclaredManifestSchema>;
export type DeclaredDeployment = z.infer<typeof DeclaredDeploymentSchema>;
