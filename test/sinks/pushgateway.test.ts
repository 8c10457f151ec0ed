import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { InvalidMetricsError, SinkError } from '../../src/errors.js';
import { addToGateway, deleteFromGateway, pushToGateway } from '../../src/sinks/pushgateway.js';
import { type PushgatewayTarget, sendToTarget } from '../../src/sinks/target.js';
import type { MetricsPayload } from '../../src/sinks/types.js';
import {
  type GatewayGroup,
  gatewayGroups,
  groupValues,
  type RunningService,
  startPushgateway,
} from '../helpers/services.js';

let gw: RunningService;
let target: PushgatewayTarget;

/** A fetch that counts its calls and forwards to undici's. */
async function countingFetch(): Promise<{ fetch: typeof fetch; calls: string[] }> {
  const { fetch: undiciFetch } = await import('undici');
  const calls: string[] = [];
  const f = ((url: string, init: RequestInit) => {
    calls.push(`${init.method} ${new URL(url).pathname}`);
    return undiciFetch(url, init as never);
  }) as unknown as typeof fetch;
  return { fetch: f, calls };
}

function payload(
  text: string,
  job: string,
  grouping: Record<string, string>,
  method: MetricsPayload['method'],
) {
  return { text, job, grouping, method, measuredAt: Date.now() } as MetricsPayload;
}

/** The group whose labels are exactly `labels`. */
async function group(labels: Record<string, string>): Promise<GatewayGroup | undefined> {
  const groups = await gatewayGroups(gw.url);
  return groups.find((g) => JSON.stringify(sortKeys(g.labels)) === JSON.stringify(sortKeys(labels)));
}

function sortKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Family names of a group, without the gateway's own push_time_seconds / push_failure_time_seconds. */
function familyNames(g: GatewayGroup | undefined): string[] {
  if (!g) return [];
  return Object.keys(g)
    .filter((k) => k !== 'labels' && k !== 'last_push_successful' && !k.startsWith('push_'))
    .sort();
}

