import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Cron } from 'croner';
import { CLI, ensureBuilt, runCli } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/services.js';

const temps: Array<() => void> = [];
after(() => {
  for (const c of temps) c();
});

const TIERS: Array<[string, string, string]> = [
  ['sub-daily', '0 */4 * * *', '*-*-* 00/4:00:00 UTC'],
  ['daily', '30 1 * * *', '*-*-* 01:30:00 UTC'],
  ['weekly', '0 3 * * 0', 'Sun *-*-* 03:00:00 UTC'],
  ['monthly', '0 4 1 * *', '*-*-01 04:00:00 UTC'],
];

function setup(profileExtra = ''): { dir: string; config: string } {
  const t = makeTempDir('resticprom-cli-schedule-');
  temps.push(t.cleanup);
  const config = join(t.dir, 'resticprom.yaml');
  writeFileSync(
    config,
    `timezone: UTC
state-dir: ${join(t.dir, 'state')}
profiles:
  nfs:
    repository: /srv/repo
    password-file: /etc/resticprom/nfs.pass
    paths: [/srv/nfs]
${profileExtra}    tiers:
${TIERS.map(([t, s]) => `      ${t}: { schedule: "${s}" }`).join('\n')}
`,
    { mode: 0o600 },
  );
  return { dir: t.dir, config };
}

