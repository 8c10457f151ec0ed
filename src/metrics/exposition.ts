/**
 * The Prometheus text exposition format 0.0.4: a parser, a validator with the
 * rules a Pushgateway push must follow, and a canonical formatter.
 *
 * Spec: https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 * (parser behaviour follows prometheus/common's `expfmt.TextParser`).
 */
import { InvalidMetricsError } from '../errors.js';

/** One sample line: a series (name + labels) and its value. */
export interface ParsedSample {
  /** The sample's own name, e.g. `x_bucket` inside histogram family `x`. */
  name: string;
  /** Labels in the order they were written. */
  labels: Record<string, string>;
  value: number;
  /** Timestamp in Unix milliseconds, when the line carries one. */
  timestampMs?: number;
  /** 1-based line of the text it was read from (0 when built in code). */
  line: number;
}

/** A metric family: its name, type, help and samples. */
export interface ParsedFamily {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help?: string;
  samples: ParsedSample[];
}

/** Options of {@link validateExposition}. */
export interface ValidateOptions {
  /**
   * Labels the push adds itself (`job` and the grouping labels); a sample
   * carrying one of them is refused. @default []
   */
  groupingLabels?: string[];
  /** Accept sample timestamps (the Pushgateway refuses them). @default false */
  allowTimestamps?: boolean;
}

const METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/** True when `name` is a valid metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`). */
export function isValidMetricName(name: string): boolean {
  return METRIC_NAME_RE.test(name);
}

/** True when `name` is a valid label name (`[a-zA-Z_][a-zA-Z0-9_]*`, `__` prefix allowed here). */
export function isValidLabelName(name: string): boolean {
  return LABEL_NAME_RE.test(name);
}

interface FamilyState {
  family: ParsedFamily;
  /** Lines of the HELP / TYPE comments, when seen. */
  helpLine?: number;
  typeLine?: number;
  /** Line of the family's first line of any kind. */
  firstLine: number;
  /** Line of the first sample. */
  firstSampleLine?: number;
}

interface ParseResult {
  families: ParsedFamily[];
  states: Map<string, FamilyState>;
  /** For each non-empty, non-plain-comment line: the family it belongs to (in order). */
  order: { family: string; line: number; kind: 'help' | 'type' | 'sample' }[];
}

function fail(line: number, message: string): never {
  throw new InvalidMetricsError(message, line);
}

/** Parses a sample value: decimal float syntax plus `NaN`, `+Inf`, `-Inf` (as the gateway's parser). */
function parseValue(token: string, line: number, what: string): number {
  if (/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(token)) {
    const n = Number(token);
    // Go's strconv.ParseFloat refuses a number beyond float64 (ErrRange): the gateway answers 400.
    if (!Number.isFinite(n))
      fail(line, `${what} ${JSON.stringify(token)} is out of range (write +Inf or -Inf)`);
    return n;
  }
  const lower = token.toLowerCase();
  if (lower === 'nan') return Number.NaN;
  if (/^[+]?inf(inity)?$/.test(lower)) return Number.POSITIVE_INFINITY;
  if (/^-inf(inity)?$/.test(lower)) return Number.NEGATIVE_INFINITY;
  // No hex: Go's ParseFloat wants a `p` exponent for it and expfmt refuses `p`, so the
  // gateway refuses every hex value (seen with 1.5.1).
  return fail(line, `invalid ${what} ${JSON.stringify(token)}`);
}

function unescapeHelp(s: string, line: number): string {
  return s.replace(/\\(.?)/g, (_m, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    return fail(line, `invalid escape sequence "\\${c}" in HELP text`);
  });
}

function isBlank(c: string | undefined): boolean {
  return c === ' ' || c === '\t';
}

/** Which family a sample named `name` belongs to (Go's `setOrCreateCurrentMF`). */
function familyNameFor(name: string, states: Map<string, FamilyState>): string {
  if (states.has(name)) return name;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue;
    const base = name.slice(0, -suffix.length);
    const type = states.get(base)?.family.type;
    if (type === 'histogram') return base;
    if (type === 'summary' && suffix !== '_bucket') return base;
  }
  return name;
}