for (const gateway of pushgatewayMatrix()) {
  describe(`Pushgateway sink against the real gateway (Pushgateway ${gateway.version})`, {
    skip: gateway.skip,
  }, () => {
    before(async () => {
      gw = await startPushgateway({ bin: gateway.bin });
      target = { kind: 'pushgateway', url: gw.url, retries: 0 };
    });
    after(async () => {
      await gw.stop();
    });
    beforeEach(async () => {
      const res = await fetch(`${gw.url}/api/v1/admin/wipe`, { method: 'PUT' });
      assert.equal(res.status, 202);
    });

    describe('push, add and delete', () => {
      it('PUT replaces the whole group, POST only same-named families', async () => {
        const g = { instance: 'daily' };
        await sendToTarget(payload('# TYPE a gauge\na 1\n# TYPE b gauge\nb 2\n', 'j', g, 'put'), target);
        assert.deepEqual(familyNames(await group({ job: 'j', instance: 'daily' })), ['a', 'b']);

        await sendToTarget(payload('# TYPE a gauge\na 10\n', 'j', g, 'post'), target);
        let grp = await group({ job: 'j', instance: 'daily' });
        assert.deepEqual(familyNames(grp), ['a', 'b']);
        assert.deepEqual(groupValues(grp as GatewayGroup, 'a'), [
          { labels: { job: 'j', instance: 'daily' }, value: '10' },
        ]);
        assert.deepEqual(groupValues(grp as GatewayGroup, 'b'), [
          { labels: { job: 'j', instance: 'daily' }, value: '2' },
        ]);

        await sendToTarget(payload('# TYPE c gauge\nc 3\n', 'j', g, 'put'), target);
        grp = await group({ job: 'j', instance: 'daily' });
        assert.deepEqual(familyNames(grp), ['c']);
      });

      it('DELETE drops the group; deleting {job} leaves {job,instance}', async () => {
        await sendToTarget(payload('a 1\n', 'j', {}, 'put'), target);
        await sendToTarget(payload('a 2\n', 'j', { instance: 'x' }, 'put'), target);
        assert.equal((await gatewayGroups(gw.url)).length, 2);

        // The gateway answers DELETE with 202 and applies it right after: poll for the result.
        const labelsEventually = async (want: Record<string, string>[]) => {
          let got: Record<string, string>[] = [];
          for (let i = 0; i < 50; i++) {
            got = (await gatewayGroups(gw.url)).map((g) => sortKeys(g.labels));
            if (JSON.stringify(got) === JSON.stringify(want)) break;
            await new Promise((r) => setTimeout(r, 50));
          }
          assert.deepEqual(got, want);
        };
        await sendToTarget(payload('ignored', 'j', {}, 'delete'), target);
        await labelsEventually([{ instance: 'x', job: 'j' }]);
        // Deleting a group that does not exist is fine (202).
        await sendToTarget(payload('', 'j', { instance: 'nope' }, 'delete'), target);
        await sendToTarget(payload('', 'j', { instance: 'x' }, 'delete'), target);
        await labelsEventually([]);
      });

      it('reads grouping values back exactly: "/", empty, spaces, "+", unicode, "%", dots', async () => {
        const grouping = {
          path: '/var/tmp/a b',
          empty: '',
          space: 'a b',
          plus: 'a+b',
          uni: 'héllo ✓ 日本',
          pct: '100%25',
          dot: '.',
          dots: '..',
          q: 'a?b#c&d=e',
        };
        await sendToTarget(payload('# TYPE v gauge\nv 7\n', 'job/with slash', grouping, 'put'), target);
        const groups = await gatewayGroups(gw.url);
        assert.equal(groups.length, 1);
        assert.deepEqual(
          sortKeys((groups[0] as GatewayGroup).labels),
          sortKeys({ job: 'job/with slash', ...grouping }),
        );
        assert.deepEqual(groupValues(groups[0] as GatewayGroup, 'v'), [
          // The gateway adds instance="" to a series that has none.
          { labels: { job: 'job/with slash', instance: '', ...grouping }, value: '7' },
        ]);
        // And the same group can be deleted through the same encoding.
        await sendToTarget(payload('', 'job/with slash', grouping, 'delete'), target);
        assert.deepEqual(await gatewayGroups(gw.url), []);
      });

      it('sends a gzip body when asked', async () => {
        const { fetch, calls } = await countingFetch();
        await sendToTarget(
          payload('# TYPE z gauge\nz{a="1"} 5\n', 'gz', {}, 'put'),
          { ...target, gzip: true },
          { fetch },
        );
        assert.deepEqual(calls, ['PUT /metrics/job/gz']);
        assert.deepEqual(groupValues((await group({ job: 'gz' })) as GatewayGroup, 'z'), [
          { labels: { a: '1', job: 'gz', instance: '' }, value: '5' },
        ]);
      });

      it('a type clash is a 400: not retried, not retryable, the gateway body quoted', async () => {
        await sendToTarget(payload('# TYPE x gauge\nx 1\n', 'one', {}, 'put'), target);
        const { fetch, calls } = await countingFetch();
        const retries: number[] = [];
        const err = await sendToTarget(
          payload('# TYPE x counter\nx 1\n', 'two', {}, 'put'),
          { ...target, retries: 3 },
          { fetch, onRetry: (i) => retries.push(i.attempt) },
        ).then(
          () => assert.fail('expected a SinkError'),
          (e: unknown) => e,
        );
        assert.ok(err instanceof SinkError);
        assert.equal(err.isRetryable, false);
        assert.equal(err.status, 400);
        assert.equal(err.url, `${gw.url}/metrics/job/two`);
        assert.match(err.body ?? '', /^pushed metrics are invalid or inconsistent with existing metrics: /);
        assert.ok(
          err.message.startsWith(
            `unexpected status 400 while pushing to ${gw.url}/metrics/job/two: pushed metrics are invalid or inconsistent with existing metrics: collected metric "x"`,
          ),
          err.message,
        );
        assert.ok(!err.message.includes('\n'));
        assert.deepEqual(calls, ['PUT /metrics/job/two']);
        assert.deepEqual(retries, []);
      });

      it('refuses an invalid body or grouping before any network call', async () => {
        const { fetch, calls } = await countingFetch();
        const cases: [MetricsPayload, string][] = [
          [payload('a 1', 'j', {}, 'put'), 'line 1: missing final newline (every line must end with "\\n")'],
          [
            payload('a{instance="x"} 1\n', 'j', { instance: 'y' }, 'post'),
            'line 1: metric a carries grouping label instance; the push adds it, remove it from the sample',
          ],
          [
            payload('a{job="x"} 1\n', 'j', {}, 'post'),
            'line 1: metric a carries grouping label job; the push adds it, remove it from the sample',
          ],
          [
            payload('a 1 1000\n', 'j', {}, 'post'),
            'line 1: metric a has a timestamp; pushed metrics must not have timestamps',
          ],
          [
            payload('a 1\n', 'j', { 'bad-name': 'x' }, 'post'),
            'invalid grouping label name "bad-name" (must match [a-zA-Z_][a-zA-Z0-9_]*)',
          ],
          [
            payload('', 'j', { __x: 'x' }, 'delete'),
            'grouping label name __x is reserved (starts with "__")',
          ],
          [payload('a 1\n', '', {}, 'put'), 'job must not be empty'],
        ];
        for (const [p, message] of cases) {
          await assert.rejects(
            sendToTarget(p, target, { fetch }),
            (e: unknown) => e instanceof InvalidMetricsError && e.message === message,
            message,
          );
        }
        assert.deepEqual(calls, []);
      });

      it('pushToGateway, addToGateway and deleteFromGateway work for library users', async () => {
        await pushToGateway({
          url: gw.url,
          job: 'lib',
          grouping: { instance: 'i' },
          text: '# TYPE a gauge\na 1\n# TYPE b gauge\nb 2\n',
        });
        await addToGateway({
          url: `${gw.url}/`,
          job: 'lib',
          grouping: { instance: 'i' },
          text: '# TYPE a gauge\na 3\n',
        });
        const grp = await group({ job: 'lib', instance: 'i' });
        assert.deepEqual(familyNames(grp), ['a', 'b']);
        assert.equal(groupValues(grp as GatewayGroup, 'a')[0]?.value, '3');
        await deleteFromGateway({ url: gw.url, job: 'lib', grouping: { instance: 'i' } });
        // 202: applied right after the answer.
        for (let i = 0; i < 50 && (await gatewayGroups(gw.url)).length > 0; i++)
          await new Promise((r) => setTimeout(r, 50));
        assert.deepEqual(await gatewayGroups(gw.url), []);
        await assert.rejects(
          pushToGateway({ url: gw.url, job: 'lib' }),
          (e: unknown) =>
            e instanceof InvalidMetricsError && e.message === 'give the metrics as registry or text',
        );
      });
    });
  });
}

