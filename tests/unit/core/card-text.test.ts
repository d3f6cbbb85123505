import { describe, expect, it } from 'vitest';

import { MAX_CARD_BRACKETS, MAX_CARD_BYTES, MAX_CARD_SEPARATORS, parseCardText } from '../../../src/core/registry/index.ts';
import { modelCard } from '../../support/manifests.ts';

describe('a model card text, bounded before it is parsed (issue 15)', () => {
  it('parses a valid card, also pretty-printed, and a card at every bound', () => {
    const card = modelCard();
    expect(parseCardText(JSON.stringify(card))).toEqual({ Ok: card });
    expect(parseCardText(JSON.stringify(card, null, 4))).toEqual({ Ok: card });
    const label = { ...card, quantization: { method: 'Q4_K_M', bits: 4.5, label: '[,'.repeat(32) } };
    expect(parseCardText(JSON.stringify(label))).toEqual({ Ok: label });
    const filled = `{"x":"${'a'.repeat(MAX_CARD_BYTES - 8)}"}`;
    expect(filled.length).toBe(MAX_CARD_BYTES);
    expect(parseCardText(filled)).toHaveProperty('Ok');
  });

  it('refuses more bytes, brackets or commas than a card can hold, counting inside strings too', () => {
    expect(parseCardText(`{"x":"${'é'.repeat(MAX_CARD_BYTES / 2)}"}`)).toEqual({
      Err: { LimitExceeded: { what: 'model card bytes', limit: BigInt(MAX_CARD_BYTES) } }
    });
    expect(parseCardText('['.repeat(MAX_CARD_BRACKETS) + ']'.repeat(MAX_CARD_BRACKETS))).toHaveProperty('Ok');
    expect(parseCardText(`{"x":"${'['.repeat(MAX_CARD_BRACKETS)}"}`)).toEqual({
      Err: { LimitExceeded: { what: 'model card brackets ([ and {)', limit: BigInt(MAX_CARD_BRACKETS) } }
    });
    expect(parseCardText(`[${'0,'.repeat(MAX_CARD_SEPARATORS + 1)}0]`)).toEqual({
      Err: { LimitExceeded: { what: 'model card commas (fields and list entries)', limit: BigInt(MAX_CARD_SEPARATORS) } }
    });
    expect(parseCardText(`[${'0,'.repeat(MAX_CARD_SEPARATORS)}0]`)).toHaveProperty('Ok');
  });

  it('answers InvalidManifest to text that is not JSON', () => {
    expect(parseCardText('{not json')).toMatchObject({ Err: { InvalidManifest: { issues: [{ path: '' }] } } });
  });
});
