/**
 * Property: validateExposition against the real Pushgateway. Exposition texts are generated
 * from a model (families of every type, label escapes, HELP escapes, special values, histogram
 * and summary shapes, timestamps) and then mutated (lines swapped, duplicated, dropped, moved;
 * final newline dropped; CRLF; blanks; flipped characters). Nothing the validator accepts may be
 * refused by the gateway; how many texts the validator refuses that the gateway takes (it is
 * stricter on purpose: contiguity, shapes, reserved names) is reported.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { InvalidMetricsError } from '../../src/errors.js';
import { validateExposition } from '../../src/metrics/exposition.js';
import { pushgatewayMatrix } from '../helpers/matrix.js';
import { type RunningService, startPushgateway } from '../helpers/services.js';
import { runs, SEED } from './settings.js';

const TYPES = ['counter', 'gauge', 'histogram', 'summary', 'untyped'] as const;
type FamilyType = (typeof TYPES)[number];

const VALUES = [
  '0',
  '1',
  '-1',
  '42',
  '1.5',
  '-0',
  '.5',
  '5.',
  '+3',
  '1e-300',
  '4.9e-324',
  '1.7976931348623157e+308',
  '1e400',
  '1E5',
  'NaN',
  'nan',
  '+Inf',
  '-Inf',
  'Inf',
  'inf',
  '+inf',
  'Infinity',
  '-infinity',
];
/** Values Go's parser may or may not take: hex, underscores, junk. */
const ODD_VALUES = ['0x1F', '-0x10', '0x1p-2', '1_000', '1e', 'abc', '1.5.2', '--1'];

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const escapeHelp = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

const textArb = fc.string({
  unit: fc.oneof(
    {
      weight: 4,
      arbitrary: fc.constantFrom('a', 'b', ' ', '\\', '"', '\n', '{', '}', ',', '=', '#', 'é', '😀'),
    },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  ),
  maxLength: 8,
});

const nameArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('x', 'y', 'x_bucket', 'x_sum', 'x_count', 'a:b', '_z') },
  { weight: 2, arbitrary: fc.stringMatching(/^[a-zA-Z_:][a-zA-Z0-9_:]{0,5}$/) },
);

const labelNameArb = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom('a', 'b', 'path', 'instance', '_') },
  { weight: 1, arbitrary: fc.constantFrom('job', 'case', '__x', 'le', 'quantile') },
  { weight: 4, arbitrary: fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,4}$/) },
);

const labelsArb = fc.dictionary(labelNameArb, textArb, { maxKeys: 3, noNullPrototype: true });

const valueArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...VALUES) },
  { weight: 2, arbitrary: fc.double().map(String) },
  { weight: 2, arbitrary: fc.nat().map(String) },
  { weight: 1, arbitrary: fc.constantFrom(...ODD_VALUES) },
);

const tsArb = fc.oneof(
  { weight: 40, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.constantFrom('1700000000000', '-1', '0', '1.5', 'x') },
);

interface FamilyModel {
  name: string;
  type: FamilyType | 'none' | 'Gauge' | 'unknown';
  help: string | null;
  rawHelp: boolean;
  series: { labels: Record<string, string>; value: string; ts: string | null; trailingComma: boolean }[];
  les: string[];
  dropInf: boolean;
  countDelta: number;
  quantiles: string[];
}

