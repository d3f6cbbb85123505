import { describe, expect, it } from 'vitest';

import { engineBody } from '../../../src/runner/metered/proxy.js';

describe('engineBody', () => {
  it('attack: the payer’s own n_predict, template kwargs or grammar never reach the engine (finding 3)', () => {
    const body = engineBody(
      {
        model: 'm',
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 1,
        n_predict: -1,
        chat_template_kwargs: { padding: 'x'.repeat(10_000) },
        grammar: 'root ::= "a"*',
        stream: true,
        stream_options: { include_usage: false },
        temperature: 0.5
      },
      'engine-model',
      1
    );
    expect(body).toEqual({
      model: 'engine-model',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 1,
      n_predict: 1,
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.5
    });
  });
});
