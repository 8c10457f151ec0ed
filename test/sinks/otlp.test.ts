import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { parseDestinations } from '../../src/cli/destinations.js';
import { loadConfig } from '../../src/config/index.js';
import { ConfigError, InvalidMetricsError, SinkError } from '../../src/errors.js';
import { deliver } from '../../src/sinks/deliver.js';
import {
  buildResourceMetrics,
  otlpResourceAttributes,
  otlpUnit,
  parseOtlpResponse,
  serializeResourceMetrics,
} from '../../src/sinks/otlp-encode.js';
import { Outbox } from '../../src/sinks/outbox.js';
import { sendToTarget } from '../../src/sinks/target.js';
import type { MetricsPayload } from '../../src/sinks/types.js';
import { getVersion } from '../../src/version.js';
import { runCli } from '../helpers/cli.js';
import { makeCertificates, makeTempDir } from '../helpers/services.js';

const TEXT = `# HELP backup_seconds How long
# TYPE backup_seconds gauge
backup_seconds{tier="daily",empty=""} 12.5
# TYPE added_bytes untyped
added_bytes 1024
# HELP runs_total Runs
# TYPE runs_total counter
runs_total{outcome="success"} 7
# TYPE upload histogram
upload_bucket{le="0.5"} 1
upload_bucket{le="1"} 3
upload_bucket{le="+Inf"} 4
upload_sum 2.5
upload_count 4
`;

const MEASURED_AT = 1_700_000_000_123;
const AT: [number, number] = [1_700_000_000, 123_000_000];

describe('the OTLP mapping', () => {
  it('job and grouping become resource attributes: service.name, service.instance.id, the rest by name', () => {
    assert.deepEqual(otlpResourceAttributes('nfs_backup', { instance: 'daily', site: 'ber', empty: '' }), {
      'service.name': 'nfs_backup',
      'service.instance.id': 'daily',
      site: 'ber',
    });
    assert.deepEqual(otlpResourceAttributes('j', {}), { 'service.name': 'j' });
  });

  it('units from the Prometheus base-unit suffixes only', () => {
    assert.equal(otlpUnit('restic_backup_duration_seconds'), 's');
    assert.equal(otlpUnit('restic_backup_end_timestamp_seconds'), 's');
    assert.equal(otlpUnit('restic_backup_added_bytes'), 'By');
    assert.equal(otlpUnit('restic_backup_files_new'), '');
    assert.equal(otlpUnit('restic_backup_runs_total'), '');
  });

  it('gauges and untyped as gauges, counters as monotonic cumulative sums, histograms with per-bucket counts', async () => {
    const rm = await buildResourceMetrics({
      text: TEXT,
      job: 'nfs_backup',
      grouping: { instance: 'daily' },
      measuredAt: MEASURED_AT,
    });
    assert.deepEqual(rm.resource.attributes, {
      'service.name': 'nfs_backup',
      'service.instance.id': 'daily',
    });
    assert.equal(rm.scopeMetrics.length, 1);
    const scope = rm.scopeMetrics[0];
    assert.deepEqual(scope?.scope, { name: 'resticprom', version: getVersion() });
    // The SDK's enums by value: DataPointType GAUGE 2, SUM 3, HISTOGRAM 0; CUMULATIVE 1; DOUBLE 1.
    assert.deepEqual(scope?.metrics, [
      {
        descriptor: { name: 'backup_seconds', description: 'How long', unit: 's', valueType: 1 },
        aggregationTemporality: 1,
        dataPointType: 2,
        dataPoints: [{ startTime: AT, endTime: AT, attributes: { tier: 'daily' }, value: 12.5 }],
      },
      {
        descriptor: { name: 'added_bytes', description: '', unit: 'By', valueType: 1 },
        aggregationTemporality: 1,
        dataPointType: 2,
        dataPoints: [{ startTime: AT, endTime: AT, attributes: {}, value: 1024 }],
      },
      {
        descriptor: { name: 'runs_total', description: 'Runs', unit: '', valueType: 1 },
        aggregationTemporality: 1,
        dataPointType: 3,
        dataPoints: [{ startTime: [0, 0], endTime: AT, attributes: { outcome: 'success' }, value: 7 }],
        isMonotonic: true,
      },
      {
        descriptor: { name: 'upload', description: '', unit: '', valueType: 1 },
        aggregationTemporality: 1,
        dataPointType: 0,
        dataPoints: [
          {
            startTime: [0, 0],
            endTime: AT,
            attributes: {},
            value: { buckets: { boundaries: [0.5, 1], counts: [1, 2, 1] }, count: 4, sum: 2.5 },
          },
        ],
      },
    ]);
  });

  it('refuses a summary, naming the family and its line', async () => {
    const text = '# TYPE a gauge\na 1\n# TYPE lat summary\nlat{quantile="0.5"} 0.2\nlat_sum 1\nlat_count 3\n';
    await assert.rejects(
      buildResourceMetrics({ text, job: 'j', grouping: {}, measuredAt: 0 }),
      (err: unknown) => {
        assert.ok(err instanceof InvalidMetricsError);
        assert.equal(
          err.message,
          'line 4: family lat is a summary, which an otlp destination cannot carry (send its quantiles as gauges, or use a histogram)',
        );
        return true;
      },
    );
  });

  it('refuses bad input before encoding: an empty job, a bad grouping label, invalid text', async () => {
    const base = { text: 'a 1\n', grouping: {}, measuredAt: 0 };
    await assert.rejects(buildResourceMetrics({ ...base, job: '' }), InvalidMetricsError);
    await assert.rejects(
      buildResourceMetrics({ ...base, job: 'j', grouping: { 'bad-name': 'x' } }),
      InvalidMetricsError,
    );
    await assert.rejects(buildResourceMetrics({ ...base, job: 'j', text: 'a 1' }), /missing final newline/);
  });
});

