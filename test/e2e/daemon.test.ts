/**
 * `resticprom daemon` end to end: the built CLI, the real restic on a temporary
 * repository, a tier, a check and stats scheduled every 3 seconds, no gateway
 * (textfile fallback), and the real Prometheus scraping the daemon's /metrics. Then SIGTERM during a
 * slow backup (the fake restic with a per-line delay), within and beyond the
 * grace period.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readHistory } from '../../src/state/history.js';
import { ensureBuilt, spawnCli } from '../helpers/cli.js';
import { stackMatrix } from '../helpers/matrix.js';
import { FAKE_RESTIC, fakeResticEnv, makeRepo, makeSourceTree, resticFixture } from '../helpers/restic.js';
import {
  freePort,
  makeTempDir,
  type RunningPrometheus,
  scrapeConfig,
  startPrometheus,
  waitForQuery,
  waitReady,
} from '../helpers/services.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A running `resticprom daemon` child with its output collected. */
interface DaemonChild {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function spawnDaemon(configFile: string, env: NodeJS.ProcessEnv, port: number): Promise<DaemonChild> {
  const child = spawnCli(['daemon', '--config', configFile], { env });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  child.stdout?.resume();
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/healthz`, 20_000).catch((e) => {
    throw new Error(`daemon did not start: ${e}\n${err}`);
  });
  // The daemon stamps each text line with its time (docs/daemon.md); the assertions read the rest.
  const TIME = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d /gm;
  return { child, url, stderr: () => err.replace(TIME, ''), exit };
}

async function waitFor<T>(
  what: string,
  get: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 25_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function config(opts: {
  stateDir: string;
  port: number;
  repository: string;
  passwordFile: string;
  paths: string[];
  schedule: string;
  gracePeriod: string;
  resticBinary?: string;
  /** Extra lines of the profile (indented 4). */
  profileExtra?: string;
  /** Extra keys of the tier, e.g. `, keep-last: 1`. */
  tierExtra?: string;
}): string {
  return `state-dir: ${opts.stateDir}
timezone: UTC
hostname: e2e-host
${opts.resticBinary ? `restic-binary: ${opts.resticBinary}\n` : ''}daemon:
  listen: 127.0.0.1:${opts.port}
  grace-period: ${opts.gracePeriod}
profiles:
  e2e:
    repository: ${opts.repository}
    password-file: ${opts.passwordFile}
    paths: [${opts.paths.join(', ')}]
${opts.profileExtra ?? ''}    tiers:
      fast: { schedule: "${opts.schedule}"${opts.tierExtra ?? ''} }
`;
}

describe('resticprom daemon with the real restic and Prometheus', () => {
  const tmp = makeTempDir('resticprom-daemon-e2e-');
  let prom: RunningPrometheus | undefined;
  const proms: RunningPrometheus[] = [];
  let daemon: DaemonChild | undefined;
  /** Every daemon started, so a failed test does not leave one running (and the file hanging). */
  const started: DaemonChild[] = [];

  before(async () => {
    await ensureBuilt();
  });
  after(async () => {
    for (const d of started)
      if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL');
    // Every Prometheus started, also those of a test that failed before stopping its own.
    for (const p of proms) await p.stop();
    tmp.cleanup();
  });

  for (const stack of stackMatrix()) {
    it(`runs the tier, check and stats on schedule, one at a time, and Prometheus scrapes their metrics from the daemon (${stack.label})`, {
      skip: stack.skip,
    }, async () => {
      const dir = join(tmp.dir, `restic-${stack.restic.version}`);
      mkdirSync(dir);
      const repo = makeRepo(dir, 'e2e-pass', { restic: stack.restic.bin });
      const tree = makeSourceTree(join(dir, 'src'), { files: 23, bytes: 2048 });
      const stateDir = join(dir, 'state');
      const port = await freePort();
      const configFile = join(dir, 'resticprom.yaml');
      writeFileSync(
        configFile,
        config({
          stateDir,
          port,
          repository: repo.repository,
          passwordFile: repo.passwordFile,
          paths: [tree.dir],
          schedule: '*/3 * * * * *',
          gracePeriod: '30s',
          resticBinary: stack.restic.bin,
          profileExtra:
            '    forget-after-backup: true\n    check: { schedule: "*/3 * * * * *" }\n    stats: { schedule: "*/3 * * * * *" }\n',
          tierExtra: ', keep-last: 1',
        }),
        { mode: 0o600 },
      );
      daemon = await spawnDaemon(configFile, repo.env, port);
      started.push(daemon);
      prom = await startPrometheus({
        bin: stack.prometheus.bin,
        config: scrapeConfig([{ job: 'resticprom_daemon', target: `127.0.0.1:${port}` }]),
      });
      proms.push(prom);

      const all = await waitFor('two backups, a check and stats recorded', async () => {
        const { records } = await readHistory(stateDir);
        const count = (kind: string) => records.filter((r) => r.kind === kind).length;
        return count('backup') >= 2 && count('check') >= 1 && count('stats') >= 1 ? records : undefined;
      });
      const runs = all.filter((r) => r.kind === 'backup');
      // Every run on the repository (backup, its forget, check, stats) after the previous one ended.
      const byStart = [...all].sort((a, b) => a.startedAt - b.startedAt);
      for (const [i, r] of byStart.entries()) {
        const prev = byStart[i - 1];
        if (prev) assert.ok(r.startedAt >= prev.endedAt, `${prev.kind} and ${r.kind} overlap`);
      }
      for (const r of all.filter((x) => x.kind === 'check' || x.kind === 'stats')) {
        assert.deepEqual(
          [r.profile, r.tier, r.outcome, r.exitCode],
          ['e2e', undefined, 'success', 0],
          JSON.stringify(r),
        );
      }
      for (const r of runs) {
        assert.deepEqual(
          [r.profile, r.tier, r.outcome, r.exitCode],
          ['e2e', 'fast', 'success', 0],
          JSON.stringify(r),
        );
      }
      // Each run started in its own 3-second slot of the schedule (no double start).
      const slots = runs.map((r) => Math.floor(r.startedAt / 3000));
      assert.equal(new Set(slots).size, slots.length, JSON.stringify(runs.map((r) => r.startedAt)));
      assert.equal(
        (runs[0]?.summary as { totalFilesProcessed?: number } | undefined)?.totalFilesProcessed,
        23,
      );

      // No destination configured: the textfile fallback got the metrics too.
      const textfile = join(stateDir, 'metrics', 'e2e-fast.prom');
      // (The history records a run just before its delivery: wait for the file.)
      const prom1 = await waitFor('the textfile', () =>
        existsSync(textfile) ? readFileSync(textfile, 'utf8') : undefined,
      );
      assert.match(prom1, /^restic_backup_processed_files\{.*\} 23$/m);

      const found = await waitForQuery(
        prom.url,
        'restic_backup_processed_files{job="restic_backup"}',
        (r) => r.length === 1 && r[0]?.value[1] === '23',
      );
      assert.deepEqual(found[0]?.metric, {
        __name__: 'restic_backup_processed_files',
        job: 'restic_backup',
        instance: 'e2e-host',
        profile: 'e2e',
        tier: 'fast',
        ...(found[0]?.metric.host !== undefined ? { host: found[0].metric.host } : {}),
      });
      // check and stats from their own schedules, served with their own groups (tier = the command's name).
      const checkErrors = await waitForQuery(prom.url, 'restic_check_errors', (r) => r.length === 1);
      assert.equal(checkErrors[0]?.value[1], '0');
      assert.equal(checkErrors[0]?.metric.tier, 'check');
      const snapshots = await waitForQuery(
        prom.url,
        'restic_stats_tier_snapshots{tag="fast"}',
        (r) => r.length === 1 && Number(r[0]?.value[1]) >= 1,
      );
      assert.equal(snapshots[0]?.metric.tier, 'stats');
      const up = await waitForQuery(prom.url, 'resticprom_daemon_up', (r) => r.length === 1);
      assert.equal(up[0]?.metric.job, 'resticprom_daemon');
      const next = await waitForQuery(
        prom.url,
        'resticprom_next_run_timestamp_seconds',
        (r) => r.length === 1,
      );
      assert.equal(Number(next[0]?.value[1]) % 3, 0, 'the next run is on a 3-second boundary');

      const text = daemon.stderr();
      assert.match(text, /^backup e2e\/fast started \(scheduled\)$/m);
      assert.match(text, /^backup e2e\/fast succeeded in .*: 23 files \(23 new, 0 changed\)/m);
      // forget-after-backup ran in the same repository slot, after each backup; check no longer does.
      assert.match(text, /^backup e2e\/fast succeeded in .*; forget: .*$/m);
      assert.doesNotMatch(text, /; check/);
      assert.match(text, /^check e2e started \(scheduled\)$/m);
      assert.match(text, /^check e2e found no errors in /m);
      assert.match(
        text,
        /^stats e2e succeeded in .*: .* stored, .* restored, \d+ snapshot\(s\); metrics delivered to textfile /m,
      );
      const { records: forgets } = await readHistory(stateDir, { filter: (r) => r.kind === 'forget' });
      assert.ok(forgets.length >= 1);
      assert.deepEqual(
        [forgets[0]?.profile, forgets[0]?.tier, forgets[0]?.outcome],
        ['e2e', 'fast', 'success'],
      );
      assert.ok(
        (forgets[0]?.startedAt ?? 0) >= (runs[0]?.endedAt ?? Infinity),
        'forget starts after the backup ended',
      );
      assert.doesNotMatch(text, /e2e-pass/, 'the repository password never appears in the log');

      daemon.child.kill('SIGTERM');
      const { code } = await daemon.exit;
      assert.equal(code, 0, daemon.stderr());
      assert.match(daemon.stderr(), /daemon stopped\n$/);
      await prom.stop();
      prom = undefined;
    });
  }

  for (const variant of [
    {
      name: 'interrupts restic when the grace period is over',
      grace: '1s',
      delayMs: 1_500,
      outcome: 'interrupted',
    },
    { name: 'lets restic finish within the grace period', grace: '30s', delayMs: 200, outcome: 'success' },
  ]) {
    it(`on SIGTERM mid-backup ${variant.name}, records the run and exits 0`, async () => {
      const dir = join(tmp.dir, `sigterm-${variant.outcome}`);
      const stateDir = join(dir, 'state');
      const port = await freePort();
      const configFile = join(tmp.dir, `sigterm-${variant.outcome}.yaml`);
      writeFileSync(join(tmp.dir, 'fake-pass'), 'x\n', { mode: 0o600 });
      writeFileSync(
        configFile,
        config({
          stateDir,
          port,
          repository: join(dir, 'repo'),
          passwordFile: join(tmp.dir, 'fake-pass'),
          paths: [tmp.dir],
          schedule: '*/2 * * * * *',
          gracePeriod: variant.grace,
          resticBinary: FAKE_RESTIC,
        }),
        { mode: 0o600 },
      );
      const fx = resticFixture('0.14.0', 'backup-success');
      const env = fakeResticEnv(fx, { FAKE_RESTIC_DELAY_MS: String(variant.delayMs) });
      const d = await spawnDaemon(configFile, env, port);
      daemon = d;
      started.push(d);
      await waitFor('the backup to start', () =>
        /started \(scheduled\)/.test(d.stderr()) ? true : undefined,
      );
      // restic is replaying its lines now (the fake, a node script, has had time to set up its
      // signal handling even on a loaded machine).
      await sleep(1000);
      d.child.kill('SIGTERM');
      const { code } = await d.exit;
      assert.equal(code, 0, d.stderr());
      const { records } = await readHistory(stateDir);
      assert.deepEqual(
        records.map((r) => [r.kind, r.profile, r.tier, r.outcome]),
        [['backup', 'e2e', 'fast', variant.outcome]],
        d.stderr(),
      );
      const log = d.stderr();
      assert.match(log, /^SIGTERM received: stopping$/m);
      if (variant.outcome === 'interrupted') {
        assert.equal(records[0]?.exitCode, 130);
        assert.match(log, /^warning: grace period over: interrupting backup e2e\/fast$/m);
        assert.match(log, /^warning: backup e2e\/fast interrupted after /m);
      } else {
        assert.doesNotMatch(log, /grace period over/);
        assert.match(log, /^backup e2e\/fast succeeded in /m);
      }
      // The run's metrics were saved for /metrics, status included.
      const latest = JSON.parse(readFileSync(join(stateDir, 'latest', 'backup--e2e--fast.json'), 'utf8'));
      assert.match(
        latest.text,
        new RegExp(`^restic_backup_status\\{.*\\} ${variant.outcome === 'success' ? 2 : 0}$`, 'm'),
      );
      assert.match(log, /daemon stopped\n$/);
    });
  }
});
