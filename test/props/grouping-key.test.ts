/**
 * Property: the grouping key encoder against the real Pushgateway. Every job and grouping
 * label value (any Unicode, '/', '%', '+', blanks, '', '.', '..', '@', '=', control
 * characters) pushed through encodeGroupingPath comes back from `/api/v1/metrics` as exactly
 * the same labels. Cases are pushed in batches (one read of the gateway per batch).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { InvalidMetricsError } from '../../src/errors.js';
import { encodeGroupingPath } from '../../src/sinks/grouping-key.js';
import { pushToGateway } from '../../src/sinks/pushgateway.js';
import { pushgatewayMatrix } from '../helpers/matrix.js';
import { gatewayGroups, groupValues, type RunningService, startPushgateway } from '../helpers/services.js';
import { runs, SEED } from './settings.js';

const SPECIAL = [
  '/',
  '%',
  '+',
  ' ',
  '.',
  '@',
  '=',
  '\n',
  '\r',
  '\t',
  '\0',
  '\x7f',
  '?',
  '#',
  '&',
  ';',
  ':',
  ',',
  '\\',
  '"',
  "'",
  '{',
  '}',
  '~',
  'é',
  '\u2028',
  '\ufeff',
  '\ufffd',
  '😀',
  'a',
  'Z',
  '0',
];

const valueArb = fc.oneof(
  fc.constantFrom('', '.', '..', '/', '//', '/./', '@base64', '=', '%2F', '%2E', '%2e%2e', '+', ' ', 'a/b'),
  fc.string({ unit: fc.constantFrom(...SPECIAL), maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
);

const labelNameArb = fc
  .oneof(
    fc.constantFrom('instance', 'tier', 'profile', 'l', '_', 'a_1', 'path'),
    fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,8}$/),
  )
  .filter((n) => !n.startsWith('__') && n !== 'job');

interface Case {
  job: string;
  grouping: Record<string, string>;
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  job: valueArb.filter((v) => v !== ''),
  // An empty instance is refused by the encoder (tested below).
  grouping: fc
    .dictionary(labelNameArb, valueArb, { maxKeys: 4, noNullPrototype: true })
    .filter((g) => g.instance !== ''),
});

function keyOf(c: Case): string {
  return JSON.stringify([c.job, Object.entries(c.grouping).sort(([a], [b]) => (a < b ? -1 : 1))]);
}

function sortedLabels(labels: Record<string, string>): [string, string][] {
  return Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Runs `fn` on every item, `limit` at a time; after a failure starts no more, waits for the rest, rethrows. */
async function mapLimit<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>) {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        await fn(items[i] as T, i);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: limit }, worker));
  for (const s of settled) if (s.status === 'rejected') throw s.reason;
}

for (const gateway of pushgatewayMatrix()) {
  describe(`grouping key vs the real Pushgateway (property, Pushgateway ${gateway.version})`, {
    skip: gateway.skip,
  }, () => {
    let gw: RunningService;
    const BATCH = 300;
    const BATCHES = runs(20);
    let pushed = 0;

    before(async () => {
      gw = await startPushgateway({ bin: gateway.bin });
    });
    after(async () => {
      await gw?.stop();
    });

    async function wipe(): Promise<void> {
      const res = await fetch(`${gw.url}/api/v1/admin/wipe`, { method: 'PUT' });
      assert.equal(res.status, 202);
      // The wipe is queued like a push; wait until the gateway shows it done.
      for (let i = 0; i < 100 && (await gatewayGroups(gw.url)).length > 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
    }

    it(`every pushed group reads back with exactly its labels (${BATCHES} batches of ${BATCH})`, async (t) => {
      await fc.assert(
        fc.asyncProperty(
          fc.uniqueArray(caseArb, { minLength: 1, maxLength: BATCH, size: 'max', selector: keyOf }),
          async (cases) => {
            await wipe();
            await mapLimit(cases, 8, async (c, i) => {
              await pushToGateway({
                url: gw.url,
                job: c.job,
                grouping: c.grouping,
                text: `# TYPE prop_case gauge\nprop_case ${i}\n`,
                retries: 0,
              });
            });
            pushed += cases.length;
            const groups = await gatewayGroups(gw.url);
            assert.equal(groups.length, cases.length, 'one group per case');
            const seen = new Set<number>();
            for (const g of groups) {
              const values = groupValues(g, 'prop_case');
              assert.equal(values.length, 1, `group ${JSON.stringify(g.labels)} holds one series`);
              const i = Number(values[0]?.value);
              const c = cases[i];
              assert.ok(c, `value ${values[0]?.value} names a case`);
              seen.add(i);
              assert.deepEqual(
                sortedLabels(g.labels),
                sortedLabels({ job: c.job, ...c.grouping }),
                `path ${encodeGroupingPath(c.job, c.grouping)}`,
              );
            }
            assert.equal(seen.size, cases.length);
          },
        ),
        { numRuns: BATCHES, seed: SEED, endOnFailure: false },
      );
      t.diagnostic(`groups pushed and read back: ${pushed}`);
      assert.ok(pushed >= BATCHES, 'cases ran');
    });

    it('refuses an empty instance: at the gateway it clashes with the group without instance and breaks /metrics', async () => {
      assert.throws(
        () => encodeGroupingPath('x', { instance: '', tier: 'daily' }),
        (err: unknown) =>
          err instanceof InvalidMetricsError &&
          err.message ===
            'grouping label instance must not be empty (the Pushgateway takes instance="" as no instance); leave it out instead',
      );
      // Why: what the gateway does with such a group, sent by hand.
      await wipe();
      const put = (path: string) => fetch(`${gw.url}${path}`, { method: 'PUT', body: 'prop_case 1\n' });
      assert.equal((await put('/metrics/job/x')).status, 200);
      const clash = await put('/metrics/job/x/instance@base64/=');
      assert.equal(clash.status, 400);
      assert.match(await clash.text(), /was collected before with the same name and label values/);
      const page = await fetch(`${gw.url}/metrics`);
      assert.equal(page.status, 500);
      assert.match(await page.text(), /An error has occurred while serving metrics/);
      await wipe();
      assert.equal((await fetch(`${gw.url}/metrics`)).status, 200);
    });

    it('refuses a job or value with a lone surrogate before any network call', () => {
      const loneArb = fc
        .tuple(
          fc.string({ maxLength: 4 }),
          fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
          fc.string({ maxLength: 4 }),
        )
        .map(([a, s, b]) => `${a}${s}${b}`)
        .filter((v) => /\p{Cs}/u.test(v));
      fc.assert(
        fc.property(loneArb, fc.boolean(), (bad, inJob) => {
          const call = () =>
            inJob ? encodeGroupingPath(bad, {}) : encodeGroupingPath('j', { instance: 'x', l: bad });
          assert.throws(call, (err: unknown) => {
            assert.ok(err instanceof InvalidMetricsError, String(err));
            assert.equal(
              err.message,
              inJob
                ? 'job is not valid Unicode (a lone surrogate)'
                : 'grouping label l has a value that is not valid Unicode (a lone surrogate)',
            );
            return true;
          });
        }),
        { numRuns: runs(2000), seed: SEED },
      );
    });
  });
}
