/**
 * Manifest text (YAML or JSON) → validated manifests. Off-chain only: this is the one file of the
 * manifest standard that imports `yaml`, and the canister never imports it.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Document } from 'yaml';
import { ManifestError, type ManifestErrorCode } from './errors.ts';
import { parsePath, type ManifestIssue } from './issues.ts';
import { MANIFEST_STREAM_MAX_DOCUMENTS, MANIFEST_TEXT_MAX_BYTES } from './limits.ts';
import { safeValidateManifest, type Manifest, type ManifestResult } from './validate.ts';

export type ManifestsResult = { ok: true; manifests: Manifest[] } | { ok: false; code: ManifestErrorCode; issues: ManifestIssue[] };

type Failure = { ok: false; code: ManifestErrorCode; issues: ManifestIssue[] };

const fail = (code: ManifestErrorCode, issues: ManifestIssue[]): Failure => ({ ok: false, code, issues });

/** UTF-8 size, computed only when the length alone does not decide (each UTF-16 unit is ≥ 1 byte). */
function tooLarge(text: string, sourceName: string): Failure | undefined {
  const bytes = text.length > MANIFEST_TEXT_MAX_BYTES ? text.length : new TextEncoder().encode(text).length;
  if (bytes <= MANIFEST_TEXT_MAX_BYTES) return undefined;
  const atLeast = text.length > MANIFEST_TEXT_MAX_BYTES ? 'at least ' : '';
  const message = `${sourceName} is ${atLeast}${bytes} bytes; a manifest text may be at most ${MANIFEST_TEXT_MAX_BYTES} bytes (${MANIFEST_TEXT_MAX_BYTES / 1024} KiB)`;
  return fail('ManifestTooLarge', [{ path: '', message }]);
}

/** A non-empty document; `document` is its 0-based place in a stream of several, else undefined. */
type ParsedDocument = { document: number | undefined; value: unknown; doc: Document.Parsed };

/** The stream's non-empty documents as plain values, or the syntax errors with their positions. */
function readStream(text: string, lineCounter: LineCounter): ParsedDocument[] | Failure {
  const syntax = /^\s*[[{]/.test(text) ? 'JSON' : 'YAML';
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (!Array.isArray(docs)) return []; // an empty stream
  const issues: ManifestIssue[] = [];
  const out: ParsedDocument[] = [];
  docs.forEach((doc, index) => {
    const document = docs.length > 1 ? index : undefined;
    const error = doc.errors[0];
    if (error !== undefined) {
      const pos = error.linePos?.[0];
      const message = `${syntax} syntax error: ${firstLine(error.message)}`;
      issues.push(withDocument({ path: '', message, line: pos?.line, column: pos?.col }, document));
      return;
    }
    try {
      const value: unknown = doc.toJS({ maxAliasCount: 100 });
      // An empty document (e.g. after a trailing `---`) or a bare `null` holds no manifest.
      if (value !== null && value !== undefined) out.push({ document, value, doc });
    } catch (cause) {
      const message = `${syntax} error: ${cause instanceof Error ? cause.message : String(cause)}`;
      issues.push(withDocument({ path: '', message }, document));
    }
  });
  return issues.length > 0 ? fail('ManifestSyntax', issues) : out;
}

function firstLine(message: string): string {
  const line = message.split('\n')[0] ?? message;
  return line.replace(/ at line \d+, column \d+:?$/, '');
}

function withDocument(issue: ManifestIssue, document: number | undefined): ManifestIssue {
  const out: ManifestIssue = { path: issue.path, message: issue.message };
  if (issue.line !== undefined) out.line = issue.line;
  if (issue.column !== undefined) out.column = issue.column;
  if (document !== undefined) out.document = document;
  return out;
}

/** Offset of the node at `path` (the key, for a map entry); the closest existing parent if absent. */
function offsetOf(doc: Document.Parsed, path: Array<string | number>): number | undefined {
  let node: unknown = doc.contents;
  let offset = isScalar(node) || isMap(node) || isSeq(node) ? node.range?.[0] : undefined;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(key));
      if (pair === undefined) return offset;
      offset = isScalar(pair.key) ? pair.key.range?.[0] : offset;
      node = pair.value;
    } else if (isSeq(node) && typeof key === 'number') {
      node = node.items[key];
      if (isScalar(node) || isMap(node) || isSeq(node)) offset = node.range?.[0] ?? offset;
      else return offset;
    } else {
      return offset;
    }
  }
  return offset;
}

/** Adds the line and column of each issue's path in the source text. */
function locate(issues: ManifestIssue[], parsed: ParsedDocument, lineCounter: LineCounter): ManifestIssue[] {
  return issues.map((issue) => {
    const offset = offsetOf(parsed.doc, parsePath(issue.path));
    const pos = offset === undefined ? undefined : lineCounter.linePos(offset);
    return withDocument({ ...issue, line: pos?.line, column: pos?.col }, parsed.document);
  });
}

/** Parses and validates every manifest of a (multi-document) YAML or JSON text; never throws. */
export function safeParseManifestsText(text: string, sourceName = 'manifest'): ManifestsResult {
  const large = tooLarge(text, sourceName);
  if (large !== undefined) return large;
  const lineCounter = new LineCounter();
  const stream = readStream(text, lineCounter);
  if (!Array.isArray(stream)) return stream;
  if (stream.length === 0) return fail('InvalidManifest', [{ path: '', message: `expected a manifest, got an empty ${sourceName}` }]);
  if (stream.length > MANIFEST_STREAM_MAX_DOCUMENTS) {
    const message = `expected at most ${MANIFEST_STREAM_MAX_DOCUMENTS} manifests in one stream, got ${stream.length}`;
    return fail('InvalidManifest', [{ path: '', message }]);
  }
  const manifests: Manifest[] = [];
  const issues: ManifestIssue[] = [];
  for (const parsed of stream) {
    const result = safeValidateManifest(parsed.value);
    if (result.ok) manifests.push(result.manifest);
    else issues.push(...locate(result.issues, parsed, lineCounter));
  }
  return issues.length > 0 ? fail('InvalidManifest', issues) : { ok: true, manifests };
}

/** Parses and validates a text holding exactly one manifest; never throws. */
export function safeParseManifestText(text: string, sourceName = 'manifest'): ManifestResult<Manifest> {
  const result = safeParseManifestsText(text, sourceName);
  if (!result.ok) return result;
  const [manifest, ...rest] = result.manifests;
  if (manifest === undefined || rest.length > 0) {
    const message = `expected one manifest, got ${result.manifests.length} documents (use parseManifestsText for a stream)`;
    return fail('InvalidManifest', [{ path: '', message }]);
  }
  return { ok: true, manifest };
}

/** Like {@link safeParseManifestText}, but throws a `ManifestError`. */
export function parseManifestText(text: string, sourceName = 'manifest'): Manifest {
  const result = safeParseManifestText(text, sourceName);
  if (!result.ok) throw new ManifestError(result.code, result.issues, { source: sourceName });
  return result.manifest;
}

/** Like {@link safeParseManifestsText}, but throws a `ManifestError`. */
export function parseManifestsText(text: string, sourceName = 'manifest'): Manifest[] {
  const result = safeParseManifestsText(text, sourceName);
  if (!result.ok) throw new ManifestError(result.code, result.issues, { source: sourceName });
  return result.manifests;
}
