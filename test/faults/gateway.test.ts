/**
 * Faults of the gateway, for `resticprom push` and `resticprom backup`: a closed port, a
 * server that accepts and never answers, 500s, 503s then success, a 400 refusal, a
 * connection closed mid-request, and a certificate for another host. Stand-ins count the
 * requests they get; what is retried, queued or dead-lettered is read from the outbox files.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import {
  FAKE_RESTIC,
  fakeResticEnv,
  makeRepo,
  makeSourceTree,
  resticFixture,
  type TestRepo,
} from '../helpers/restic.js';
import {
  freePort,
  gatewayGroups,
  groupValues,
  makeCertificates,
  makeTempDir,
  type RunningService,
  startPushgateway,
} from '../helpers/services.js';
import { deadLetters, pendingEntries, startStaller, startStandIn } from './helpers.js';

const METRICS = '# TYPE fault_value gauge\nfault_value 42\n';
const BODY_400 =
  'pushed metrics are invalid or inconsistent with existing metrics: collected metric "fault_value" { gauge:<value:42 > } was collected before with the same name and label values';

describe('gateway faults', () => {
  const tmp = makeTempDir('resticprom-faults-gateway-');
  let n = 0;
  const newState = () => join(tmp.dir, `state-${++n}`);
  let gw: RunningService;
  let repo: TestRepo;
  let source: string;

  before(async () => {
    await ensureBuilt();
    gw = await startPushgateway();
    repo = makeRepo(tmp.dir, 'fault-password');
    source = makeSourceTree(join(tmp.dir, 'src'), { files: 5, bytes: 1024 }).dir;
  });
  after(async () => {
    await gw?.stop();
    tmp.cleanup();
  });

  const push = (url: string, state: string, extra: string[] = []) =>
    runCli(
      [
        'push',
        '--gateway',
        url,
        '--job',
        'fault_job',
        '--group',
        'instance=push',
        '--retries',
        '2',
        '--timeout',
        '5s',
        '--state-dir',
        state,
        ...extra,
        '-',
      ],
      { input: METRICS },
    );

  describe('resticprom push', () => {
    it('connection refused (a closed port): 3 attempts, queued, exit 75', async () => {
      const state = newState();
      const port = await freePort();
      const r = await push(`http://127.0.0.1:${port}`, state);
      assert.equal(
        r.stderr,
        `resticprom: gateway http://127.0.0.1:${port} unreachable after 3 attempts (connect ECONNREFUSED 127.0.0.1:${port}); queued in ${state}/outbox (1 pending)\n`,
      );
      assert.equal(r.code, 75);
      const [entry] = pendingEntries(state);
      assert.equal(entry?.attempts, 3);
      assert.equal(entry?.payload.text, METRICS);
    });

    it('accepted and never answered, --timeout 300ms: each attempt times out, queued, exit 75', async () => {
      const state = newState();
      const staller = await startStaller();
      try {
        const r = await push(staller.url, state, ['--timeout', '300ms']);
        assert.equal(
          r.stderr,
          `resticprom: gateway ${staller.url}: timeout after 300 ms while pushing to ${staller.url}/metrics/job/fault_job/instance/push (after 3 attempts); queued in ${state}/outbox (1 pending)\n`,
        );
        assert.equal(r.code, 75);
        assert.equal(staller.requests(), 3);
        assert.equal(pendingEntries(state)[0]?.attempts, 3);
      } finally {
        await staller.close();
      }
    });

    it('500 every time: 3 requests, queued, exit 75', async () => {
      const state = newState();
      const standIn = await startStandIn(() => ({ status: 500, body: 'internal trouble' }));
      try {
        const r = await push(standIn.url, state);
        assert.equal(
          r.stderr,
          `resticprom: gateway ${standIn.url} answered 500: internal trouble after 3 attempts; queued in ${state}/outbox (1 pending)\n`,
        );
        assert.equal(r.code, 75);
        assert.deepEqual(
          standIn.requests.map((q) => `${q.method} ${q.path} ${q.body}`),
          Array(3).fill(`POST /metrics/job/fault_job/instance/push ${METRICS}`),
        );
      } finally {
        await standIn.close();
      }
    });

    it('503, 503, then the real gateway answers: delivered on the third request, exit 0', async () => {
      const state = newState();
      const standIn = await startStandIn((i) =>
        i <= 2 ? { status: 503, body: 'not ready' } : { proxy: gw.url },
      );
      try {
        const r = await push(standIn.url, state);
        assert.equal(
          r.stderr,
          `resticprom: delivered job fault_job, instance=push (POST) to pushgateway ${standIn.url}\n`,
        );
        assert.equal(r.code, 0);
        assert.equal(standIn.requests.length, 3);
        const g = (await gatewayGroups(gw.url)).find(
          (x) => x.labels.job === 'fault_job' && x.labels.instance === 'push',
        );
        assert.deepEqual(g && groupValues(g, 'fault_value').map((m) => m.value), ['42']);
        assert.deepEqual(pendingEntries(state), []);
      } finally {
        await standIn.close();
      }
    });

    it('400: one request, not retried, dead-lettered with the body, exit 1', async () => {
      const state = newState();
      const standIn = await startStandIn(() => ({ status: 400, body: `${BODY_400}\n` }));
      try {
        const r = await push(standIn.url, state);
        assert.equal(
          r.stderr,
          `resticprom: gateway ${standIn.url} answered 400: ${BODY_400}; refused, dead-lettered in ${state}/outbox/dead (not retried)\n`,
        );
        assert.equal(r.code, 1);
        assert.equal(standIn.requests.length, 1);
        assert.deepEqual(pendingEntries(state), []);
        const [dead] = deadLetters(state);
        assert.equal(dead?.dead.status, 400);
        assert.equal(dead?.dead.body, BODY_400);
        assert.equal(dead?.entry?.payload.text, METRICS);
      } finally {
        await standIn.close();
      }
    });

    it('connection closed mid-request (after the headers): retried, then queued, exit 75', async () => {
      const state = newState();
      const standIn = await startStandIn(() => ({ close: true }));
      try {
        const r = await push(standIn.url, state);
        assert.equal(
          r.stderr,
          `resticprom: gateway ${standIn.url} unreachable after 3 attempts (the server closed the connection); queued in ${state}/outbox (1 pending)\n`,
        );
        assert.equal(r.code, 75);
        assert.equal(standIn.requests.length, 3);
      } finally {
        await standIn.close();
      }
    });

    it('a certificate for another host (the real gateway over TLS): one clear TLS line, queued, not hammered, exit 75', async () => {
      const state = newState();
      const certs = makeCertificates(tmp.dir, { serverNames: ['DNS:wrong.example'] });
      const webConfig = join(tmp.dir, 'web-wrong-name.yml');
      writeFileSync(
        webConfig,
        `tls_server_config:\n  cert_file: ${certs.serverCert}\n  key_file: ${certs.serverKey}\n`,
      );
      const tlsGw = await startPushgateway({ webConfigFile: webConfig, scheme: 'https' });
      try {
        const r = await push(tlsGw.url, state, ['--ca-file', certs.caFile]);
        assert.equal(
          r.stderr,
          `resticprom: gateway ${tlsGw.url}: TLS error talking to ${tlsGw.url}: the server's certificate is not valid for 127.0.0.1 (it is for DNS:wrong.example) (use a URL with a name the certificate has, or fix the certificate); queued in ${state}/outbox (1 pending)\n`,
        );
        assert.equal(r.code, 75);
        // A setup problem: kept for later, not retried now.
        assert.equal(pendingEntries(state)[0]?.attempts, 1);
      } finally {
        await tlsGw.stop();
      }
    });
  });

  describe('resticprom backup (config pointing at the fault)', () => {
    const configFor = (state: string, url: string, opts: { fake?: boolean } = {}) => {
      const file = join(tmp.dir, `${state.split('/').pop()}.yaml`);
      writeFileSync(
        file,
        `state-dir: ${state}
hostname: fault-host
${opts.fake ? `restic-binary: ${FAKE_RESTIC}\n` : ''}profiles:
  p:
    repository: ${repo.repository}
    password-file: ${repo.passwordFile}
    env: { RESTIC_CACHE_DIR: ${repo.cacheDir} }
    paths: [${source}]
    tiers:
      daily: { schedule: "30 1 * * *" }
    metrics:
      job: fault_backup
      grouping: { instance: "{profile}-{tier}" }
      pushgateway: { url: "${url}", retries: 2, timeout: 5s }
`,
        { mode: 0o600 },
      );
      return file;
    };
    const backup = (config: string, env: NodeJS.ProcessEnv = {}) =>
      runCli(['backup', '--config', config, '--tier', 'daily', '--quiet'], {
        env: { HOME: tmp.dir, ...env },
      });

    it('a good backup whose gateway refuses connections exits 75; the metrics wait in the outbox', async () => {
      const state = newState();
      const port = await freePort();
      const r = await backup(configFor(state, `http://127.0.0.1:${port}`));
      assert.equal(
        r.stderr,
        `warning: metrics not delivered to pushgateway http://127.0.0.1:${port}: gateway http://127.0.0.1:${port} unreachable after 3 attempts (connect ECONNREFUSED 127.0.0.1:${port}); kept in the outbox\n`,
      );
      assert.equal(r.code, 75);
      const [entry] = pendingEntries(state);
      assert.match(entry?.payload.text ?? '', /^restic_backup_status\{.*\} 2$/m);
    });

    it('a good backup whose gateway answers 503, 503, then takes it exits 0', async () => {
      const state = newState();
      const standIn = await startStandIn((i) => (i <= 2 ? { status: 503 } : { proxy: gw.url }));
      try {
        const r = await backup(configFor(state, standIn.url));
        assert.equal(r.stderr, '');
        assert.equal(r.code, 0);
        assert.equal(standIn.requests.length, 3);
        assert.deepEqual(pendingEntries(state), []);
      } finally {
        await standIn.close();
      }
    });

    it('a good backup whose gateway refuses the payload (400) exits 1 and says why', async () => {
      const state = newState();
      const standIn = await startStandIn(() => ({ status: 400, body: BODY_400 }));
      try {
        const r = await backup(configFor(state, standIn.url));
        assert.equal(
          r.stderr,
          `error: metrics refused by pushgateway ${standIn.url}: gateway ${standIn.url} answered 400: ${BODY_400}; moved to the dead-letter folder\n`,
        );
        assert.equal(r.code, 1);
        assert.equal(standIn.requests.length, 1);
        assert.equal(deadLetters(state).length, 1);
      } finally {
        await standIn.close();
      }
    });

    it('an incomplete backup (restic exit 3) whose gateway answers 500 keeps exit 3, with a warning', async () => {
      const state = newState();
      const standIn = await startStandIn(() => ({ status: 500, body: 'internal trouble' }));
      try {
        const r = await backup(
          configFor(state, standIn.url, { fake: true }),
          fakeResticEnv(resticFixture('0.14.0', 'backup-unreadable')),
        );
        assert.equal(r.code, 3);
        assert.match(
          r.stderr,
          new RegExp(
            `^warning: metrics not delivered to pushgateway ${standIn.url}: gateway ${standIn.url} answered 500: internal trouble after 3 attempts; kept in the outbox$`,
            'm',
          ),
        );
        assert.match(r.stderr, /^warning: backup p\/daily incomplete in /m);
        assert.equal(standIn.requests.length, 3);
        assert.equal(pendingEntries(state).length, 1);
      } finally {
        await standIn.close();
      }
    });
  });
});