describe('resticprom schedule', () => {
  before(async () => {
    await ensureBuilt();
  });

  it('install --dir writes the units running this CLI; remove --dir deletes them', async () => {
    const { dir, config } = setup();
    const units = join(dir, 'units');
    const res = await runCli(['schedule', 'install', '--config', config, '--dir', units]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stderr, '');
    const names = [
      ...TIERS.flatMap(([t]) => [`resticprom-nfs-${t}.service`, `resticprom-nfs-${t}.timer`]),
      'resticprom-flush.service',
      'resticprom-flush.timer',
    ];
    const out = res.stdout.split('\n');
    assert.deepEqual(
      out.slice(0, 10),
      names.map((n) => `wrote ${join(units, n)}`),
    );
    assert.match(
      res.stdout,
      /\nnot activated; when the units are in place run: systemctl( --user)? daemon-reload/,
    );
    assert.deepEqual(readdirSync(units).sort(), [...names].sort());
    for (const [tier, , onCalendar] of TIERS) {
      const timer = readFileSync(join(units, `resticprom-nfs-${tier}.timer`), 'utf8');
      assert.match(
        timer,
        new RegExp(`\nOnCalendar=${onCalendar.replace(/[*/]/g, '\\$&')}\nPersistent=true\n`),
      );
      const service = readFileSync(join(units, `resticprom-nfs-${tier}.service`), 'utf8');
      assert.ok(
        service.includes(
          `\nExecStart=${process.execPath} ${CLI} backup --config ${config} --profile nfs --tier ${tier} --quiet\n`,
        ),
        service,
      );
    }
    const removed = await runCli(['schedule', 'remove', '--dir', units]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual(readdirSync(units), []);
    assert.equal(
      removed.stdout,
      `${names
        .sort()
        .map((n) => `removed ${join(units, n)}`)
        .join('\n')}\n`,
    );
  });

  it('install --cron --file twice keeps one block; remove restores the file', async () => {
    const { dir, config } = setup();
    const file = join(dir, 'crontab');
    writeFileSync(file, '*/5 * * * * /usr/local/bin/poll\n');
    for (let i = 0; i < 2; i++) {
      const res = await runCli(['schedule', 'install', '--config', config, '--cron', '--file', file]);
      assert.equal(res.code, 0, res.stderr);
    }
    const text = readFileSync(file, 'utf8');
    assert.equal(text.split('\n').filter((l) => l === '# BEGIN resticprom (managed)').length, 1);
    assert.ok(text.startsWith('*/5 * * * * /usr/local/bin/poll\n# BEGIN resticprom (managed)\n'));
    assert.ok(
      text.includes(
        `\n30 1 * * * ${process.execPath} ${CLI} backup --config ${config} --profile nfs --tier daily --quiet\n`,
      ),
    );
    const removed = await runCli(['schedule', 'remove', '--cron', '--file', file]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(readFileSync(file, 'utf8'), '*/5 * * * * /usr/local/bin/poll\n');
  });

  it('list --json gives each tier its schedule, OnCalendar and next run (croner, config time zone)', async () => {
    const { config } = setup();
    const before = new Date();
    const res = await runCli(['schedule', 'list', '--config', config, '--json']);
    const afterRun = new Date();
    assert.equal(res.code, 0, res.stderr);
    const entries = JSON.parse(res.stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(
      entries.map((e) => [e.profile, e.tier, e.schedule, e.onCalendar, e.timeZone]),
      TIERS.map(([t, s, c]) => ['nfs', t, s, [c], 'UTC']),
    );
    for (const [i, [, schedule]] of TIERS.entries()) {
      const cron = new Cron(schedule, { paused: true, timezone: 'UTC' });
      const candidates = [cron.nextRun(before)?.getTime(), cron.nextRun(afterRun)?.getTime()];
      assert.ok(candidates.includes(entries[i]?.nextRun as number), `${schedule}: ${entries[i]?.nextRun}`);
    }
    const table = await runCli(['schedule', 'list', '--config', config]);
    assert.equal(table.code, 0);
    assert.match(table.stdout, /^PROFILE {2}JOB {5}TIER {7}SCHEDULE {5}ONCALENDAR {14}NEXT RUN\n/);
    assert.match(
      table.stdout,
      /\nnfs {6}backup {2}weekly {5}0 3 \* \* 0 {4}Sun \*-\*-\* 03:00:00 UTC {2}\d{4}-\d\d-\d\d 03:00 UTC\n/,
    );
  });

  it('install, list and remove take in the scheduled check and stats', async () => {
    const { dir, config } = setup(
      '    check: { schedule: "0 5 * * 0" }\n    stats: { schedule: "15 * * * *" }\n',
    );
    const units = join(dir, 'units');
    const res = await runCli(['schedule', 'install', '--config', config, '--dir', units]);
    assert.equal(res.code, 0, res.stderr);
    const jobs = ['check', 'stats'];
    assert.deepEqual(
      res.stdout.split('\n').slice(8, 12),
      jobs.flatMap((j) => [
        `wrote ${join(units, `resticprom-nfs-${j}.service`)}`,
        `wrote ${join(units, `resticprom-nfs-${j}.timer`)}`,
      ]),
    );
    assert.match(
      res.stdout,
      / resticprom-nfs-monthly\.timer resticprom-nfs-check\.timer resticprom-nfs-stats\.timer resticprom-flush\.timer\n$/,
    );
    for (const j of jobs) {
      const service = readFileSync(join(units, `resticprom-nfs-${j}.service`), 'utf8');
      assert.ok(
        service.includes(
          `\nExecStart=${process.execPath} ${CLI} ${j} --config ${config} --profile nfs --quiet\n`,
        ),
        service,
      );
    }
    assert.match(
      readFileSync(join(units, 'resticprom-nfs-stats.timer'), 'utf8'),
      /\nOnCalendar=\*-\*-\* \*:15:00 UTC\nPersistent=true\n/,
    );

    const list = await runCli(['schedule', 'list', '--config', config, '--json']);
    assert.equal(list.code, 0, list.stderr);
    const entries = JSON.parse(list.stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(
      entries.map((e) => [e.job, e.tier ?? null, e.schedule, e.onCalendar]),
      [
        ...TIERS.map(([t, s, c]) => ['backup', t, s, [c]]),
        ['check', null, '0 5 * * 0', ['Sun *-*-* 05:00:00 UTC']],
        ['stats', null, '15 * * * *', ['*-*-* *:15:00 UTC']],
      ],
    );
    const table = await runCli(['schedule', 'list', '--config', config]);
    assert.match(
      table.stdout,
      /\nnfs {6}check {3}- {10}0 5 \* \* 0 {4}Sun \*-\*-\* 05:00:00 UTC {2}\d{4}-\d\d-\d\d 05:00 UTC\nnfs {6}stats {3}- {10}15 \* \* \* \* {3}\*-\*-\* \*:15:00 UTC {7}\d{4}-\d\d-\d\d \d\d:15 UTC\n$/,
    );

    const cron = join(dir, 'crontab');
    const viaCron = await runCli(['schedule', 'install', '--config', config, '--cron', '--file', cron]);
    assert.equal(viaCron.code, 0, viaCron.stderr);
    assert.ok(
      readFileSync(cron, 'utf8').includes(
        `\n# nfs check\n0 5 * * 0 ${process.execPath} ${CLI} check --config ${config} --profile nfs --quiet\n# nfs stats\n15 * * * * ${process.execPath} ${CLI} stats --config ${config} --profile nfs --quiet\n# deliver the metrics waiting in the outbox\n*/15 * * * * ${process.execPath} ${CLI} flush --config ${config} --quiet\n# END resticprom\n`,
      ),
    );

    const removed = await runCli(['schedule', 'remove', '--dir', units]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual(readdirSync(units), []);
  });

  it('rejects --user with --system, and --file without --cron (exit 2)', async () => {
    const { config } = setup();
    const both = await runCli(['schedule', 'install', '--config', config, '--user', '--system']);
    assert.equal(both.code, 2);
    assert.equal(both.stderr, 'resticprom: choose one of --user and --system\n');
    const file = await runCli(['schedule', 'remove', '--file', '/tmp/x']);
    assert.equal(file.code, 2);
    assert.equal(file.stderr, 'resticprom: --file goes with --cron; use --dir for systemd units\n');
  });
});
