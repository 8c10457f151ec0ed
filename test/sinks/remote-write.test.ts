import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { InvalidMetricsError, SinkError } from '../../src/errors.js';
import {
  buildWriteRequest,
  decodeWriteRequest,
  loadSnappy,
  type WriteRequest,
} from '../../src/sinks/remote-write.js';
import { sendToTarget } from '../../src/sinks/target.js';
import type { MetricsPayload } from '../../src/sinks/types.js';
import { type RunningPrometheus, startPrometheus } from '../helpers/services.js';

const TEXT = `# HELP backup_files Files processed
# TYPE backup_files gauge
backup_files{tier="daily",instance="from-body"} 42
backup_files{tier="weekly",empty=""} 7
# TYPE backup_runs counter
backup_runs 3
# HELP req Request sizes
# TYPE req histogram
req_bucket{le="1"} 1
req_bucket{le="+Inf"} 2
req_sum 3.5
req_count 2
`;

const label = (pairs: [string, string][]) => pairs.map(([name, value]) => ({ name, value }));

describe('buildWriteRequest', () => {
  it('adds job and grouping (grouping wins), sorts labels, drops empty values, expands histograms', () => {
    const req = buildWriteRequest({
      text: TEXT,
      job: 'nfs_backup',
      grouping: { instance: 'daily', host: '' },
      measuredAt: 1_700_000_000_123,
    });
    const at = [{ value: 0, timestamp: 1_700_000_000_123 }];
    const withValue = (v: number) => [{ ...at[0], value: v }];
    assert.deepEqual(req, {
      timeseries: [
        {
          labels: label([
            ['__name__', 'backup_files'],
            ['instance', 'daily'],
            ['job', 'nfs_backup'],
            ['tier', 'daily'],
          ]),
          samples: withValue(42),
        },
        {
          labels: label([
            ['__name__', 'backup_files'],
            ['instance', 'daily'],
            ['job', 'nfs_backup'],
            ['tier', 'weekly'],
          ]),
          samples: withValue(7),
        },
        {
          labels: label([
            ['__name__', 'backup_runs'],
            ['instance', 'daily'],
            ['job', 'nfs_backup'],
          ]),
          samples: withValue(3),
        },
        ...[
          ['req_bucket', '1', 1],
          ['req_bucket', '+Inf', 2],
        ].map(([name, le, v]) => ({
          labels: label([
            ['__name__', name as string],
            ['instance', 'daily'],
            ['job', 'nfs_backup'],
            ['le', le as string],
          ]),
          samples: withValue(v as number),
        })),
        ...[
          ['req_sum', 3.5],
          ['req_count', 2],
        ].map(([name, v]) => ({
          labels: label([
            ['__name__', name as string],
            ['instance', 'daily'],
            ['job', 'nfs_backup'],
          ]),
          samples: withValue(v as number),
        })),
      ],
      metadata: [
        { type: 2, metricFamilyName: 'backup_files', help: 'Files processed' },
        { type: 1, metricFamilyName: 'backup_runs', help: '' },
        { type: 3, metricFamilyName: 'req', help: 'Request sizes' },
      ],
    });
  });

  it('refuses two series that become one once the grouping is added', () => {
    assert.throws(
      () =>
        buildWriteRequest({
          text: 'a{instance="x"} 1\na{instance="y"} 2\n',
          job: 'j',
          grouping: { instance: 'z' },
          measuredAt: 0,
        }),
      (e: unknown) =>
        e instanceof InvalidMetricsError &&
        e.message ===
          'line 2: series a is the same as the one on line 1 once job and grouping labels are added',
    );
  });
});

