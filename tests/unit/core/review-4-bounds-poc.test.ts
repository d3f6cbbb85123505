import { IDL } from '@dfinity/candid';
import { describe, expect, it } from 'vitest';

import { checkFindRequest, maxArgBytes } from '../../../src/core/registry/index.ts';
import { QuoteTaskArgs } from '../../../src/interface/registry/index.ts';

/*
 * Review 4 (adversarial): every handle()'d registry method checks maxArgBytes before decoding (32080b7). quote_task
 * takes the same FindRequest as find_runners (64 KiB) and submit_task, but got the 4 KiB default: a request that
 * checkFindRequest accepts (and that find_runners/submit_task accept) is refused by quote_task with LimitExceeded.
 * Before 32080b7 quote_task (a query, no inspect_message) had no byte bound. Failed on main at 4c9905a; passes since the fix.
 */
describe('R4-B1: quote_task refuses a FindRequest that find_runners and submit_task accept', () => {
  it('a bounds-valid request (32 pinned digests, 32 quantizations, filters at their lengths) fits quote_task', () => {
    const digests = Array.from({ length: 32 }, (_, i) => `sha256:${i.toString(16).padStart(64, '0')}`);
    const quantizations = Array.from({ length: 32 }, (_, i) => `Q${i}_K_M-imatrix-${'x'.repeat(24)}`);
    const core = {
      model: `${'o'.repeat(31)}/${'n'.repeat(128)}`,
      family: 'f'.repeat(160),
      region: 'r'.repeat(160),
      affinityKey: '会话'.repeat(64),
      quantizations,
      digests,
      limit: 100
    };
    expect(checkFindRequest(core)).toEqual({ Ok: 100 });
    const wire = {
      request: {
        model: [core.model],
        family: [core.family],
        min_context: [],
        quantizations: [quantizations],
        min_bits: [],
        input_modality: [],
        output_modality: [],
        capabilities: [],
        engine: [],
        accelerator_class: [],
        region: [core.region],
        max_input_price_per_million: [],
        max_output_price_per_million: [],
        endpoint_required: [],
        confidential_required: [],
        affinity_key: [core.affinityKey],
        limit: [100],
        digests: [digests]
      },
      input_bytes: [1000],
      max_output_tokens: 512,
      redundancy: [1]
    };
    const bytes = IDL.encode([QuoteTaskArgs], [wire]).length;
    expect(bytes).toBeLessThanOrEqual(maxArgBytes('find_runners'));
    expect(bytes).toBeLessThanOrEqual(maxArgBytes('quote_task'));
  });
});