describe('otlp on the wire', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let server: ReturnType<typeof createServer>;
  let port: number;
  let seen: { req: IncomingMessage; body: Buffer }[] = [];
  let status = 200;
  before(async () => {
    tmp = makeTempDir('resticprom-otlp-wire-');
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ req, body: Buffer.concat(chunks) });
        res.writeHead(status, { 'Content-Type': 'text/plain' }).end(status === 200 ? '' : 'bad data point');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    tmp.cleanup();
  });

  const payload: MetricsPayload = {
    text: TEXT,
    job: 'nfs_backup',
    grouping: { instance: 'daily' },
    measuredAt: MEASURED_AT,
  };

  it("POSTs the OpenTelemetry serializer's protobuf with its content type, auth and user agent; gzip when asked", async () => {
    seen = [];
    const tokenFile = join(tmp.dir, 'token');
    writeFileSync(tokenFile, 's3cret-token\n', { mode: 0o600 });
    const url = `http://127.0.0.1:${port}/v1/metrics`;
    await sendToTarget(payload, {
      kind: 'otlp',
      url,
      bearerToken: { file: tokenFile },
      headers: { 'X-Tenant': 't1' },
    });
    await sendToTarget(payload, { kind: 'otlp', url, gzip: true });
    const expected = Buffer.from(await serializeResourceMetrics(await buildResourceMetrics(payload)));
    assert.equal(seen.length, 2);
    const [plain, zipped] = seen;
    assert.equal(plain?.req.method, 'POST');
    assert.equal(plain?.req.url, '/v1/metrics');
    assert.equal(plain?.req.headers['content-type'], 'application/x-protobuf');
    assert.equal(plain?.req.headers.authorization, 'Bearer s3cret-token');
    assert.equal(plain?.req.headers['x-tenant'], 't1');
    assert.equal(plain?.req.headers['content-encoding'], undefined);
    assert.equal(plain?.req.headers['user-agent'], `resticprom/${getVersion()}`);
    assert.deepEqual(plain?.body, expected);
    assert.equal(zipped?.req.headers['content-encoding'], 'gzip');
    assert.deepEqual(gunzipSync(zipped?.body ?? Buffer.alloc(0)), expected);
    // The body carries the names and attributes as protobuf strings.
    for (const s of [
      'service.name',
      'nfs_backup',
      'service.instance.id',
      'daily',
      'runs_total',
      'resticprom',
    ]) {
      assert.ok(expected.includes(Buffer.from(s)), s);
    }
  });

  it('a delete sends nothing (OTLP has no delete)', async () => {
    seen = [];
    await sendToTarget(
      { ...payload, method: 'delete' },
      { kind: 'otlp', url: `http://127.0.0.1:${port}/v1/metrics` },
    );
    assert.equal(seen.length, 0);
  });

  it("a 400 is a refusal: not retried, not retryable, the receiver's words in the error", async () => {
    seen = [];
    status = 400;
    try {
      const err = await sendToTarget(payload, {
        kind: 'otlp',
        url: `http://127.0.0.1:${port}/v1/metrics`,
        retries: 3,
      }).then(
        () => assert.fail('expected a SinkError'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof SinkError);
      assert.equal(err.status, 400);
      assert.equal(err.isRetryable, false);
      assert.equal(
        err.message,
        `unexpected status 400 while sending OTLP to http://127.0.0.1:${port}/v1/metrics: bad data point`,
      );
      assert.equal(seen.length, 1);
    } finally {
      status = 200;
    }
  });
});

