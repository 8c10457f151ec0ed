/**
 * What people read: the daemon's text log lines carry the time (one format for humans,
 * `YYYY-MM-DD HH:MM:SS` in the config's time zone); `run` reports a failed command as an
 * error and names the fallback textfile once; durations in metrics are rounded to the
 * millisecond (no `0.7842993099999999`).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/cli/output.js';
import { runSamples } from '../../src/jobs/run-metrics.js';
import { renderSamples } from '../../src/metrics/build.js';
import { JOB_METRICS } from '../../src/metrics/names.js';
import { ensureBuilt, runCli, spawnCli } from '../helpers/cli.js';
import { waitUntil } from '../helpers/e2e.js';
import { makeTempDir } from '../helpers/services.js';

const temps: Array<() => void> = [];
after(() => {
  for (const c of temps) c();
});

function sink(): { stream: Writable; text: () => string } {
  let out = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      out += String(chunk);
      cb();
    },
  });
  return { stream, text: () => out };
}

describe('logs and times', () => {
  before(async () => {
    await ensureBuilt();
  });

  it('a timestamped logger starts each text line with the time in its zone', () => {
    const s = sink();
    const log = createLogger({
      stream: s.stream,
      isTimestamped: true,
      timeZone: 'Europe/Berlin',
      now: () => Date.UTC(2026, 11, 2, 1, 46, 5),
      env: {},
    });
    log.info('backup nfs/daily started');
    log.warn('the gateway is down');
    assert.equal(
      s.text(),
      '2026-12-02 02:46:05 backup nfs/daily started\n2026-12-02 02:46:05 warning: the gateway is down\n',
    );
  });

  it('the daemon logs with timestamps', async () => {
    const t = makeTempDir('resticprom-daemonlog-');
    temps.push(t.cleanup);
    const config = join(t.dir, 'resticprom.yaml');
    writeFileSync(join(t.dir, 'pw'), 'pw\n', { mode: 0o600 });
    writeFileSync(
      config,
      `state-dir: ${join(t.dir, 'state')}
timezone: UTC
daemon: { listen: "127.0.0.1:0", run-missed: false }
profiles:
  nfs:
    repository: ${join(t.dir, 'repo')}
    password-file: ${join(t.dir, 'pw')}
    paths: [${t.dir}]
    tiers:
      daily: { schedule: "30 1 * * *" }
`,
      { mode: 0o600 },
    );
    const child = spawnCli(['daemon', '--config', config]);
    let err = '';
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    try {
      await waitUntil('the daemon to log a line', () => err.includes('\n'));
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('close', r));
    }
    const lines = err.trimEnd().split('\n');
    assert.ok(lines.length > 0);
    for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d /, err);
  });

  it('run: a failed command is an error; without a destination the textfile is named once', async () => {
    const t = makeTempDir('resticprom-runlog-');
    temps.push(t.cleanup);
    const state = join(t.dir, 'state');
    const r = await runCli(['run', '--state-dir', state, '--job', 'dump', '--', 'sh', '-c', 'exit 4']);
    assert.equal(r.code, 4);
    const file = join(state, 'metrics', 'job-dump.prom');
    // push/run/flush's text log: `resticprom: ` before every line, `warning: ` only for warnings.
    assert.match(r.stderr, /^resticprom: job dump: sh failed with exit code 4 after \d+(\.\d+)?m?s$/m);
    assert.doesNotMatch(r.stderr, /warning: job dump/);
    assert.equal(r.stderr.split(file).length - 1, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^resticprom: no destination given: metrics written to ${file}$`, 'm'));
    assert.match(readFileSync(file, 'utf8'), /^resticprom_job_exit_code\{[^}]*\} 4$/m);
  });

  it('durations are pushed rounded to the millisecond', () => {
    const text = renderSamples(
      runSamples(JOB_METRICS, {
        status: 'success',
        exitCode: 0,
        durationMs: 784.29930999,
        endedAt: 1_700_000_000_123,
        counters: { success: 1, warning: 0, failed: 0, interrupted: 0 },
      }),
      {},
    );
    assert.match(text, /^resticprom_job_duration_seconds 0\.784$/m);
  });
});
