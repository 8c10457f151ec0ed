import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { InvalidMetricsError } from '../../src/errors.js';
import {
  formatExposition,
  type ParsedFamily,
  parseExposition,
  validateExposition,
} from '../../src/metrics/exposition.js';

/** Asserts that `fn` throws InvalidMetricsError with exactly this message and line. */
function assertInvalid(fn: () => unknown, message: string, line: number): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvalidMetricsError, `expected InvalidMetricsError, got ${String(err)}`);
    assert.equal(err.message, `line ${line}: ${message}`);
    assert.equal(err.line, line);
    assert.equal(err.code, 'METRICS_INVALID');
    return true;
  });
}

const HISTO = `# HELP h Request sizes
# TYPE h histogram
h_bucket{le="1"} 0
h_bucket{le="2.5"} 2
h_bucket{le="+Inf"} 3
h_sum 7.5
h_count 3
`;

describe('parseExposition', () => {
  it('parses help, type, labels, escapes, special values and timestamps', () => {
    const text =
      '# HELP x A \\\\ help\\nline\n# TYPE x gauge\nx{a="q\\"uote",b="back\\\\slash",c="new\\nline",} 1.5e3 1700000000000\n\n# a comment\ny NaN\nz{a="1"} -Inf\nw +Inf\n';
    const fams = parseExposition(text);
    assert.deepEqual(fams, [
      {
        name: 'x',
        type: 'gauge',
        help: 'A \\ help\nline',
        samples: [
          {
            name: 'x',
            labels: { a: 'q"uote', b: 'back\\slash', c: 'new\nline' },
            value: 1500,
            timestampMs: 1700000000000,
            line: 3,
          },
        ],
      },
      { name: 'y', type: 'untyped', samples: [{ name: 'y', labels: {}, value: Number.NaN, line: 6 }] },
      {
        name: 'z',
        type: 'untyped',
        samples: [{ name: 'z', labels: { a: '1' }, value: Number.NEGATIVE_INFINITY, line: 7 }],
      },
      {
        name: 'w',
        type: 'untyped',
        samples: [{ name: 'w', labels: {}, value: Number.POSITIVE_INFINITY, line: 8 }],
      },
    ]);
  });

  it('puts _bucket, _sum and _count samples into their histogram family', () => {
    const fams = parseExposition(HISTO);
    assert.equal(fams.length, 1);
    assert.equal(fams[0]?.type, 'histogram');
    assert.deepEqual(
      fams[0]?.samples.map((s) => s.name),
      ['h_bucket', 'h_bucket', 'h_bucket', 'h_sum', 'h_count'],
    );
  });

  it('reads "#TYPE" without a blank after "#" as a TYPE line, and other comments as comments', () => {
    assert.deepEqual(parseExposition('#TYPE x counter\n# TYPEx y\n#comment\nx 1\n'), [
      { name: 'x', type: 'counter', samples: [{ name: 'x', labels: {}, value: 1, line: 4 }] },
    ]);
  });

  it('keeps x_count its own untyped family when x is not a summary or histogram', () => {
    const fams = parseExposition('# TYPE x gauge\nx 1\nx_count 2\n');
    assert.deepEqual(
      fams.map((f) => [f.name, f.type]),
      [
        ['x', 'gauge'],
        ['x_count', 'untyped'],
      ],
    );
  });

  it('names the line of a syntax error', () => {
    assertInvalid(
      () => parseExposition('a 1\nb{x="1" 2\n'),
      'expected "," or "}" after the value of label x in metric b',
      2,
    );
    assertInvalid(() => parseExposition('a 1\nb one\n'), 'invalid value for metric b: "one"', 2);
    assertInvalid(() => parseExposition('a\n'), 'missing value for metric a', 1);
    assertInvalid(
      () => parseExposition('a{1x="1"} 1\n'),
      'invalid label name at "1x=\\"1\\"} 1" in metric a',
      1,
    );
    assertInvalid(
      () => parseExposition('a{x="\\t"} 1\n'),
      'invalid escape sequence "\\t" in the value of label x',
      1,
    );
    assertInvalid(() => parseExposition('a{x="1",x="2"} 1\n'), 'duplicate label name x in metric a', 1);
    assertInvalid(() => parseExposition('a 1 12.5\n'), 'invalid timestamp "12.5" for metric a', 1);
    assertInvalid(() => parseExposition('a 1 2 3\n'), 'unexpected text "3" after the value of metric a', 1);
    assertInvalid(
      () => parseExposition('a 1\r\n'),
      'line ends with "\\r" (CRLF line endings are not allowed)',
      1,
    );
    assertInvalid(() => parseExposition('# TYPE a gauges\n'), 'unknown metric type "gauges" for metric a', 1);
    assertInvalid(() => parseExposition('a-b 1\n'), 'invalid metric name at "a-b 1"', 1);
  });

  it('refuses a second HELP or TYPE line and a TYPE after samples', () => {
    assertInvalid(
      () => parseExposition('# HELP a x\n# HELP a y\na 1\n'),
      'second HELP line for metric a (first on line 1)',
      2,
    );
    assertInvalid(
      () => parseExposition('# TYPE a gauge\n# TYPE a gauge\na 1\n'),
      'second TYPE line for metric a (first on line 1)',
      2,
    );
    assertInvalid(
      () => parseExposition('a 1\n# TYPE a gauge\n'),
      'TYPE line for metric a after its samples (first sample on line 1)',
      2,
    );
  });
});