const familyArb: fc.Arbitrary<FamilyModel> = fc.record({
  name: nameArb,
  type: fc.oneof(
    { weight: 10, arbitrary: fc.constantFrom(...TYPES) },
    { weight: 2, arbitrary: fc.constant('none' as const) },
    { weight: 1, arbitrary: fc.constantFrom('Gauge' as const, 'unknown' as const) },
  ),
  help: fc.option(textArb, { freq: 2 }),
  rawHelp: fc.boolean(),
  series: fc.array(
    fc.record({ labels: labelsArb, value: valueArb, ts: tsArb, trailingComma: fc.boolean() }),
    { minLength: 1, maxLength: 3 },
  ),
  les: fc.uniqueArray(
    fc.oneof(
      { weight: 12, arbitrary: fc.constantFrom('0.1', '1', '2.5', '10', '1e3', '-1', '+Inf') },
      { weight: 1, arbitrary: fc.constantFrom('NaN', 'x', '') },
    ),
    { maxLength: 3 },
  ),
  dropInf: fc.oneof(
    { weight: 6, arbitrary: fc.constant(false) },
    { weight: 1, arbitrary: fc.constant(true) },
  ),
  countDelta: fc.oneof(
    { weight: 8, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.constantFrom(1, -1) },
  ),
  quantiles: fc.uniqueArray(
    fc.oneof(
      { weight: 12, arbitrary: fc.constantFrom('0', '0.5', '0.9', '0.99', '1') },
      { weight: 1, arbitrary: fc.constantFrom('1.5', '-0.1', 'NaN', 'x') },
    ),
    { maxLength: 3 },
  ),
});

function renderLabels(labels: Record<string, string>, trailingComma: boolean): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  if (parts.length === 0) return trailingComma ? '{}' : '';
  return `{${parts.join(',')}${trailingComma ? ',' : ''}}`;
}

function withLabel(labels: Record<string, string>, name: string, value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) if (k !== name) out[k] = v;
  out[name] = value;
  return out;
}

/** Renders a family in the shape its type asks for (with the model's deliberate flaws). */
function renderFamily(f: FamilyModel, prefix: string): string[] {
  const name = `${prefix}${f.name}`;
  const lines: string[] = [];
  if (f.help !== null)
    lines.push(`# HELP ${name} ${f.rawHelp ? f.help.replace(/\n/g, ' ') : escapeHelp(f.help)}`);
  if (f.type !== 'none') lines.push(`# TYPE ${name} ${f.type}`);
  const sample = (
    n: string,
    labels: Record<string, string>,
    value: string,
    s: FamilyModel['series'][number],
  ) => `${n}${renderLabels(labels, s.trailingComma)} ${value}${s.ts === null ? '' : ` ${s.ts}`}`;
  for (const s of f.series) {
    if (f.type === 'histogram') {
      const les = [...f.les].sort((a, b) => Number(a) - Number(b));
      if (!f.dropInf) les.push('+Inf');
      let n = 0;
      for (const le of les) {
        n += 1;
        lines.push(sample(`${name}_bucket`, withLabel(s.labels, 'le', le), String(n), s));
      }
      lines.push(sample(`${name}_sum`, s.labels, s.value, s));
      lines.push(sample(`${name}_count`, s.labels, String(n + f.countDelta), s));
    } else if (f.type === 'summary') {
      for (const q of f.quantiles) lines.push(sample(name, withLabel(s.labels, 'quantile', q), s.value, s));
      lines.push(sample(`${name}_sum`, s.labels, s.value, s));
      lines.push(sample(`${name}_count`, s.labels, '3', s));
    } else {
      lines.push(sample(name, s.labels, s.value, s));
    }
  }
  return lines;
}

type Mutation =
  | { kind: 'swap' | 'dup' | 'drop' | 'moveEnd' | 'crlf' | 'indent' | 'blank' | 'tabs'; at: number }
  | { kind: 'flip'; at: number; pos: number; char: string }
  | { kind: 'comment'; at: number; text: string }
  | { kind: 'noFinalNewline' };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constantFrom(
      'swap',
      'dup',
      'drop',
      'moveEnd',
      'crlf',
      'indent',
      'blank',
      'tabs',
    ) as fc.Arbitrary<'swap' | 'dup' | 'drop' | 'moveEnd' | 'crlf' | 'indent' | 'blank' | 'tabs'>,
    at: fc.nat(),
  }),
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.nat(),
    pos: fc.nat(),
    char: fc.constantFrom(' ', '"', '\\', '{', '}', ',', '=', '#', 'x', '0', '\t', '.', '-', 'é'),
  }),
  fc.record({
    kind: fc.constant('comment' as const),
    at: fc.nat(),
    text: fc.constantFrom('# a comment', '#', '# HELP', '#TYPE x gauge', '# TYPE', '# EOF', '#HELP x h'),
  }),
  fc.constant({ kind: 'noFinalNewline' as const }),
);

