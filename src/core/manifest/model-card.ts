import { z } from 'zod';
import {
  CONTEXT_LENGTH_MAX,
  LICENSE_MAX_LENGTH,
  MODEL_ARCHITECTURE_MAX_LENGTH,
  MODEL_FAMILY_MAX_LENGTH,
  MODEL_PARAMETERS_MAX,
  MODEL_VERSION_MAX_LENGTH,
  QUANTIZATION_BITS_MAX,
  QUANTIZATION_LABEL_MAX_LENGTH
} from './limits.ts';
import { DigestSchema, formatted, intRange, ModelIdSchema, text, token, uniqueList, versionLabel } from './fields.ts';
import { show } from './issues.ts';
import {
  API_VERSION,
  BASE_RELATIONS,
  CAPABILITIES,
  GGUF_FILE_TYPES,
  isGgufFileType,
  MODALITIES,
  MODEL_FORMATS,
  QUANTIZATION_METHODS
} from './vocabulary.ts';

const BaseModelSchema = z.strictObject({
  id: ModelIdSchema,
  relation: z.enum(BASE_RELATIONS)
});

/** Total parameters, and for mixture-of-experts models the parameters active per token. */
const ParametersSchema = z
  .strictObject({
    total: intRange(1, MODEL_PARAMETERS_MAX),
    active: intRange(1, MODEL_PARAMETERS_MAX).optional()
  })
  .superRefine((parameters, ctx) => {
    if (parameters.active !== undefined && parameters.active > parameters.total) {
      ctx.addIssue({
        code: 'custom',
        path: ['active'],
        input: parameters.active,
        message: `expected active ≤ total (${parameters.total}), got ${parameters.active}`
      });
    }
  });

const QuantizationSchema = z.strictObject({
  method: z.enum(QUANTIZATION_METHODS),
  /** Average bits per weight, e.g. 4.5 for Q4_K_M. */
  bits: z.number().gt(0).lte(QUANTIZATION_BITS_MAX),
  label: text(QUANTIZATION_LABEL_MAX_LENGTH).optional()
});

const ModalitySchema = z.enum(MODALITIES);

const ModalitiesSchema = z.strictObject({
  input: uniqueList(ModalitySchema, 1, MODALITIES.length),
  output: uniqueList(ModalitySchema, 1, MODALITIES.length)
});

/** SPDX license identifier (`Apache-2.0`, `MIT`), a model license (`llama3.1`) or `LicenseRef-…`. */
const LicenseSchema = formatted(
  /^[A-Za-z0-9][A-Za-z0-9.+-]*$/,
  'an SPDX license identifier or LicenseRef-… (letters, digits, ".", "-", "+")',
  LICENSE_MAX_LENGTH
);

/** A model's identity and properties, addressed by the sha256 of its weights. */
export const ModelCardSchema = z
  .strictObject({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('ModelCard'),
    id: ModelIdSchema,
    version: versionLabel(MODEL_VERSION_MAX_LENGTH),
    family: token(MODEL_FAMILY_MAX_LENGTH),
    architecture: token(MODEL_ARCHITECTURE_MAX_LENGTH),
    base: BaseModelSchema.optional(),
    parameters: ParametersSchema,
    format: z.enum(MODEL_FORMATS),
    quantization: QuantizationSchema,
    contextLength: intRange(1, CONTEXT_LENGTH_MAX),
    modalities: ModalitiesSchema,
    capabilities: uniqueList(z.enum(CAPABILITIES), 0, CAPABILITIES.length),
    license: LicenseSchema,
    digest: DigestSchema
  })
  .superRefine((card, ctx) => {
    if (card.base !== undefined && card.base.id === card.id) {
      ctx.addIssue({
        code: 'custom',
        path: ['base', 'id'],
        input: card.base.id,
        message: `expected a base model other than the model itself, got ${show(card.base.id)}`
      });
    }
    // A GGUF file records its file type in `general.file_type`; the card must name one of those.
    if (card.format === 'gguf' && !isGgufFileType(card.quantization.method)) {
      ctx.addIssue({
        code: 'custom',
        path: ['quantization', 'method'],
        input: card.quantization.method,
        message: `expected a GGUF file type for format gguf (${GGUF_FILE_TYPES.join(' | ')}), got ${show(card.quantization.method)}`
      });
    }
  });

export type ModelCard = z.infer<typeof ModelCardSchema>;
export type ModelCardInput = z.input<typeof ModelCardSchema>;