describe('validateExposition', () => {
  it('accepts a well-formed text and returns its families', () => {
    const fams = validateExposition(`# TYPE g gauge\ng{a="1"} 1\ng{a="2"} 2\n${HISTO}`, {
      groupingLabels: ['job', 'instance'],
    });
    assert.deepEqual(
      fams.map((f) => f.name),
      ['g', 'h'],
    );
  });

  it('accepts the empty text (a push that clears a group)', () => {
    assert.deepEqual(validateExposition(''), []);
  });

  it('requires the final newline', () => {
    assertInvalid(
      () => validateExposition('a 1\nb 2'),
      'missing final newline (every line must end with "\\n")',
      2,
    );
  });

  it('requires the lines of a family to be contiguous', () => {
    assertInvalid(
      () => validateExposition('a{x="1"} 1\nb 2\na{x="2"} 3\n'),
      'lines of metric family a are not contiguous (the family started on line 1)',
      3,
    );
  });

  it('requires HELP before the samples', () => {
    assertInvalid(
      () => validateExposition('a 1\n# HELP a late\n'),
      'HELP line for metric a after its samples (first sample on line 1)',
      2,
    );
  });

  it('refuses a duplicate series whatever the label order', () => {
    assertInvalid(
      () => validateExposition('a{x="1",y="2"} 1\na{y="2",x="1"} 2\n'),
      'duplicate series a{y="2",x="1"} (first on line 1)',
      2,
    );
  });

  it('refuses __-prefixed label names, __proto__ included', () => {
    assertInvalid(
      () => validateExposition('a{__proto__="1"} 1\n'),
      'label name __proto__ of metric a is reserved (starts with "__")',
      1,
    );
    assertInvalid(
      () => validateExposition('a{__x="1"} 1\n'),
      'label name __x of metric a is reserved (starts with "__")',
      1,
    );
  });

  it('refuses a sample carrying a grouping label', () => {
    assertInvalid(
      () => validateExposition('a 1\nb{instance="x"} 1\n', { groupingLabels: ['job', 'instance'] }),
      'metric b carries grouping label instance; the push adds it, remove it from the sample',
      2,
    );
    assertInvalid(
      () => validateExposition('a{job="x"} 1\n', { groupingLabels: ['job'] }),
      'metric a carries grouping label job; the push adds it, remove it from the sample',
      1,
    );
  });

  it('refuses timestamps unless allowed', () => {
    assertInvalid(
      () => validateExposition('a 1\nb 1 1700000000000\n'),
      'metric b has a timestamp; pushed metrics must not have timestamps',
      2,
    );
    assert.equal(
      validateExposition('b 1 1700000000000\n', { allowTimestamps: true })[0]?.samples[0]?.timestampMs,
      1700000000000,
    );
  });

  it('checks the shape of a histogram', () => {
    assertInvalid(
      () => validateExposition('# TYPE h histogram\nh_bucket{le="2"} 1\nh_bucket{le="1"} 1\n'),
      'histogram h: buckets must be in ascending "le" order',
      3,
    );
    assertInvalid(
      () => validateExposition('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\n'),
      'histogram h: bucket counts must not decrease (buckets are cumulative)',
      3,
    );
    assertInvalid(
      () => validateExposition('# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n'),
      'histogram h: missing the le="+Inf" bucket',
      2,
    );
    assertInvalid(
      () => validateExposition('# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_count 1\n'),
      'histogram h: missing h_sum',
      3,
    );
    assertInvalid(
      () => validateExposition('# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 1\n'),
      'histogram h: missing h_count',
      3,
    );
    assertInvalid(
      () => validateExposition('# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 2\n'),
      'histogram h: h_count (2) differs from the le="+Inf" bucket (1)',
      4,
    );
    assertInvalid(
      () => validateExposition('# TYPE h histogram\nh_bucket 1\n'),
      'histogram bucket h_bucket has no "le" label',
      2,
    );
    assertInvalid(
      () => validateExposition('# TYPE h histogram\nh 1\n'),
      'sample h does not belong in histogram h (expected h_bucket, h_sum or h_count)',
      2,
    );
    // Each labelled series of a histogram is checked on its own.
    assertInvalid(
      () =>
        validateExposition(
          '# TYPE h histogram\nh_bucket{a="1",le="+Inf"} 1\nh_sum{a="1"} 1\nh_count{a="1"} 1\nh_bucket{a="2",le="+Inf"} 1\nh_count{a="2"} 1\n',
        ),
      'histogram h{a="2"}: missing h_sum',
      6,
    );
  });

  it('checks the shape of a summary', () => {
    assert.equal(
      validateExposition('# TYPE s summary\ns{quantile="0.5"} 1\ns_sum 3\ns_count 2\n')[0]?.samples.length,
      3,
    );
    assertInvalid(
      () => validateExposition('# TYPE s summary\ns{quantile="1.5"} 1\ns_sum 3\ns_count 2\n'),
      'summary sample s has quantile="1.5" outside [0, 1]',
      2,
    );
    assertInvalid(
      () => validateExposition('# TYPE s summary\ns 1\ns_sum 3\ns_count 2\n'),
      'summary sample s has no "quantile" label',
      2,
    );
    assertInvalid(() => validateExposition('# TYPE s summary\ns_count 2\n'), 'summary s: missing s_sum', 2);
  });
});