function parseText(text: string): ParseResult {
  const families: ParsedFamily[] = [];
  const states = new Map<string, FamilyState>();
  const order: ParseResult['order'] = [];
  const lines = text.split('\n');
  // A final '\n' leaves an empty last element that is not a line of its own.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();

  const stateFor = (name: string, lineNo: number): FamilyState => {
    let st = states.get(name);
    if (!st) {
      st = { family: { name, type: 'untyped', samples: [] }, firstLine: lineNo };
      states.set(name, st);
      families.push(st.family);
    }
    return st;
  };

  lines.forEach((raw, idx) => {
    const lineNo = idx + 1;
    if (raw.endsWith('\r')) fail(lineNo, 'line ends with "\\r" (CRLF line endings are not allowed)');
    const l = raw.replace(/^[ \t]+/, '');
    if (l === '') return;
    if (l.startsWith('#')) {
      // Like Go's parser: the blank after '#' is optional.
      const m = /^#[ \t]*(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*)|[ \t]*)$/.exec(l);
      if (!m) return; // a plain comment
      const kw = m[1] as 'HELP' | 'TYPE';
      const name = m[2] as string;
      const rest = m[3] ?? '';
      if (!METRIC_NAME_RE.test(name))
        fail(lineNo, `invalid metric name ${JSON.stringify(name)} in ${kw} line`);
      // Like Go's parser, a HELP/TYPE name resolves as a sample name does: `x_count` after a
      // histogram or summary `x` is that family's, so a TYPE or HELP for it is a second one.
      const famName = familyNameFor(name, states);
      if (famName !== name) {
        const owner = states.get(famName)?.family.type ?? 'untyped';
        fail(
          lineNo,
          `${kw} line for metric ${name}, a name that belongs to ${owner} ${famName}; give it another name`,
        );
      }
      const st = stateFor(name, lineNo);
      if (kw === 'HELP') {
        if (st.helpLine !== undefined)
          fail(lineNo, `second HELP line for metric ${name} (first on line ${st.helpLine})`);
        st.helpLine = lineNo;
        st.family.help = unescapeHelp(rest, lineNo);
        order.push({ family: name, line: lineNo, kind: 'help' });
      } else {
        const type = rest.trim();
        if (st.typeLine !== undefined)
          fail(lineNo, `second TYPE line for metric ${name} (first on line ${st.typeLine})`);
        if (st.firstSampleLine !== undefined)
          fail(
            lineNo,
            `TYPE line for metric ${name} after its samples (first sample on line ${st.firstSampleLine})`,
          );
        if (!TYPES.has(type)) fail(lineNo, `unknown metric type ${JSON.stringify(type)} for metric ${name}`);
        st.typeLine = lineNo;
        st.family.type = type as ParsedFamily['type'];
        order.push({ family: name, line: lineNo, kind: 'type' });
      }
      return;
    }
    const sample = parseSampleLine(l, lineNo);
    const famName = familyNameFor(sample.name, states);
    const st = stateFor(famName, lineNo);
    st.firstSampleLine ??= lineNo;
    st.family.samples.push(sample);
    order.push({ family: famName, line: lineNo, kind: 'sample' });
  });
  return { families, states, order };
}