describe('expandTargets and describeTarget', () => {
  it('one target per gateway URL, named by the masked URL', async () => {
    const { expandTargets, describeTarget } = await import('../../src/sinks/target.js');
    const targets = expandTargets({
      kind: 'pushgateway',
      urls: ['https://user:pw@gw1:9091', 'http://gw2:9091/prefix/'],
      require: 'any',
      retries: 1,
      gzip: true,
    });
    assert.deepEqual(targets, [
      { kind: 'pushgateway', url: 'https://user:pw@gw1:9091', retries: 1, gzip: true },
      { kind: 'pushgateway', url: 'http://gw2:9091/prefix/', retries: 1, gzip: true },
    ]);
    assert.deepEqual(targets.map(describeTarget), [
      'pushgateway https://***:***@gw1:9091',
      'pushgateway http://gw2:9091/prefix',
    ]);
    const rw = { kind: 'remote-write', url: 'https://mimir/api/v1/push?token=abc' } as const;
    assert.deepEqual(expandTargets(rw), [rw]);
    assert.equal(describeTarget(rw), 'remote-write https://mimir/api/v1/push?token=***');
    assert.equal(
      describeTarget({ kind: 'textfile', path: '/var/lib/ne/restic.prom' }),
      'textfile /var/lib/ne/restic.prom',
    );
  });
});

import { pushgatewayMatrix } from '../helpers/matrix.js';