describe('remote write on the wire', () => {
  it('posts snappy block-compressed protobuf with the protocol headers', async () => {
    let seen: { req: IncomingMessage; body: Buffer } | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen = { req, body: Buffer.concat(chunks) };
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const payload: MetricsPayload = { text: 'a 1.5\n', job: 'j', grouping: {}, measuredAt: 1234 };
      await sendToTarget(payload, { kind: 'remote-write', url: `http://127.0.0.1:${port}/api/v1/write` });
      assert.ok(seen);
      assert.equal(seen.req.method, 'POST');
      assert.equal(seen.req.url, '/api/v1/write');
      assert.equal(seen.req.headers['content-encoding'], 'snappy');
      assert.equal(seen.req.headers['content-type'], 'application/x-protobuf');
      assert.equal(seen.req.headers['x-prometheus-remote-write-version'], '0.1.0');
      assert.match(seen.req.headers['user-agent'] ?? '', /^resticprom\//);
      const snappy = await loadSnappy();
      const decoded: WriteRequest = await decodeWriteRequest(snappy.uncompress(seen.body));
      assert.deepEqual(decoded, {
        timeseries: [
          {
            labels: label([
              ['__name__', 'a'],
              ['job', 'j'],
            ]),
            samples: [{ value: 1.5, timestamp: 1234 }],
          },
        ],
        metadata: [{ type: 0, metricFamilyName: 'a', help: '', unit: '' }],
      });
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('remote write into the real Prometheus', () => {
  let prom: RunningPrometheus;
  before(async () => {
    prom = await startPrometheus({
      config: 'global:\n  scrape_interval: 1m\nscrape_configs: []\n',
      args: ['--web.enable-remote-write-receiver'],
    });
  });
  after(async () => {
    await prom?.stop();
  });

  it('stores the values with their labels at measuredAt', async () => {
    const measuredAt = Date.now() - 10_000;
    await sendToTarget(
      { text: TEXT, job: 'nfs_backup', grouping: { instance: 'daily' }, measuredAt },
      { kind: 'remote-write', url: `${prom.url}/api/v1/write` },
    );
    const files = await prom.query('backup_files');
    assert.deepEqual(
      files.map((s) => [s.metric, s.value[1]]).sort((a, b) => String(a[1]).localeCompare(String(b[1]))),
      [
        [{ __name__: 'backup_files', instance: 'daily', job: 'nfs_backup', tier: 'daily' }, '42'],
        [{ __name__: 'backup_files', instance: 'daily', job: 'nfs_backup', tier: 'weekly' }, '7'],
      ],
    );
    const ts = await prom.query('timestamp(backup_runs)');
    assert.equal(ts.length, 1);
    assert.equal(Math.round(Number(ts[0]?.value[1]) * 1000), measuredAt);
    const q = await prom.query('histogram_quantile(0.5, req_bucket)');
    assert.equal(q[0]?.value[1], '1');
    const count = await prom.query('req_count');
    assert.deepEqual(
      count.map((s) => [s.metric, s.value[1]]),
      [[{ __name__: 'req_count', instance: 'daily', job: 'nfs_backup' }, '2']],
    );
  });

  it('an out-of-bounds sample (3 h old) is a 400: not retried, not retryable', async () => {
    const { fetch: undiciFetch } = await import('undici');
    let calls = 0;
    const countingFetch = ((url: string, init: RequestInit) => {
      calls++;
      return undiciFetch(url, init as never);
    }) as unknown as typeof fetch;
    const err = await sendToTarget(
      { text: 'old_metric 1\n', job: 'j', grouping: {}, measuredAt: Date.now() - 3 * 3600_000 },
      { kind: 'remote-write', url: `${prom.url}/api/v1/write`, retries: 3 },
      { fetch: countingFetch },
    ).then(
      () => assert.fail('expected a SinkError'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof SinkError);
    assert.equal(calls, 1);
    assert.equal(err.status, 400);
    assert.equal(err.isRetryable, false);
    assert.match(
      err.message,
      new RegExp(`^unexpected status 400 while writing to ${prom.url}/api/v1/write: .*out of bounds`),
    );
  });
});