function parseSampleLine(l: string, lineNo: number): ParsedSample {
  let i = 0;
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l);
  if (!nameMatch) fail(lineNo, `invalid metric name at ${JSON.stringify(l.slice(0, 40))}`);
  const name = nameMatch[0];
  i = name.length;
  const labels: Record<string, string> = {};
  while (isBlank(l[i])) i++;
  if (l[i] === '{') {
    i++;
    for (;;) {
      while (isBlank(l[i])) i++;
      if (l[i] === '}') {
        i++;
        break;
      }
      const lm = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(l.slice(i));
      if (!lm) fail(lineNo, `invalid label name at ${JSON.stringify(l.slice(i, i + 40))} in metric ${name}`);
      const lname = lm[0];
      i += lname.length;
      while (isBlank(l[i])) i++;
      if (l[i] !== '=') fail(lineNo, `expected "=" after label name ${lname} in metric ${name}`);
      i++;
      while (isBlank(l[i])) i++;
      if (l[i] !== '"') fail(lineNo, `expected '"' to start the value of label ${lname} in metric ${name}`);
      i++;
      let value = '';
      let closed = false;
      while (i < l.length) {
        const c = l[i] as string;
        if (c === '\\') {
          const n = l[i + 1];
          if (n === '\\') value += '\\';
          else if (n === '"') value += '"';
          else if (n === 'n') value += '\n';
          else fail(lineNo, `invalid escape sequence "\\${n ?? ''}" in the value of label ${lname}`);
          i += 2;
          continue;
        }
        if (c === '"') {
          closed = true;
          i++;
          break;
        }
        value += c;
        i++;
      }
      if (!closed) fail(lineNo, `unterminated value of label ${lname} in metric ${name}`);
      if (Object.hasOwn(labels, lname)) fail(lineNo, `duplicate label name ${lname} in metric ${name}`);
      // defineProperty, not assignment: a label named __proto__ must stay a label.
      Object.defineProperty(labels, lname, { value, enumerable: true, writable: true, configurable: true });
      while (isBlank(l[i])) i++;
      if (l[i] === ',') {
        i++;
        continue;
      }
      if (l[i] === '}') {
        i++;
        break;
      }
      fail(lineNo, `expected "," or "}" after the value of label ${lname} in metric ${name}`);
    }
  } else if (i === name.length && i < l.length) {
    // The name must be followed by a blank (already skipped) or a label set.
    fail(lineNo, `invalid metric name at ${JSON.stringify(l.slice(0, 40))}`);
  }
  // Go's parser reads a blank after the value as the start of a timestamp: both gateways
  // answer 400 to `x 1 `.
  if (isBlank(l[l.length - 1])) fail(lineNo, `trailing blank at the end of the line of metric ${name}`);
  const rest = l.slice(i).trim();
  if (rest === '') fail(lineNo, `missing value for metric ${name}`);
  const tokens = rest.split(/[ \t]+/);
  if (tokens.length > 2)
    fail(
      lineNo,
      `unexpected text ${JSON.stringify(tokens.slice(2).join(' '))} after the value of metric ${name}`,
    );
  const value = parseValue(tokens[0] as string, lineNo, `value for metric ${name}:`);
  const sample: ParsedSample = { name, labels, value, line: lineNo };
  if (tokens[1] !== undefined) {
    if (!/^-?\d+$/.test(tokens[1]))
      fail(lineNo, `invalid timestamp ${JSON.stringify(tokens[1])} for metric ${name}`);
    sample.timestampMs = Number(tokens[1]);
  }
  return sample;
}

/**
 * Parses text exposition format 0.0.4 into metric families, in the order they
 * first appear. Blank lines and plain `#` comments are skipped; samples of a
 * family that reappears later are merged into it (see {@link validateExposition}
 * for the stricter rules of a push).
 *
 * @throws InvalidMetricsError naming the line and what is wrong (syntax, a second
 *   HELP or TYPE line, a TYPE line after the family's samples, an unknown type).
 * @example
 * parseExposition('# TYPE x gauge\nx{a="1"} 2\n')
 * // [{ name: 'x', type: 'gauge', samples: [{ name: 'x', labels: { a: '1' }, value: 2, line: 2 }] }]
 */
export function parseExposition(text: string): ParsedFamily[] {
  return parseText(text).families;
}

/**
 * The identity of a series. A label with an empty value is no label in Prometheus (and the
 * gateway adds instance="" to a series without one), so `x{a=""}` is the same series as `x`.
 */