describe('otlp over https', () => {
  it('trusts the ca-file, sends basic auth from a password file; an untrusted server is a TLS error', async () => {
    const { dir, cleanup } = makeTempDir('resticprom-otlp-tls-');
    const certs = makeCertificates(dir);
    const seen: IncomingMessage[] = [];
    const server = createHttpsServer(
      { cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey) },
      (req, res) => {
        seen.push(req);
        req.resume();
        req.on('end', () => res.writeHead(200).end());
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const passwordFile = join(dir, 'otlp.pass');
      writeFileSync(passwordFile, 'Pässw0rd\n', { mode: 0o600 });
      const url = `https://127.0.0.1:${port}/v1/metrics`;
      const basicAuth = { username: 'backup', password: { file: passwordFile } };
      const p: MetricsPayload = { text: 'a 1\n', job: 'j', grouping: {}, measuredAt: Date.now() };
      await sendToTarget(p, { kind: 'otlp', url, caFile: certs.caFile, basicAuth });
      assert.equal(seen.length, 1);
      assert.equal(
        seen[0]?.headers.authorization,
        `Basic ${Buffer.from('backup:Pässw0rd').toString('base64')}`,
      );
      const err = await sendToTarget(p, { kind: 'otlp', url, basicAuth, retries: 0 }).then(
        () => assert.fail('expected a SinkError'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof SinkError);
      assert.match(err.message, new RegExp(`^TLS error talking to https://127\\.0\\.0\\.1:${port}: `));
      assert.ok(!err.message.includes('Pässw0rd'));
      assert.equal(seen.length, 1);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
      cleanup();
    }
  });
});

describe('an OTLP partial success', () => {
  it("is a refusal of that entry: dead-lettered with the count and the receiver's message", async () => {
    // ExportMetricsServiceResponse { partial_success { rejected_data_points: 2, error_message: "bad name" } }
    const inner = Buffer.concat([Buffer.from([0x08, 0x02, 0x12, 0x08]), Buffer.from('bad name')]);
    const response = Buffer.concat([Buffer.from([0x0a, inner.length]), inner]);
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'Content-Type': 'application/x-protobuf' }).end(response));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const { dir, cleanup } = makeTempDir('resticprom-otlp-partial-');
    try {
      const url = `http://127.0.0.1:${port}/v1/metrics`;
      const r = await deliver(
        { text: 'a 1\n', job: 'j', grouping: {}, measuredAt: Date.now() },
        [{ kind: 'otlp', url, retries: 2 }],
        { stateDir: dir },
      );
      assert.deepEqual(r.delivered, []);
      assert.deepEqual(r.deadLettered, [
        {
          destination: `otlp ${url}`,
          reason: `otlp ${url} answered 200: rejected 2 data point(s): bad name`,
        },
      ]);
      assert.equal(r.pendingCount, 0);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
      cleanup();
    }
  });

  it('an empty answer, an empty response message or a text answer is a full success', async () => {
    for (const body of [Buffer.alloc(0), Buffer.from([0x0a, 0x00]), Buffer.from('ok')]) {
      assert.equal(await parseOtlpResponse(body), undefined, body.toString('hex'));
    }
  });
});

