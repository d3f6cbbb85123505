import type { RunnerRequest } from '../types.js';

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

const positive = (text: string | null): bigint | undefined => (text !== null && /^\d{1,20}$/.test(text) ? BigInt(text) : undefined);

/** `{ key: value }`, or nothing when the value is absent (the request's fields are optional). */
const given = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } =>
  (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };

export function findRequestOf(query: URLSearchParams, limit = 20): RunnerRequest {
  const text = (name: string): string | undefined => query.get(name) ?? undefined;
  const quantization = text('quantization');
  const capability = text('capability');
  return {
    ...given('model', text('model')),
    ...given('family', text('family')),
    ...given('minContext', positive(query.get('min_context'))),
    ...given('quantizations', quantization === undefined ? undefined : [quantization]),
    ...given('capabilities', capability === undefined ? undefined : [capability]),
    ...given('engine', text('engine')),
    ...given('region', text('region')),
    ...given('maxOutputPricePerMillion', positive(query.get('max_output_price'))),
    limit
  };
}

/** Whether any runner-level filter is set (beyond what list_model_cards filters itself). */
export const hasRunnerFilter = (query: URLSearchParams): boolean =>
  ['min_context', 'capability', 'engine', 'region', 'max_output_price'].some((name) => query.has(name));