function seriesKey(name: string, labels: Record<string, string>): string {
  const keys = Object.keys(labels)
    .filter((k) => labels[k] !== '')
    .sort();
  return `${name}{${keys.map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;
}

/** Formats a series for messages, e.g. `x{a="1"}`. */
function showSeries(name: string, labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return name;
  return `${name}{${entries.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
}

/**
 * Parses text exposition format 0.0.4 and checks the rules a push must follow:
 * the text ends with `\n`; each family's lines are contiguous; HELP and TYPE
 * appear at most once and before the family's samples; no series appears twice;
 * label names are valid and do not start with `__`; no sample carries a grouping
 * label; no sample has a timestamp (unless allowed); histograms and summaries
 * have their full shape (ascending `le` buckets ending in `+Inf` equal to
 * `_count`, plus `_sum` and `_count`; summaries `quantile` in [0, 1], plus `_sum`
 * and `_count`).
 *
 * @returns the parsed families
 * @throws InvalidMetricsError whose message names the line and what is wrong,
 *   e.g. `line 3: duplicate series x{a="1"} (first on line 2)`
 */
export function validateExposition(text: string, opts: ValidateOptions = {}): ParsedFamily[] {
  const { families, states, order } = parseText(text);
  if (text.length > 0 && !text.endsWith('\n')) {
    fail(text.split('\n').length, 'missing final newline (every line must end with "\\n")');
  }
  // Contiguity, and HELP before samples.
  let current: string | undefined;
  const closed = new Set<string>();
  for (const item of order) {
    if (item.family !== current) {
      if (closed.has(item.family)) {
        const st = states.get(item.family) as FamilyState;
        fail(
          item.line,
          `lines of metric family ${item.family} are not contiguous (the family started on line ${st.firstLine})`,
        );
      }
      if (current !== undefined) closed.add(current);
      current = item.family;
    }
    if (item.kind === 'help') {
      const st = states.get(item.family) as FamilyState;
      if (st.firstSampleLine !== undefined && st.firstSampleLine < item.line) {
        fail(
          item.line,
          `HELP line for metric ${item.family} after its samples (first sample on line ${st.firstSampleLine})`,
        );
      }
    }
  }
  const grouping = new Set(opts.groupingLabels ?? []);
  const seen = new Map<string, number>();
  for (const fam of families) {
    for (const s of fam.samples) {
      for (const lname of Object.keys(s.labels)) {
        if (lname.startsWith('__'))
          fail(s.line, `label name ${lname} of metric ${s.name} is reserved (starts with "__")`);
        if (grouping.has(lname)) {
          fail(
            s.line,
            `metric ${s.name} carries grouping label ${lname}; the push adds it, remove it from the sample`,
          );
        }
      }
      if (s.timestampMs !== undefined && !opts.allowTimestamps) {
        fail(s.line, `metric ${s.name} has a timestamp; pushed metrics must not have timestamps`);
      }
      const key = seriesKey(s.name, s.labels);
      const first = seen.get(key);
      if (first !== undefined)
        fail(s.line, `duplicate series ${showSeries(s.name, s.labels)} (first on line ${first})`);
      seen.set(key, s.line);
    }
    if (fam.type === 'histogram') checkHistogram(fam);
    else if (fam.type === 'summary') checkSummary(fam);
  }
  return families;
}

/** One series of a histogram or summary family: its labels without `le` / `quantile` and its parts. */
export interface SeriesGroup {
  labels: Record<string, string>;
  /** Line of its first sample. */
  line: number;
  /** Cumulative buckets as written (ascending `le` once validated, the last `+Inf`). */
  buckets: { le: number; value: number; line: number }[];
  quantiles: number;
  sum?: ParsedSample;
  count?: ParsedSample;
}

/**
 * The series of a histogram family (one per label set without `le`), with its buckets, `_sum`
 * and `_count`; for a family {@link validateExposition} accepted.
 */
export function histogramSeries(fam: ParsedFamily): SeriesGroup[] {
  return groupSeries(fam, 'le');
}

/** Groups a histogram's or summary's samples by their labels without `le` / `quantile`. */
function groupSeries(fam: ParsedFamily, special: 'le' | 'quantile'): SeriesGroup[] {
  const groups = new Map<string, SeriesGroup>();
  for (const s of fam.samples) {
    const { [special]: _omit, ...rest } = s.labels;
    const key = seriesKey('', rest);
    let g = groups.get(key);
    if (!g) {
      g = { labels: rest, line: s.line, buckets: [], quantiles: 0 };
      groups.set(key, g);
    }
    const kind = fam.type;
    const isSumOrCount = s.name === `${fam.name}_sum` || s.name === `${fam.name}_count`;
    // Go's parser reads `le` / `quantile` as a number on every sample of the family and drops it
    // from _sum and _count: refused, not silently merged with the series without it.
    if (isSumOrCount && s.labels[special] !== undefined)
      fail(s.line, `${kind} sample ${s.name} must not have a "${special}" label`);
    if (s.name === `${fam.name}_sum`) g.sum = s;
    else if (s.name === `${fam.name}_count`) g.count = s;
    else if (kind === 'histogram' && s.name === `${fam.name}_bucket`) {
      const le = s.labels.le;
      if (le === undefined) fail(s.line, `histogram bucket ${s.name} has no "le" label`);
      const bound = parseValue(le, s.line, `"le" label of ${s.name}:`);
      if (Number.isNaN(bound)) fail(s.line, `histogram bucket ${s.name} has le="NaN"`);
      g.buckets.push({ le: bound, value: s.value, line: s.line });
    } else if (kind === 'summary' && s.name === fam.name) {
      const q = s.labels.quantile;
      if (q === undefined) fail(s.line, `summary sample ${s.name} has no "quantile" label`);
      const qv = parseValue(q, s.line, `"quantile" label of ${s.name}:`);
      if (!(qv >= 0 && qv <= 1)) fail(s.line, `summary sample ${s.name} has quantile="${q}" outside [0, 1]`);
      g.quantiles++;
    } else {
      const allowed =
        kind === 'histogram'
          ? `${fam.name}_bucket, ${fam.name}_sum or ${fam.name}_count`
          : `${fam.name}, ${fam.name}_sum or ${fam.name}_count`;
      fail(s.line, `sample ${s.name} does not belong in ${kind} ${fam.name} (expected ${allowed})`);
    }
  }
  return [...groups.values()];
}

function checkHistogram(fam: ParsedFamily): void {
  for (const g of groupSeries(fam, 'le')) {
    const where = showSeries(fam.name, g.labels);
    let prev: { le: number; value: number; line: number } | undefined;
    for (const b of g.buckets) {
      // Pushgateway 1.11 (client_golang's histogram validation) refuses a negative count.
      if (b.value < 0) fail(b.line, `histogram ${where}: bucket count ${formatValue(b.value)} is negative`);
      if (prev && !(b.le > prev.le))
        fail(b.line, `histogram ${where}: buckets must be in ascending "le" order`);
      if (prev && b.value < prev.value)
        fail(b.line, `histogram ${where}: bucket counts must not decrease (buckets are cumulative)`);
      prev = b;
    }
    const last = g.buckets[g.buckets.length - 1];
    const lastLine = Math.max(g.line, last?.line ?? 0, g.sum?.line ?? 0, g.count?.line ?? 0);
    if (!last || last.le !== Number.POSITIVE_INFINITY)
      fail(last?.line ?? g.line, `histogram ${where}: missing the le="+Inf" bucket`);
    if (!g.sum) fail(lastLine, `histogram ${where}: missing ${fam.name}_sum`);
    if (!g.count) fail(lastLine, `histogram ${where}: missing ${fam.name}_count`);
    if (g.count.value < 0) fail(g.count.line, `histogram ${where}: ${fam.name}_count is negative`);
    if (!Object.is(g.count.value, last.value) && g.count.value !== last.value) {
      fail(
        g.count.line,
        `histogram ${where}: ${fam.name}_count (${formatValue(g.count.value)}) differs from the le="+Inf" bucket (${formatValue(last.value)})`,
      );
    }
  }
}

function checkSummary(fam: ParsedFamily): void {
  for (const g of groupSeries(fam, 'quantile')) {
    const where = showSeries(fam.name, g.labels);
    const lastLine = Math.max(g.line, g.sum?.line ?? 0, g.count?.line ?? 0);
    if (!g.sum) fail(lastLine, `summary ${where}: missing ${fam.name}_sum`);
    if (!g.count) fail(lastLine, `summary ${where}: missing ${fam.name}_count`);
  }
}

/** Escapes a label value: `\`, `"` and newline. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Formats a sample value the way Prometheus reads it: `NaN`, `+Inf`, `-Inf`, or the shortest decimal. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  if (Object.is(v, -0)) return '-0';
  return String(v);
}

/**
 * Formats metric families as canonical text exposition format 0.0.4: per family
 * `# HELP` (when it has help), `# TYPE`, then its samples with labels in their
 * given order; label values and help are escaped per the spec; every line ends
 * with `\n`. `parseExposition(formatExposition(f))` gives `f` back (lines aside).
 */
export function formatExposition(families: ParsedFamily[]): string {
  let out = '';
  for (const fam of families) {
    if (fam.help !== undefined) out += `# HELP ${fam.name} ${escapeHelp(fam.help)}\n`;
    out += `# TYPE ${fam.name} ${fam.type}\n`;
    for (const s of fam.samples) {
      out += showSeries(s.name, s.labels);
      out += ` ${formatValue(s.value)}`;
      if (s.timestampMs !== undefined) out += ` ${Math.trunc(s.timestampMs)}`;
      out += '\n';
    }
  }
  return out;
}
