/**
 * A reader for the Prometheus text exposition format (version 0.0.4), the format of llama.cpp's and
 * vLLM's `/metrics`. prom-client only writes this format; the one npm parser
 * (parse-prometheus-text-format) is unmaintained and untyped, so this is a small line parser of our
 * own. It reads samples (name, labels, value) and `# TYPE` lines; HELP text and timestamps are
 * skipped. Any line it cannot read makes the whole text malformed: a half-read metrics page must not
 * pass for a real one.
 */

export interface PrometheusSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PrometheusText {
  samples: PrometheusSample[];
  /** `# TYPE` declarations: metric family name → counter | gauge | histogram | summary | untyped. */
  types: Map<string, string>;
}

export interface PrometheusTextIssue {
  /** 1-based line number. */
  line: number;
  message: string;
}

export type PrometheusTextResult = ({ ok: true } & PrometheusText) | { ok: false; issues: PrometheusTextIssue[] };

const METRIC_NAME = /^[A-Za-z_:][A-Za-z0-9_:]*/;
const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
const TYPE_LINE = /^#\s*TYPE\s+([A-Za-z_:][A-Za-z0-9_:]*)\s+(counter|gauge|histogram|summary|untyped)\s*$/;
const FLOAT = /^[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|Inf|inf|NaN|nan)$/;
const TIMESTAMP = /^-?[0-9]+$/;

/** Reads a whole metrics page; never throws. */
export function safeParsePrometheusText(text: string): PrometheusTextResult {
  const samples: PrometheusSample[] = [];
  const types = new Map<string, string>();
  const issues: PrometheusTextIssue[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/\r$/, '').trim();
    if (line === '') return;
    if (line.startsWith('#')) {
      const type = TYPE_LINE.exec(line);
      if (type?.[1] !== undefined && type[2] !== undefined) types.set(type[1], type[2]);
      return;
    }
    const sample = parseSampleLine(line);
    if (typeof sample === 'string') issues.push({ line: index + 1, message: sample });
    else samples.push(sample);
  });
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, samples, types };
}

/** One sample line, or why it is not one. */
function parseSampleLine(line: string): PrometheusSample | string {
  const name = METRIC_NAME.exec(line)?.[0];
  if (name === undefined) return `expected a metric name, got ${JSON.stringify(line.slice(0, 32))}`;
  let rest = line.slice(name.length);
  let labels: Record<string, string> = {};
  if (rest.startsWith('{')) {
    const parsed = parseLabels(rest);
    if (typeof parsed === 'string') return `${name}: ${parsed}`;
    labels = parsed.labels;
    rest = rest.slice(parsed.length);
  }
  const fields = rest.trim().split(/[ \t]+/);
  const [valueText, timestamp, ...extra] = fields;
  if (valueText === undefined || valueText === '' || !FLOAT.test(valueText)) {
    return `${name}: expected a number value, got ${JSON.stringify(valueText ?? '')}`;
  }
  if (timestamp !== undefined && !TIMESTAMP.test(timestamp)) {
    return `${name}: expected an integer timestamp after the value, got ${JSON.stringify(timestamp)}`;
  }
  if (extra.length > 0) return `${name}: unexpected text after the value`;
  return { name, labels, value: parseFloatValue(valueText) };
}

function parseFloatValue(text: string): number {
  const lower = text.toLowerCase();
  if (lower === 'nan' || lower === '+nan' || lower === '-nan') return Number.NaN;
  if (lower === '+inf' || lower === 'inf') return Number.POSITIVE_INFINITY;
  if (lower === '-inf') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

/** `{a="1",b="x\"y"}` at the start of `text` → the labels and how many characters they took. */
function parseLabels(text: string): { labels: Record<string, string>; length: number } | string {
  // No prototype: a label named `__proto__` must stay a label.
  const labels: Record<string, string> = Object.create(null);
  let at = 1;
  const skipSpaces = (): void => {
    while (text[at] === ' ' || text[at] === '\t') at += 1;
  };
  for (;;) {
    skipSpaces();
    if (text[at] === '}') return { labels, length: at + 1 };
    const labelName = LABEL_NAME.exec(text.slice(at))?.[0];
    if (labelName === undefined) return `expected a label name or "}" at column ${at + 1}`;
    at += labelName.length;
    skipSpaces();
    if (text[at] !== '=') return `expected "=" after label ${labelName}`;
    at += 1;
    skipSpaces();
    if (text[at] !== '"') return `expected a quoted value for label ${labelName}`;
    at += 1;
    let value = '';
    for (;;) {
      const char = text[at];
      if (char === undefined) return `unterminated value for label ${labelName}`;
      at += 1;
      if (char === '"') break;
      if (char !== '\\') {
        value += char;
        continue;
      }
      const escaped = text[at];
      at += 1;
      if (escaped === 'n') value += '\n';
      else if (escaped === '\\' || escaped === '"') value += escaped;
      else return `invalid escape "\\${escaped ?? ''}" in label ${labelName}`;
    }
    if (Object.hasOwn(labels, labelName)) return `duplicate label ${labelName}`;
    labels[labelName] = value;
    skipSpaces();
    if (text[at] === ',') at += 1;
    else if (text[at] !== '}') return `expected "," or "}" after label ${labelName}`;
  }
}

/** Values of every series named `name` (one per label set). */
export function valuesOf(samples: readonly PrometheusSample[], name: string): number[] {
  return samples.filter((sample) => sample.name === name).map((sample) => sample.value);
}