function mutate(lines: string[], muts: Mutation[]): string {
  const ls = [...lines];
  let finalNewline = true;
  for (const m of muts) {
    if (m.kind === 'noFinalNewline') {
      finalNewline = false;
      continue;
    }
    if (ls.length === 0) continue;
    const i = m.at % ls.length;
    const line = ls[i] as string;
    switch (m.kind) {
      case 'swap': {
        const j = (i + 1) % ls.length;
        ls[i] = ls[j] as string;
        ls[j] = line;
        break;
      }
      case 'dup':
        ls.splice(i, 0, line);
        break;
      case 'drop':
        ls.splice(i, 1);
        break;
      case 'moveEnd':
        ls.splice(i, 1);
        ls.push(line);
        break;
      case 'crlf':
        ls[i] = `${line}\r`;
        break;
      case 'indent':
        ls[i] = `  ${line}`;
        break;
      case 'blank':
        ls.splice(i, 0, '');
        break;
      case 'tabs':
        ls[i] = line.replace(/ /g, ' \t');
        break;
      case 'flip': {
        const p = line.length === 0 ? 0 : m.pos % line.length;
        ls[i] = `${line.slice(0, p)}${m.char}${line.slice(p + 1)}`;
        break;
      }
      case 'comment':
        ls.splice(i, 0, m.text);
        break;
    }
  }
  if (ls.length === 0) return '';
  return `${ls.join('\n')}${finalNewline ? '\n' : ''}`;
}

const caseArb = fc.record({
  families: fc.array(familyArb, { minLength: 1, maxLength: 3 }),
  mutations: fc.oneof(
    { weight: 2, arbitrary: fc.constant([] as Mutation[]) },
    { weight: 1, arbitrary: fc.array(mutationArb, { minLength: 1, maxLength: 3 }) },
  ),
});

/** A short name for why the validator refused a text, for the report. */
function category(message: string): string {
  const m = message.replace(/^line \d+: /, '');
  const known = [
    'missing final newline',
    'not contiguous',
    'duplicate series',
    'duplicate label name',
    'has a timestamp',
    'is reserved',
    'carries grouping label',
    'CRLF',
    'after its samples',
    'second TYPE',
    'second HELP',
    'unknown metric type',
    'invalid escape',
    'missing the le="+Inf" bucket',
    'buckets must be in ascending',
    'bucket counts must not decrease',
    'differs from the le="+Inf" bucket',
    'outside [0, 1]',
    'does not belong in',
    'has le="NaN"',
    'invalid value',
    'invalid timestamp',
    'invalid "le"',
    'invalid "quantile"',
    'invalid metric name',
    'invalid label name',
    'unterminated',
    'missing value',
    'must not have a',
    'is out of range',
    'must not decrease',
    'ascending',
    '_sum',
    '_count',
    'unexpected text',
    'expected',
  ];
  return known.find((k) => m.includes(k)) ?? m.slice(0, 40);
}