describe('otlp in the outbox', () => {
  it('a newer PUT does not supersede queued OTLP entries: every sample is history and goes, in order', async () => {
    const { dir, cleanup } = makeTempDir('resticprom-otlp-outbox-');
    try {
      const outbox = new Outbox({ stateDir: dir });
      const target = { kind: 'otlp' as const, url: 'http://127.0.0.1:9/v1/metrics' };
      for (const v of [1, 2]) {
        const p = { text: `a ${v}\n`, job: 'j', grouping: {}, method: 'put' as const, measuredAt: 1000 * v };
        const r = await outbox.enqueue(p, [target]);
        assert.deepEqual(r.superseded, []);
      }
      const pending = await outbox.pending();
      assert.deepEqual(
        pending.map((e) => [e.targetId, e.payload.text, e.payload.measuredAt]),
        [
          ['otlp http://127.0.0.1:9/v1/metrics', 'a 1\n', 1000],
          ['otlp http://127.0.0.1:9/v1/metrics', 'a 2\n', 2000],
        ],
      );
    } finally {
      cleanup();
    }
  });
});

describe('push --otlp with a summary', () => {
  it('exits 65 before anything is stored or sent, naming the family and its line', async () => {
    const { dir, cleanup } = makeTempDir('resticprom-otlp-summary-');
    try {
      const r = await runCli(
        ['push', '--otlp', 'http://127.0.0.1:9/v1/metrics', '--job', 'j', '--state-dir', dir, '-'],
        {
          input:
            '# TYPE ok gauge\nok 1\n# TYPE lat summary\nlat{quantile="0.5"} 0.2\nlat_sum 1\nlat_count 3\n',
        },
      );
      assert.equal(r.code, 65, r.stderr);
      assert.equal(
        r.stderr,
        'resticprom: invalid metrics in stdin: line 4: family lat is a summary, which an otlp destination cannot carry (send its quantiles as gauges, or use a histogram); nothing was sent or queued\n',
      );
      const outbox = join(dir, 'outbox');
      const entries = existsSync(outbox) ? readdirSync(outbox).filter((n) => n.endsWith('.json')) : [];
      assert.deepEqual(entries, []);
    } finally {
      cleanup();
    }
  });
});

describe('metrics.otlp in the config', () => {
  it('reports each bad entry on its own line with file, line and key path', async () => {
    const { dir, cleanup } = makeTempDir('resticprom-otlp-config-');
    try {
      const file = join(dir, 'resticprom.yaml');
      writeFileSync(
        file,
        `profiles:
  p:
    repository: /r
    password-file: /p
    paths: [/a]
    tiers: { daily: { schedule: "30 1 * * *" } }
    metrics:
      otlp:
        - url: "ftp://x/v1/metrics"
        - url: http://ok:4318/v1/metrics
          basic-auth: { username: u }
          timeot: 5s
`,
        { mode: 0o600 },
      );
      const err = await loadConfig({ file, env: { HOME: dir } }).then(
        () => assert.fail('expected a ConfigError'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof ConfigError);
      assert.equal(
        err.message,
        [
          `${file}:9: profiles.p.metrics.otlp[0].url: "ftp://x/v1/metrics" is not an http:// or https:// URL`,
          `${file}:11: profiles.p.metrics.otlp[1].basic-auth: set one of password-file, password-env, password`,
          `${file}:12: profiles.p.metrics.otlp[1].timeot: unknown key "timeot"; did you mean "timeout"?`,
        ].join('\n'),
      );
    } finally {
      cleanup();
    }
  });
});

describe('--otlp', () => {
  it('one destination per --otlp URL with the shared HTTP flags', () => {
    assert.deepEqual(
      parseDestinations(
        {
          otlp: ['http://otel:4318/v1/metrics', 'https://otlp.example/v1/metrics'],
          timeout: '2s',
          retries: '1',
        },
        {},
      ),
      [
        { kind: 'otlp', url: 'http://otel:4318/v1/metrics', timeoutMs: 2000, retries: 1 },
        { kind: 'otlp', url: 'https://otlp.example/v1/metrics', timeoutMs: 2000, retries: 1 },
      ],
    );
  });

  it('refuses credentials in the URL, naming the flag', () => {
    assert.throws(() => parseDestinations({ otlp: ['http://u:pw@otel:4318/v1/metrics'] }, {}), /--otlp/);
  });
});
