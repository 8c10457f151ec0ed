/**
 * The daemon's scheduler with a stand-in job (no restic): one run at a time per
 * repository (backups, checks and stats alike), skipped overlaps, missed runs
 * after downtime, the grace period on stop, and config reloads.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type DaemonRunRequest, type StartDaemonOptions, startDaemon } from '../../src/schedule/daemon.js';
import { findMissedRun, previousScheduledRun } from '../../src/schedule/missed.js';
import { appendRun } from '../../src/state/history.js';
import { makeTempDir } from '../helpers/services.js';

const tmp = makeTempDir('resticprom-sched-');
after(() => tmp.cleanup());
let seq = 0;

interface TierSpec {
  profile: string;
  tier: string;
  repo: string;
  schedule: string;
}

function writeConfig(dir: string, tiers: TierSpec[], extra = ''): string {
  const byProfile = new Map<string, TierSpec[]>();
  for (const t of tiers) byProfile.set(t.profile, [...(byProfile.get(t.profile) ?? []), t]);
  let profiles = '';
  for (const [name, ts] of byProfile) {
    profiles += `  ${name}:
    repository: ${join(dir, ts[0]?.repo ?? 'repo')}
    password: not-used
    paths: [${dir}]
    tiers:
${ts.map((t) => `      ${t.tier}: { schedule: "${t.schedule}" }`).join('\n')}
`;
  }
  const file = join(dir, 'resticprom.yaml');
  writeFileSync(
    file,
    `state-dir: ${join(dir, 'state')}
timezone: UTC
daemon:
  listen: 127.0.0.1:0
${extra}profiles:
${profiles}`,
    { mode: 0o600 },
  );
  return file;
}

function newDir(): string {
  const dir = join(tmp.dir, String(++seq));
  mkdirSync(join(dir, 'state'), { recursive: true, mode: 0o700 });
  return dir;
}

function recorder() {
  const lines: string[] = [];
  const add = (level: string) => (msg: string) => lines.push(`${level}: ${msg}`);
  return { lines, info: add('info'), warn: add('warn'), error: add('error') };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await sleep(25);
  }
}

function start(opts: Omit<StartDaemonOptions, 'log'> & { log?: ReturnType<typeof recorder> }) {
  const log = opts.log ?? recorder();
  return { log, daemon: startDaemon({ ...opts, log }) };
}

describe('daemon scheduler', () => {
  it('runs tiers on their schedule, one run at a time per repository, and skips a tier still running', async () => {
    const dir = newDir();
    const configFile = writeConfig(dir, [
      { profile: 'a', tier: 'fast', repo: 'shared', schedule: '* * * * * *' },
      { profile: 'b', tier: 'fast', repo: 'shared', schedule: '* * * * * *' },
      { profile: 'c', tier: 'fast', repo: 'other', schedule: '* * * * * *' },
    ]);
    const active = new Map<string, number>();
    let maxShared = 0;
    let maxTotal = 0;
    const started: { profile: string; trigger: string }[] = [];
    const { log, daemon: pending } = start({
      configFile,
      runJob: async (req: DaemonRunRequest) => {
        const repo = req.profile === 'c' ? 'other' : 'shared';
        started.push({ profile: req.profile, trigger: req.trigger });
        active.set(repo, (active.get(repo) ?? 0) + 1);
        maxShared = Math.max(maxShared, active.get('shared') ?? 0);
        maxTotal = Math.max(
          maxTotal,
          [...active.values()].reduce((x, y) => x + y, 0),
        );
        await sleep(1_300);
        active.set(repo, (active.get(repo) ?? 0) - 1);
        return { outcome: 'success', message: 'succeeded' };
      },
    });
    const daemon = await pending;
    try {
      await waitFor(() => started.filter((s) => s.profile !== 'c').length >= 3);
      const metrics = await (await fetch(`${daemon.url}/metrics`)).text();
      assert.equal(maxShared, 1, 'never two runs on the shared repository at once');
      assert.equal(maxTotal, 2, 'the other repository runs beside it');
      assert.ok(
        started.every((s) => s.trigger === 'schedule'),
        JSON.stringify(started),
      );
      // Every second a tick comes while the tier is queued or running: skipped, counted, logged.
      const skips = log.lines.filter((l) =>
        /^warn: backup [abc]\/fast skipped: the previous run of this tier has not finished$/.test(l),
      );
      assert.ok(skips.length >= 1, log.lines.join('\n'));
      const counted = [
        ...metrics.matchAll(/^resticprom_daemon_skipped_runs_total\{profile="(\w)",tier="fast"\} (\d+)$/gm),
      ];
      assert.equal(counted.length, 3);
      assert.ok(counted.some((m) => Number(m[2]) >= 1));
      assert.match(
        log.lines.join('\n'),
        /info: backup [ab]\/fast waits: backup [ab]\/fast is running on the same repository/,
      );
      assert.match(log.lines.join('\n'), /^info: backup a\/fast started \(scheduled\)$/m);
      assert.match(log.lines.join('\n'), /^info: backup a\/fast succeeded$/m);
    } finally {
      await daemon.stop(5_000);
    }
  });

  it('runs check and stats on their schedules through the same per-repository queue as backups', async () => {
    const dir = newDir();
    const configFile = join(dir, 'resticprom.yaml');
    const profile = (name: string, extra: string, tiers: string) => `  ${name}:
    repository: ${join(dir, 'shared')}
    password: not-used
    paths: [${dir}]
${extra}    tiers:
${tiers}`;
    writeFileSync(
      configFile,
      `state-dir: ${join(dir, 'state')}
timezone: UTC
daemon:
  listen: 127.0.0.1:0
profiles:
${profile('a', '    check: { schedule: "* * * * * *", read-data-subset: 5% }\n    stats: { schedule: "* * * * * *" }\n', '      fast: { schedule: "* * * * * *" }\n')}${profile('b', '    stats: { schedule: "* * * * * *" }\n', '      slow: { schedule: "0 3 * * *" }\n')}`,
      { mode: 0o600 },
    );
    let running = 0;
    let maxRunning = 0;
    const requests: { job: string; profile: string; tier: string | undefined; trigger: string }[] = [];
    const { log, daemon: pending } = start({
      configFile,
      runJob: async (req) => {
        requests.push({ job: req.job, profile: req.profile, tier: req.tier, trigger: req.trigger });
        running++;
        maxRunning = Math.max(maxRunning, running);
        await sleep(150);
        running--;
        return { outcome: 'success', message: req.job === 'check' ? 'found no errors' : 'succeeded' };
      },
    });
    const daemon = await pending;
    try {
      const seen = () => new Set(requests.map((r) => `${r.job} ${r.profile} ${r.tier}`));
      await waitFor(() => seen().size >= 4 && requests.length >= 8);
      const metrics = await (await fetch(`${daemon.url}/metrics`)).text();
      assert.deepEqual([...seen()].sort(), [
        'backup a fast',
        'check a undefined',
        'stats a undefined',
        'stats b undefined',
      ]);
      assert.equal(maxRunning, 1, 'one repository: never two runs at once, whatever their kind');
      assert.ok(requests.every((r) => r.trigger === 'schedule'));
      const text = log.lines.join('\n');
      assert.match(
        log.lines[1] ?? '',
        /^info: 2 tier\(s\), 1 check\(s\), 2 stats run\(s\) scheduled in UTC: a\/fast next \S+, check a next \S+, stats a next \S+, b\/slow next \S+, stats b next \S+$/,
      );
      assert.match(text, /^info: check a started \(scheduled\)$/m);
      assert.match(text, /^info: check a found no errors$/m);
      assert.match(text, /^info: stats b succeeded$/m);
      assert.match(
        text,
        /^info: (check a|stats [ab]|backup a\/fast) waits: (check a|stats [ab]|backup a\/fast) is running on the same repository$/m,
      );
      assert.ok(requests.filter((r) => r.job !== 'backup').every((r) => r.tier === undefined));
      // The daemon's per-tier series stay per tier: no check or stats series.
      assert.deepEqual(
        [...metrics.matchAll(/^resticprom_next_run_timestamp_seconds\{profile="(\w)",tier="(\w+)"\}/gm)].map(
          (m) => `${m[1]}/${m[2]}`,
        ),
        ['a/fast', 'b/slow'],
      );
    } finally {
      await daemon.stop(5_000);
    }
  });

  it('skips a check still queued, and drops a queued check whose schedule a reload removed', async () => {
    const dir = newDir();
    const configFile = join(dir, 'resticprom.yaml');
    const yaml = (check: string) => `state-dir: ${join(dir, 'state')}
timezone: UTC
daemon:
  listen: 127.0.0.1:0
profiles:
  a:
    repository: ${join(dir, 'repo')}
    password: not-used
    paths: [${dir}]
${check}    tiers:
      t: { schedule: "* * * * * *" }
`;
    writeFileSync(configFile, yaml('    check: { schedule: "* * * * * *" }\n'), { mode: 0o600 });
    let releaseBackup: () => void = () => {};
    const jobs: string[] = [];
    const { log, daemon: pending } = start({
      configFile,
      runJob: async (req) => {
        jobs.push(req.job);
        if (req.job === 'check') return { outcome: 'success', message: 'found no errors' };
        // The backup runs until released, like a long restic backup.
        return new Promise((resolve) => {
          releaseBackup = () => resolve({ outcome: 'success', message: 'succeeded' });
        });
      },
    });
    const daemon = await pending;
    try {
      await waitFor(() =>
        log.lines.includes('warn: check a skipped: the previous check run of this profile has not finished'),
      );
      assert.ok(
        log.lines.includes('info: check a waits: backup a/t is running on the same repository'),
        log.lines.join('\n'),
      );
      writeFileSync(configFile, yaml(''), { mode: 0o600 });
      assert.equal(await daemon.reload(), true);
      assert.match(log.lines.at(-1) ?? '', /: 1 tier\(s\) scheduled$/);
      const checks = jobs.filter((j) => j === 'check').length;
      releaseBackup();
      await waitFor(() => log.lines.includes('warn: check a dropped: no longer in the configuration'));
      await sleep(1_200);
      assert.equal(
        jobs.filter((j) => j === 'check').length,
        checks,
        'no check after its schedule was removed',
      );
    } finally {
      releaseBackup();
      await daemon.stop(0);
    }
  });

  it('runs a tier once at start when it missed a scheduled run while the daemon was down', async () => {
    const dir = newDir();
    const configFile = writeConfig(dir, [
      { profile: 'nfs', tier: 'daily', repo: 'r1', schedule: '0 3 * * *' },
      { profile: 'nfs', tier: 'weekly', repo: 'r1', schedule: '0 4 * * 0' },
      { profile: 'web', tier: 'daily', repo: 'r2', schedule: '0 3 * * *' },
    ]);
    const now = Date.now();
    const prevDaily = previousScheduledRun('0 3 * * *', now, 'UTC') ?? 0;
    const base = { v: 1 as const, kind: 'backup' as const, job: 'restic_backup', exitCode: 0 };
    // nfs/daily last ran before the last 03:00: missed. nfs/weekly ran after its last slot: not missed.
    await appendRun(join(dir, 'state'), {
      ...base,
      id: 'x1',
      profile: 'nfs',
      tier: 'daily',
      startedAt: prevDaily - 3_600_000,
      endedAt: prevDaily - 3_500_000,
      outcome: 'failed',
    });
    const prevWeekly = previousScheduledRun('0 4 * * 0', now, 'UTC') ?? 0;
    await appendRun(join(dir, 'state'), {
      ...base,
      id: 'x2',
      profile: 'nfs',
      tier: 'weekly',
      startedAt: prevWeekly + 1_000,
      endedAt: prevWeekly + 2_000,
      outcome: 'success',
    });
    // web/daily never ran: nothing to catch up.
    const started: string[] = [];
    const { log, daemon: pending } = start({
      configFile,
      runJob: async (req) => {
        started.push(`${req.profile}/${req.tier}/${req.trigger}`);
        return { outcome: 'success', message: 'succeeded' };
      },
    });
    const daemon = await pending;
    await waitFor(() => started.length >= 1);
    await sleep(200);
    await daemon.stop(1_000);
    assert.deepEqual(started, ['nfs/daily/missed']);
    assert.ok(
      log.lines.includes(
        `info: backup nfs/daily missed its run of ${new Date(prevDaily).toISOString()}; running it now`,
      ),
      log.lines.join('\n'),
    );

    // With run-missed: false nothing runs at start.
    writeConfig(
      dir,
      [{ profile: 'nfs', tier: 'daily', repo: 'r1', schedule: '0 3 * * *' }],
      '  run-missed: false\n',
    );
    started.length = 0;
    const again = await startDaemon({
      configFile,
      log: recorder(),
      runJob: async (req) => {
        started.push(`${req.job} ${req.tier}`);
        return { outcome: 'success', message: '' };
      },
    });
    await sleep(300);
    await again.stop(0);
    assert.deepEqual(started, []);
  });

  it('finds missed runs by the schedule and the last run', () => {
    const at = Date.UTC(2024, 5, 15, 12);
    const slot = Date.UTC(2024, 5, 15, 3);
    assert.equal(
      findMissedRun({ schedule: '0 3 * * *', timezone: 'UTC', lastRunAt: slot - 1, now: at }),
      slot,
    );
    assert.equal(
      findMissedRun({ schedule: '0 3 * * *', timezone: 'UTC', lastRunAt: slot, now: at }),
      undefined,
    );
    assert.equal(
      findMissedRun({ schedule: '0 3 * * *', timezone: 'UTC', lastRunAt: undefined, now: at }),
      undefined,
    );
    // In Berlin (UTC+2 in June) 03:00 is 01:00 UTC.
    assert.equal(
      findMissedRun({
        schedule: '0 3 * * *',
        timezone: 'Europe/Berlin',
        lastRunAt: slot - 3 * 3_600_000,
        now: at,
      }),
      Date.UTC(2024, 5, 15, 1),
    );
    // Six fields: a leading seconds field.
    assert.equal(previousScheduledRun('*/20 * * * * *', at + 25_000, 'UTC'), at + 20_000);
  });

  it('on stop lets a run finish within the grace period, interrupts it after, and drops queued runs', async () => {
    const dir = newDir();
    const configFile = writeConfig(dir, [
      { profile: 'a', tier: 't', repo: 'shared', schedule: '* * * * * *' },
      { profile: 'b', tier: 't', repo: 'shared', schedule: '* * * * * *' },
    ]);
    const seen: { profile: string; aborted: boolean; reason: unknown }[] = [];
    const { log, daemon: pending } = start({
      configFile,
      runJob: (req) =>
        new Promise((resolve) => {
          // Runs until interrupted, like a long restic backup.
          req.signal.addEventListener('abort', () => {
            seen.push({ profile: req.profile, aborted: true, reason: req.signal.reason });
            resolve({ outcome: 'interrupted', message: 'interrupted after 1s' });
          });
        }),
    });
    const daemon = await pending;
    await waitFor(() => log.lines.some((l) => / started \(scheduled\)$/.test(l)));
    await waitFor(() => log.lines.some((l) => / waits: /.test(l)));
    await daemon.stop(300);
    assert.equal(seen.length, 1, 'only the running one was started, and it was interrupted');
    assert.equal(seen[0]?.reason, 'SIGINT');
    const text = log.lines.join('\n');
    assert.match(text, /^info: backup [ab]\/t dropped: the daemon is stopping$/m);
    assert.match(text, /^info: stopping: waiting up to 300ms for backup [ab]\/t to finish$/m);
    assert.match(text, /^warn: grace period over: interrupting backup [ab]\/t$/m);
    assert.match(text, /^warn: backup [ab]\/t interrupted after 1s$/m);
    assert.match(text, /^info: daemon stopped$/m);
    await assert.rejects(fetch(`${daemon.url}/healthz`), 'the server is closed');
  });

  it('a run that ends within the grace period is not interrupted', async () => {
    const dir = newDir();
    const configFile = writeConfig(dir, [{ profile: 'a', tier: 't', repo: 'r', schedule: '* * * * * *' }]);
    let wasAborted: boolean | undefined;
    const { log, daemon: pending } = start({
      configFile,
      runJob: async (req) => {
        await sleep(400);
        wasAborted = req.signal.aborted;
        return { outcome: 'success', message: 'succeeded' };
      },
    });
    const daemon = await pending;
    await waitFor(() => log.lines.some((l) => / started /.test(l)));
    await daemon.stop(10_000);
    assert.equal(wasAborted, false);
    assert.doesNotMatch(log.lines.join('\n'), /grace period over/);
  });

  it('reloads a good config and keeps the old one on a bad config, with one clear line', async () => {
    const dir = newDir();
    const configFile = writeConfig(dir, [{ profile: 'a', tier: 't', repo: 'r', schedule: '0 3 * * *' }]);
    const { log, daemon: pending } = start({
      configFile,
      runJob: async () => ({ outcome: 'success', message: '' }),
    });
    const daemon = await pending;
    try {
      const tiers = async () => (await daemon.status()).tiers.map((t) => `${t.profile}/${t.tier}`);
      assert.deepEqual(await tiers(), ['a/t']);

      writeConfig(dir, [
        { profile: 'a', tier: 't', repo: 'r', schedule: '0 3 * * *' },
        { profile: 'a', tier: 'u', repo: 'r', schedule: '0 4 * * *' },
      ]);
      assert.equal(await daemon.reload(), true);
      assert.deepEqual(await tiers(), ['a/t', 'a/u']);
      assert.match(
        log.lines.at(-1) ?? '',
        /^info: configuration reloaded from .*resticprom\.yaml: 2 tier\(s\) scheduled$/,
      );

      writeFileSync(configFile, 'profiles:\n  a:\n    tiers: 7\n');
      const before = log.lines.length;
      assert.equal(await daemon.reload(), false);
      const added = log.lines.slice(before);
      assert.equal(added.length, 1);
      assert.match(
        added[0] ?? '',
        /^error: configuration reload failed, keeping the previous configuration: .*resticprom\.yaml/,
      );
      assert.doesNotMatch(added[0] ?? '', /\n/);
      assert.deepEqual(await tiers(), ['a/t', 'a/u']);
      const metrics = await (await fetch(`${daemon.url}/metrics`)).text();
      assert.match(metrics, /^resticprom_daemon_config_last_reload_successful 0$/m);
      assert.match(metrics, /^resticprom_next_run_timestamp_seconds\{profile="a",tier="u"\} \d+$/m);
    } finally {
      await daemon.stop(0);
    }
  });
});
