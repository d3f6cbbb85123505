import type { FindRequest } from '../types.js';

/** find_runners' filters, read from the route query (form fields of the models and runners views). */
export const FIND_FIELDS = [
  { name: 'model', label: 'Model id' },
  { name: 'family', label: 'Family' },
  { name: 'quantization', label: 'Quantization' },
  { name: 'min_context', label: 'Min context' },
  { name: 'capability', label: 'Capability' },
  { name: 'engine', label: 'Engine' },
  { name: 'region', label: 'Region' },
  { name: 'max_output_price', label: 'Max output price /M' }
] as const;

const opt = <T>(value: T | undefined): [] | [T] => (value === undefined ? [] : [value]);
const positive = (text: string | null): bigint | undefined => (text !== null && /^\d{1,20}$/.test(text) ? BigInt(text) : undefined);

export function findRequestOf(query: URLSearchParams, limit = 20): FindRequest {
  const text = (name: string): string | undefined => query.get(name) ?? undefined;
  const quantization = text('quantization');
  const capability = text('capability');
  return {
    model: opt(text('model')),
    family: opt(text('family')),
    min_context: opt(positive(query.get('min_context'))),
    quantizations: opt(quantization === undefined ? undefined : [quantization]),
    min_bits: [],
    input_modality: [],
    output_modality: [],
    capabilities: opt(capability === undefined ? undefined : [capability]),
    engine: opt(text('engine')),
    accelerator_class: [],
    region: opt(text('region')),
    max_input_price_per_million: [],
    max_output_price_per_million: opt(positive(query.get('max_output_price'))),
    endpoint_required: [],
    confidential_required: [],
    affinity_key: [],
    limit: [limit]
  };
}

/** Whether any runner-level filter is set (beyond what list_model_cards filters itself). */
export const hasRunnerFilter = (query: URLSearchParams): boolean =>
  ['min_context', 'capability', 'engine', 'region', 'max_output_price'].some((name) => query.has(name));