for (const gateway of pushgatewayMatrix()) {
  describe(`validateExposition vs the real Pushgateway (property, Pushgateway ${gateway.version})`, {
    skip: gateway.skip,
  }, () => {
    let gw: RunningService;
    const RUNS = runs(4000);
    let n = 0;
    const stats = { accepted: 0, refusedBoth: 0, refusedOnlyByValidator: 0, wipes: 0 };
    const stricter = new Map<string, number>();

    before(async () => {
      gw = await startPushgateway({ bin: gateway.bin });
    });
    after(async () => {
      await gw?.stop();
    });

    async function wipe(): Promise<void> {
      stats.wipes++;
      await fetch(`${gw.url}/api/v1/admin/wipe`, { method: 'PUT' });
      for (let i = 0; i < 100; i++) {
        const body = (await (await fetch(`${gw.url}/api/v1/metrics`)).json()) as { data: unknown[] };
        if (body.data.length === 0) return;
        await new Promise((r) => setTimeout(r, 20));
      }
    }

    async function post(text: string, id: number): Promise<{ status: number; body: string }> {
      const res = await fetch(`${gw.url}/metrics/job/propexpo/case/${id}`, {
        method: 'POST',
        headers: { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' },
        body: text,
      });
      return { status: res.status, body: await res.text() };
    }

    it(`nothing the validator accepts is refused by the gateway (${RUNS} texts)`, async (t) => {
      await fc.assert(
        fc.asyncProperty(caseArb, async ({ families, mutations }) => {
          n++;
          if (n % 500 === 0) await wipe();
          // Names unique per case: a type clash with another case's group is not what is tested.
          const prefix = `c${n}_`;
          const text = mutate(
            families.flatMap((f) => renderFamily(f, prefix)),
            mutations,
          );
          let refusal: string | undefined;
          try {
            validateExposition(text, { groupingLabels: ['job', 'case'] });
          } catch (err) {
            assert.ok(err instanceof InvalidMetricsError, `the validator threw ${String(err)}`);
            assert.doesNotMatch(err.message, /\n/, 'one line');
            refusal = err.message;
          }
          let res = await post(text, n);
          if (refusal === undefined && res.status === 400 && /inconsistent with existing/.test(res.body)) {
            // Rule out leftovers of other cases: try once more on an empty gateway.
            await wipe();
            res = await post(text, n);
          }
          if (refusal === undefined) {
            stats.accepted++;
            assert.equal(res.status, 200, `the gateway refused an accepted text:\n${text}\n---\n${res.body}`);
          } else if (res.status === 200) {
            stats.refusedOnlyByValidator++;
            const c = category(refusal);
            stricter.set(c, (stricter.get(c) ?? 0) + 1);
          } else {
            stats.refusedBoth++;
          }
        }),
        { numRuns: RUNS, seed: SEED },
      );
      t.diagnostic(`texts: ${n}; ${JSON.stringify(stats)}`);
      t.diagnostic(
        `refused only by the validator, by reason: ${JSON.stringify(Object.fromEntries([...stricter].sort((a, b) => b[1] - a[1])))}`,
      );
      // Both outcomes must have been exercised, or the generator is broken.
      assert.ok(stats.accepted > RUNS / 10, `accepted ${stats.accepted}`);
      assert.ok(stats.refusedBoth > RUNS / 10, `refused by both ${stats.refusedBoth}`);
    });
  });
}

describe('validateExposition: what the gateway property found', () => {
  const cases: [string, string, string][] = [
    [
      'a value beyond float64',
      'x 1e400\n',
      'line 1: value for metric x: "1e400" is out of range (write +Inf or -Inf)',
    ],
    ['a hex value', 'x 0x1F\n', 'line 1: invalid value for metric x: "0x1F"'],
    [
      'le on a histogram _sum',
      '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum{le=""} 0\nh_count 1\n',
      'line 3: histogram sample h_sum must not have a "le" label',
    ],
    [
      'quantile on a summary _count',
      '# TYPE s summary\ns{quantile="0.5"} 1\ns_sum 0\ns_count{quantile="1"} 1\n',
      'line 4: summary sample s_count must not have a "quantile" label',
    ],
    [
      'an empty label value is no label',
      'x 0\nx{instance=""} 1\n',
      'line 2: duplicate series x{instance=""} (first on line 1)',
    ],
    [
      'a TYPE for a name of a histogram family',
      '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 0\nh_count 1\n# TYPE h_count counter\nh_count{a="a"} 0\n',
      'line 5: TYPE line for metric h_count, a name that belongs to histogram h; give it another name',
    ],
  ];
  for (const [what, text, message] of cases) {
    it(`refuses ${what}`, () => {
      assert.throws(
        () => validateExposition(text),
        (err: unknown) => err instanceof InvalidMetricsError && err.message === message,
      );
    });
  }
});