describe('formatExposition', () => {
  it('writes canonical text with escapes', () => {
    const fams: ParsedFamily[] = [
      {
        name: 'x',
        type: 'gauge',
        help: 'back\\slash\nnewline',
        samples: [
          { name: 'x', labels: { a: 'q"\\\n' }, value: 1, line: 0 },
          { name: 'x', labels: {}, value: Number.NaN, line: 0 },
          { name: 'x', labels: { b: '' }, value: Number.POSITIVE_INFINITY, timestampMs: 5, line: 0 },
        ],
      },
      { name: 'y', type: 'untyped', samples: [{ name: 'y', labels: {}, value: -0.25, line: 0 }] },
    ];
    assert.equal(
      formatExposition(fams),
      '# HELP x back\\\\slash\\nnewline\n# TYPE x gauge\nx{a="q\\"\\\\\\n"} 1\nx NaN\nx{b=""} +Inf 5\n# TYPE y untyped\ny -0.25\n',
    );
  });

  it('round-trips through parseExposition (property)', () => {
    const labelName = fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9_]{0,8}$/);
    const value = fc.oneof(
      fc.double(),
      fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, -0),
    );
    const family = fc.record({
      name: fc.stringMatching(/^[a-zA-Z_:][a-zA-Z0-9_:]{0,10}$/),
      type: fc.constantFrom('counter', 'gauge', 'untyped') as fc.Arbitrary<ParsedFamily['type']>,
      help: fc.option(
        fc.string().filter((s) => !/^[ \t]/.test(s)),
        { nil: undefined },
      ),
      samples: fc.array(
        fc.record({
          labels: fc.dictionary(labelName, fc.string(), { maxKeys: 3 }),
          value,
          ts: fc.option(fc.integer({ min: -1e12, max: 1e13 }), { nil: undefined }),
        }),
        { maxLength: 4 },
      ),
    });
    fc.assert(
      fc.property(fc.uniqueArray(family, { selector: (f) => f.name, maxLength: 4 }), (raw) => {
        const fams: ParsedFamily[] = raw.map((f) => {
          const fam: ParsedFamily = {
            name: f.name,
            type: f.type,
            samples: f.samples.map((s) => ({
              name: f.name,
              labels: { ...s.labels },
              value: s.value,
              line: 0,
              ...(s.ts === undefined ? {} : { timestampMs: s.ts }),
            })),
          };
          if (f.help !== undefined) fam.help = f.help;
          return fam;
        });
        const text = formatExposition(fams);
        const back = parseExposition(text).map((f) => ({
          ...f,
          samples: f.samples.map((s) => ({ ...s, line: 0 })),
        }));
        assert.deepEqual(back, fams);
        assert.equal(formatExposition(back), text);
      }),
      { numRuns: 300 },
    );
  });
});
