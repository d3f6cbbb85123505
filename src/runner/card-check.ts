/**
 * A published card for the weights this runner serves (same id and digest) must say what the runner measured: a card
 * published first with the right digest but false facts (another quantization, a longer context, image input, more
 * parameters) would otherwise describe this runner's deployment to every requester.
 */
import { safeValidateModelCard, type ModelCard } from '../core/manifest/index.js';
import type { RunnerIssue } from './errors.js';

/**
 * Bits per weight are measured over every tensor (embeddings and norms kept at higher precision included), a card
 * usually states the nominal figure (4.5 for a Q4_K_M file measured at 4.9): within one bit is agreement; another
 * quantization differs in `method` anyway.
 */
export const BITS_TOLERANCE = 1;

/** One field of a published card that contradicts the measurement: `declared` is the card's, `probed` the runner's. */
export interface CardContradiction extends RunnerIssue {
  declared: unknown;
  probed: unknown;
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x) => b.includes(x));

/**
 * Every measured fact the published card states otherwise: format, architecture, parameters, quantization (method and
 * bits), context length and input modalities. Fields no probe measures (version, family, license, capabilities,
 * output modalities) are the publisher's to state.
 */
export function cardContradictions(published: ModelCard, measured: ModelCard): CardContradiction[] {
  const found: CardContradiction[] = [];
  const check = (path: string, declared: unknown, probed: unknown, differs: boolean): void => {
    if (differs)
      found.push({
        path,
        declared,
        probed,
        message: `the card says ${JSON.stringify(declared)}, the runner measured ${JSON.stringify(probed)}`
      });
  };
  check('format', published.format, measured.format, published.format !== measured.format);
  check('architecture', published.architecture, measured.architecture, published.architecture !== measured.architecture);
  check(
    'parameters.total',
    published.parameters.total,
    measured.parameters.total,
    published.parameters.total !== measured.parameters.total
  );
  const method = published.quantization.method;
  check('quantization.method', method, measured.quantization.method, method !== measured.quantization.method);
  const bits = published.quantization.bits;
  check('quantization.bits', bits, measured.quantization.bits, Math.abs(bits - measured.quantization.bits) > BITS_TOLERANCE);
  check('contextLength', published.contextLength, measured.contextLength, published.contextLength !== measured.contextLength);
  const input = published.modalities.input;
  check('modalities.input', input, measured.modalities.input, !sameSet(input, measured.modalities.input));
  return found;
}

/** Like {@link cardContradictions} on the registry's JSON; a published card this runner cannot read contradicts as a whole. */
export function publishedCardContradictions(publishedJson: string, measured: ModelCard): CardContradiction[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(publishedJson);
  } catch {
    parsed = undefined;
  }
  const card = safeValidateModelCard(parsed);
  if (!card.ok)
    return [
      { path: '', declared: publishedJson.slice(0, 200), probed: measured.id, message: 'the published card is not a valid ModelCard' }
    ];
  return cardContradictions(card.manifest, measured);
}
