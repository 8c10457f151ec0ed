/**
 * Property: what the otlp destination sends is what a receiver stores. Random gauges,
 * counters and histograms (any Unicode label value, random bucket bounds and counts) are
 * pushed through sendToTarget to the real VictoriaMetrics 1.145 and read back raw from
 * `/api/v1/export`: every value, every label value, and the cumulative `le` buckets the
 * exposition text had. Cases are pushed in one batch, one job each, and read once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { escapeLabelValue, formatValue } from '../../src/metrics/exposition.js';
import { sendToTarget } from '../../src/sinks/target.js';
import { atLeast, victoriaMetricsMatrix } from '../helpers/matrix.js';
import { type RunningVictoriaMetrics, startVictoriaMetrics } from '../helpers/services.js';
import { runs, SEED } from './settings.js';

interface Case {
  label: string;
  gauge: number;
  counter: number;
  /** Finite bucket bounds, ascending. */
  bounds: number[];
  /** A count per bucket, the last one for +Inf. */
  counts: number[];
  sum: number;
}

// Values with few significant digits: VictoriaMetrics keeps about 15 of them.
const valueArb = fc.integer({ min: -1_000_000, max: 1_000_000 }).map((n) => n / 8);
const caseArb: fc.Arbitrary<Case> = fc
  .record({
    label: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
    gauge: valueArb,
    counter: fc.integer({ min: 0, max: 1_000_000_000 }),
    bounds: fc.uniqueArray(fc.integer({ min: -400, max: 400 }), { minLength: 0, maxLength: 5 }),
    sum: valueArb,
  })
  .chain((c) =>
    fc
      .array(fc.integer({ min: 0, max: 1000 }), {
        minLength: c.bounds.length + 1,
        maxLength: c.bounds.length + 1,
      })
      .map((counts) => ({ ...c, bounds: [...c.bounds].sort((a, b) => a - b).map((b) => b / 4), counts })),
  );

function render(c: Case): string {
  const v = `v="${escapeLabelValue(c.label)}"`;
  const lines = ['# TYPE g gauge', `g{${v}} ${formatValue(c.gauge)}`];
  lines.push('# TYPE c_total counter', `c_total{${v}} ${formatValue(c.counter)}`, '# TYPE h histogram');
  let cumulative = 0;
  c.counts.forEach((n, i) => {
    cumulative += n;
    const le = i < c.bounds.length ? formatValue(c.bounds[i] as number) : '+Inf';
    lines.push(`h_bucket{${v},le="${le}"} ${cumulative}`);
  });
  lines.push(`h_sum{${v}} ${formatValue(c.sum)}`, `h_count{${v}} ${cumulative}`);
  return `${lines.join('\n')}\n`;
}

/** What the receiver should hold for a case: `name{le}` -> value, all with label v. */
function expected(c: Case): Map<string, number> {
  const out = new Map<string, number>([
    ['g', c.gauge],
    ['c_total', c.counter],
    ['h_sum', c.sum],
  ]);
  let cumulative = 0;
  c.counts.forEach((n, i) => {
    cumulative += n;
    out.set(`h_bucket{${i < c.bounds.length ? formatValue(c.bounds[i] as number) : '+Inf'}}`, cumulative);
  });
  out.set('h_count', cumulative);
  return out;
}

const vmBin = victoriaMetricsMatrix().find((v) => atLeast(v, '1.92.0'));

describe('otlp round trip through VictoriaMetrics', {
  skip: vmBin ? false : 'no VictoriaMetrics 1.92+ in the matrix',
}, () => {
  let vm: RunningVictoriaMetrics;
  before(async () => {
    vm = await startVictoriaMetrics({ bin: vmBin?.bin as string });
  });
  after(async () => {
    await vm?.stop();
  });

  it('every value and label value comes back as written', async () => {
    const cases = fc.sample(caseArb, { numRuns: runs(40), seed: SEED });
    const url = `${vm.url}/opentelemetry/v1/metrics`;
    const measuredAt = Date.now();
    for (const [i, c] of cases.entries()) {
      await sendToTarget(
        { text: render(c), job: `prop_${i}`, grouping: {}, measuredAt },
        { kind: 'otlp', url },
      );
    }
    const series = await vm.exportSeries('{__name__=~"g|c_total|h_.*","service.name"=~"prop_.*"}');
    const got = new Map<string, Map<string, number>>();
    for (const s of series) {
      const job = s.metric['service.name'] as string;
      const key =
        s.metric.le === undefined ? (s.metric.__name__ as string) : `${s.metric.__name__}{${s.metric.le}}`;
      const perJob = got.get(job) ?? new Map<string, number>();
      assert.equal(s.timestamps[0], measuredAt, `${job} ${key} time`);
      perJob.set(`${key}\u0000${s.metric.v}`, s.values[0] as number);
      got.set(job, perJob);
    }
    for (const [i, c] of cases.entries()) {
      const want = new Map([...expected(c)].map(([k, v]) => [`${k}\u0000${c.label}`, v]));
      assert.deepEqual(got.get(`prop_${i}`), want, `case ${i}: ${JSON.stringify(c)}`);
    }
  });
});
