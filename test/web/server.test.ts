import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseExposition } from '../../src/metrics/exposition.js';
import { type Daemon, type DaemonRunRequest, startDaemon } from '../../src/schedule/daemon.js';
import type { HistoryView, StatusView } from '../../src/web/api.js';
import { checkBasicAuth } from '../../src/web/auth.js';
import { isLoopbackHost, parseListen } from '../../src/web/listen.js';
import { makeTempDir } from '../helpers/services.js';
import { NOW, type WebFixture, writeFixture } from './fixture.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function quietLog() {
  const lines: string[] = [];
  const add = (level: string) => (msg: string) => lines.push(`${level}: ${msg}`);
  return { lines, info: add('info'), warn: add('warn'), error: add('error') };
}

describe('daemon HTTP endpoint', () => {
  const tmp = makeTempDir('resticprom-web-');
  let fx: WebFixture;
  let daemon: Daemon;
  const runs: DaemonRunRequest[] = [];
  const log = quietLog();

  before(async () => {
    fx = await writeFixture(tmp.dir);
    daemon = await startDaemon({
      configFile: fx.configFile,
      now: () => NOW,
      log,
      runJob: async (req) => {
        runs.push(req);
        return { outcome: 'success', message: 'ok' };
      },
    });
  });
  after(async () => {
    await daemon?.stop(0);
    tmp.cleanup();
  });

  it('/metrics serves the latest runs with job and grouping labels, plus the daemon gauges', async () => {
    const res = await fetch(`${daemon.url}/metrics`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const fams = parseExposition(await res.text());
    const get = (name: string) =>
      fams.find((f) => f.name === name)?.samples.map((s) => ({ labels: s.labels, value: s.value }));
    assert.deepEqual(get('restic_backup_processed_files'), [
      {
        labels: {
          host: 'web-test',
          job: 'restic_backup',
          instance: 'web-test',
          profile: 'nfs',
          tier: 'daily',
        },
        value: 1029,
      },
      {
        labels: {
          host: 'web-test',
          job: 'restic_backup',
          instance: 'web-test',
          profile: 'nfs',
          tier: 'weekly',
        },
        value: 1021,
      },
    ]);
    const daily = fx.runs['nfs/daily']?.at(-1);
    assert.deepEqual(
      get('push_time_seconds')?.find((s) => s.labels.tier === 'daily'),
      {
        labels: { job: 'restic_backup', instance: 'web-test', profile: 'nfs', tier: 'daily' },
        value: (daily?.endedAt ?? 0) / 1000,
      },
    );
    assert.deepEqual(get('resticprom_daemon_up'), [{ labels: {}, value: 1 }]);
    assert.deepEqual(get('resticprom_next_run_timestamp_seconds'), [
      { labels: { profile: 'nfs', tier: 'daily' }, value: Date.UTC(2024, 5, 16, 3) / 1000 },
      { labels: { profile: 'nfs', tier: 'weekly' }, value: Date.UTC(2024, 5, 16, 4) / 1000 },
      { labels: { profile: 'nfs', tier: 'monthly' }, value: Date.UTC(2024, 6, 1, 5) / 1000 },
      { labels: { profile: 'db', tier: 'hourly' }, value: Date.UTC(2024, 5, 15, 13) / 1000 },
    ]);
    assert.deepEqual(
      get('resticprom_daemon_run_in_progress')?.map((s) => s.value),
      [0, 0, 0, 0],
    );
  });

  it('/healthz answers ok', async () => {
    const res = await fetch(`${daemon.url}/healthz`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'ok\n');
  });

  it('/api/status has each tier with its state, last success, age and next run', async () => {
    const res = await fetch(`${daemon.url}/api/status`);
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    const body = (await res.json()) as StatusView;
    assert.equal(body.generatedAt, NOW);
    assert.equal(body.timezone, 'UTC');
    const rows = body.tiers.map((t) => [
      t.profile,
      t.tier,
      t.state,
      t.lastSuccess,
      t.ageMs,
      t.maxAgeMs,
      t.nextRun,
    ]);
    const dailyEnd = fx.runs['nfs/daily']?.at(-1)?.endedAt ?? 0;
    const weeklyEnd = fx.runs['nfs/weekly']?.at(-1)?.endedAt ?? 0;
    const dbEnd = fx.runs['db/hourly']?.[0]?.endedAt ?? 0;
    assert.deepEqual(rows, [
      ['nfs', 'daily', 'OK', dailyEnd, NOW - dailyEnd, 26 * HOUR, Date.UTC(2024, 5, 16, 3)],
      ['nfs', 'weekly', 'LATE', weeklyEnd, NOW - weeklyEnd, 8 * DAY, Date.UTC(2024, 5, 16, 4)],
      ['nfs', 'monthly', 'NEVER', null, null, 32 * DAY, Date.UTC(2024, 6, 1, 5)],
      ['db', 'hourly', 'FAILED', dbEnd, NOW - dbEnd, 3 * HOUR, Date.UTC(2024, 5, 15, 13)],
    ]);
    assert.equal(body.tiers[0]?.lastSize, 54_000_000);
    assert.equal(body.tiers[3]?.lastOutcome, 'failed');
  });

  it('/api/history returns the runs of one tier, oldest first, with sizes and counts', async () => {
    const res = await fetch(`${daemon.url}/api/history?profile=nfs&tier=daily&limit=3`);
    const body = (await res.json()) as HistoryView;
    const want = fx.runs['nfs/daily']?.slice(-3) ?? [];
    assert.deepEqual(
      body.runs.map((r) => [
        r.id,
        r.outcome,
        r.durationSeconds,
        r.processedBytes,
        r.addedBytes,
        r.filesNew,
        r.filesChanged,
      ]),
      [
        [want[0]?.id, 'failed', 50, null, null, null, null],
        [want[1]?.id, 'success', 55, 53_000_000, 4_000_000, 13, 9],
        [want[2]?.id, 'success', 60, 54_000_000, 5_000_000, 14, 12],
      ],
    );
    const all = (await (await fetch(`${daemon.url}/api/history`)).json()) as HistoryView;
    assert.equal(all.runs.length, 9);
  });

  it('answers 404 for unknown paths and 405 for other methods', async () => {
    assert.equal((await fetch(`${daemon.url}/nope`)).status, 404);
    const res = await fetch(`${daemon.url}/metrics`, { method: 'POST', body: 'x' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET, HEAD');
  });

  it('serves the status page with a CSP that allows only its own inline code', async () => {
    const res = await fetch(`${daemon.url}/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(
      csp,
      /^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'; script-src 'sha256-[A-Za-z0-9+/=]+'; connect-src 'self'/,
    );
    const html = await res.text();
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//, 'no external resources');
  });

  it('logged its start and scheduled nothing yet (run-missed is off)', () => {
    assert.match(
      log.lines[0] ?? '',
      new RegExp(`^info: resticprom daemon .* listening on ${daemon.url.replace(/\./g, '\\.')} `),
    );
    assert.match(log.lines.join('\n'), /4 tier\(s\) scheduled in UTC: nfs\/daily next /);
    assert.deepEqual(runs, []);
  });
});

describe('daemon HTTP endpoint with basic auth', () => {
  const tmp = makeTempDir('resticprom-web-auth-');
  let daemon: Daemon;
  const log = quietLog();

  before(async () => {
    const pw = join(tmp.dir, 'web-password');
    writeFileSync(pw, 's3cret pass\n', { mode: 0o600 });
    const fx = await writeFixture(tmp.dir, { basicAuthPasswordFile: pw, listen: '0.0.0.0:0' });
    daemon = await startDaemon({
      configFile: fx.configFile,
      now: () => NOW,
      log,
      runJob: async () => ({ outcome: 'success', message: 'ok' }),
    });
  });
  after(async () => {
    await daemon?.stop(0);
    tmp.cleanup();
  });

  const basic = (user: string, pass: string) => ({
    Authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`,
  });

  it('answers 401 with a challenge without credentials or with wrong ones', async () => {
    for (const headers of [
      {},
      basic('monitor', 'wrong'),
      basic('other', 's3cret pass'),
      { Authorization: 'Bearer x' },
    ]) {
      for (const path of ['/metrics', '/api/status', '/api/history', '/']) {
        const res = await fetch(`${daemon.url}${path}`, { headers });
        assert.equal(res.status, 401, `${path} ${JSON.stringify(headers)}`);
        assert.equal(res.headers.get('www-authenticate'), 'Basic realm="resticprom", charset="UTF-8"');
        assert.equal(await res.text(), 'unauthorized\n');
      }
    }
  });

  it('answers 200 with the right credentials; /healthz needs none', async () => {
    const res = await fetch(`${daemon.url}/metrics`, { headers: basic('monitor', 's3cret pass') });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^resticprom_daemon_up 1$/m);
    assert.equal((await fetch(`${daemon.url}/healthz`)).status, 200);
  });

  it('does not warn about an open endpoint when auth is set, even beyond loopback', () => {
    assert.equal(log.lines.filter((l) => l.includes('without authentication')).length, 0);
  });
});

describe('listen addresses and auth checks', () => {
  it('parses HOST:PORT, [IPv6]:PORT and :PORT, and refuses the rest', () => {
    assert.deepEqual(parseListen('127.0.0.1:9987'), { host: '127.0.0.1', port: 9987 });
    assert.deepEqual(parseListen('[::1]:80'), { host: '::1', port: 80 });
    assert.deepEqual(parseListen(':9987'), { host: '', port: 9987 });
    assert.throws(() => parseListen('localhost'), {
      message: 'invalid listen address "localhost" (write HOST:PORT, e.g. 127.0.0.1:9987)',
    });
    assert.throws(() => parseListen('h:70000'), /invalid listen address "h:70000"/);
  });

  it('knows loopback hosts', () => {
    assert.deepEqual(
      ['127.0.0.1', '127.8.0.1', '::1', 'localhost', '0.0.0.0', '', '10.0.0.1', '::'].map(isLoopbackHost),
      [true, true, true, true, false, false, false, false],
    );
  });

  it('checks basic auth exactly, a colon in the password included', () => {
    const want = { username: 'u', password: 'a:b' };
    const h = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;
    assert.equal(checkBasicAuth(h('u:a:b'), want), true);
    assert.equal(checkBasicAuth(h('u:a:'), want), false);
    assert.equal(checkBasicAuth(h('u:a:bc'), want), false);
    assert.equal(checkBasicAuth(h('ua:b'), want), false);
    assert.equal(checkBasicAuth(undefined, want), false);
  });

  it('refuses to start on an address in use, with a usage error naming it', async () => {
    const tmp = makeTempDir('resticprom-web-busy-');
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as AddressInfo).port;
    try {
      const fx = await writeFixture(tmp.dir, { listen: `127.0.0.1:${port}` });
      await assert.rejects(
        startDaemon({
          configFile: fx.configFile,
          now: () => NOW,
          log: quietLog(),
          runJob: async () => ({ outcome: 'success', message: '' }),
        }),
        {
          name: 'UsageError',
          message: `cannot listen on 127.0.0.1:${port} (EADDRINUSE); choose another address with --listen or daemon.listen`,
        },
      );
    } finally {
      holder.close();
      tmp.cleanup();
    }
  });

  it('warns when the endpoint is open beyond loopback', async () => {
    const tmp = makeTempDir('resticprom-web-open-');
    try {
      const fx = await writeFixture(tmp.dir, { listen: '0.0.0.0:0' });
      const log = quietLog();
      const d = await startDaemon({
        configFile: fx.configFile,
        now: () => NOW,
        log,
        runJob: async () => ({ outcome: 'success', message: '' }),
      });
      await d.stop(0);
      assert.match(
        log.lines.find((l) => l.includes('without authentication')) ?? '',
        /^warn: the daemon listens on 0\.0\.0\.0:\d+ without authentication: anyone who can reach it sees the backup status; set daemon\.basic-auth or listen on 127\.0\.0\.1$/,
      );
    } finally {
      tmp.cleanup();
    }
  });
});
