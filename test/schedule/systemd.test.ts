import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/index.js';
import type { Config } from '../../src/config/types.js';
import { installSchedule, removeSchedule } from '../../src/schedule/install.js';
import { planSchedule } from '../../src/schedule/plan.js';
import {
  quoteExecArg,
  renderSystemdUnits,
  SERVICE_HARDENING,
  SYSTEMD_MARKER,
} from '../../src/schedule/systemd.js';
import { makeTempDir } from '../helpers/services.js';

const temps: Array<() => void> = [];
after(() => {
  for (const c of temps) c();
});
function temp(): string {
  const t = makeTempDir('resticprom-systemd-');
  temps.push(t.cleanup);
  return t.dir;
}

const SEED_YAML = `
timezone: UTC
profiles:
  nfs:
    repository: /srv/repo
    password-file: /etc/resticprom/nfs.pass
    paths: [/srv/nfs]
    nice: 10
    tiers:
      sub-daily: { schedule: "0 */4 * * *" }
      daily: { schedule: "30 1 * * *" }
      weekly: { schedule: "0 3 * * 0" }
      monthly: { schedule: "0 4 1 * *" }
`;

function seedConfig(yaml = SEED_YAML): Config {
  return parseConfigText(yaml, { file: '/etc/resticprom/resticprom.yaml', env: {} }).config;
}

/** A real executable script for ExecStart (systemd-analyze verify checks it exists). */
function fakeCli(dir: string): string {
  const path = join(dir, 'resticprom.js');
  writeFileSync(path, '#!/usr/bin/env node\n');
  chmodSync(path, 0o755);
  return path;
}

/** What every system service has after its exit statuses: restic's cache and the sandbox. */
const SYSTEM_SERVICE_LINES = [
  'CacheDirectory=resticprom',
  'Environment=RESTIC_CACHE_DIR=%C/resticprom',
  ...SERVICE_HARDENING,
]
  .map((l) => `${l}\n`)
  .join('');

const FLUSH_UNITS = ['resticprom-flush.service', 'resticprom-flush.timer'];

describe('systemd units', () => {
  it('renders the service and timer of a tier exactly', () => {
    const [entry] = planSchedule(seedConfig(), { now: Date.UTC(2024, 0, 1) }).filter(
      (e) => e.tier === 'weekly',
    );
    assert.ok(entry);
    const units = renderSystemdUnits(entry, {
      command: ['/usr/bin/node', '/opt/resticprom/dist/bin/resticprom.js'],
      configFile: '/etc/resticprom/resticprom.yaml',
    });
    assert.deepEqual(units, [
      {
        name: 'resticprom-nfs-weekly.service',
        content: `${SYSTEMD_MARKER}
[Unit]
Description=resticprom backup nfs/weekly
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=/usr/bin/node /opt/resticprom/dist/bin/resticprom.js backup --config /etc/resticprom/resticprom.yaml --profile nfs --tier weekly --quiet
SuccessExitStatus=3 75
${SYSTEM_SERVICE_LINES}`,
      },
      {
        name: 'resticprom-nfs-weekly.timer',
        content: `${SYSTEMD_MARKER}
[Unit]
Description=resticprom backup nfs/weekly at "0 3 * * 0" (UTC)

[Timer]
OnCalendar=Sun *-*-* 03:00:00 UTC
Persistent=true

[Install]
WantedBy=timers.target
`,
      },
    ]);
  });

  it('renders the service and timer of the check and of stats exactly', () => {
    const yaml = `${SEED_YAML}    check: { schedule: "0 5 * * 0", read-data-subset: 5% }\n    stats: { schedule: "15 * * * *" }\n`;
    const entries = planSchedule(seedConfig(yaml), { now: Date.UTC(2024, 0, 1) });
    assert.deepEqual(
      entries.map((e) => [e.job, e.tier, e.schedule]),
      [
        ['backup', 'sub-daily', '0 */4 * * *'],
        ['backup', 'daily', '30 1 * * *'],
        ['backup', 'weekly', '0 3 * * 0'],
        ['backup', 'monthly', '0 4 1 * *'],
        ['check', undefined, '0 5 * * 0'],
        ['stats', undefined, '15 * * * *'],
      ],
    );
    const options = {
      command: ['/usr/bin/node', '/opt/resticprom/dist/bin/resticprom.js'],
      configFile: '/etc/resticprom/resticprom.yaml',
    };
    const units = entries.slice(4).flatMap((e) => renderSystemdUnits(e, options));
    assert.deepEqual(units, [
      {
        name: 'resticprom-nfs-check.service',
        content: `${SYSTEMD_MARKER}
[Unit]
Description=resticprom check nfs
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=/usr/bin/node /opt/resticprom/dist/bin/resticprom.js check --config /etc/resticprom/resticprom.yaml --profile nfs --quiet
SuccessExitStatus=75
${SYSTEM_SERVICE_LINES}`,
      },
      {
        name: 'resticprom-nfs-check.timer',
        content: `${SYSTEMD_MARKER}
[Unit]
Description=resticprom check nfs at "0 5 * * 0" (UTC)

[Timer]
OnCalendar=Sun *-*-* 05:00:00 UTC
Persistent=true

[Install]
WantedBy=timers.target
`,
      },
      {
        name: 'resticprom-nfs-stats.service',
        content: `${SYSTEMD_MARKER}
[Unit]
Description=resticprom stats nfs
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=/usr/bin/node /opt/resticprom/dist/bin/resticprom.js stats --config /etc/resticprom/resticprom.yaml --profile nfs --quiet
SuccessExitStatus=75
${SYSTEM_SERVICE_LINES}`,
      },
      {
        name: 'resticprom-nfs-stats.timer',
        content: `${SYSTEMD_MARKER}
[Unit]
Description=resticprom stats nfs at "15 * * * *" (UTC)

[Timer]
OnCalendar=*-*-* *:15:00 UTC
Persistent=true

[Install]
WantedBy=timers.target
`,
      },
    ]);
  });

  it('installs check and stats units beside the tiers, verified; a reinstall without them removes them', async () => {
    const dir = temp();
    const units = join(dir, 'units');
    const cli = fakeCli(dir);
    const yaml = `${SEED_YAML}    check: { schedule: "0 5 * * 0" }\n    stats: { schedule: "15 * * * *" }\n`;
    const backend = { kind: 'systemd' as const, scope: 'system' as const, dir: units };
    const opts = { configFile: '/etc/resticprom/resticprom.yaml', command: [process.execPath, cli], backend };
    const change = await installSchedule({ ...opts, config: seedConfig(yaml) });
    const names = [
      ...['sub-daily', 'daily', 'weekly', 'monthly', 'check', 'stats'].flatMap((t) => [
        `resticprom-nfs-${t}.service`,
        `resticprom-nfs-${t}.timer`,
      ]),
      ...FLUSH_UNITS,
    ];
    assert.deepEqual(
      change.written,
      names.map((n) => join(units, n)),
    );
    const verify = spawnSync('systemd-analyze', ['verify', '--man=no', ...names.map((n) => join(units, n))], {
      encoding: 'utf8',
      env: { ...process.env, SYSTEMD_COLORS: '0' },
    });
    assert.equal(verify.status, 0, verify.stderr);
    assert.equal(verify.stderr, '');
    // A check block without a schedule: check runs by hand only, its units go.
    const noSchedule = `${SEED_YAML}    check: { read-data-subset: 5% }\n`;
    const again = await installSchedule({ ...opts, config: seedConfig(noSchedule) });
    assert.deepEqual(
      again.removed,
      ['check', 'stats'].flatMap((j) => [
        join(units, `resticprom-nfs-${j}.service`),
        join(units, `resticprom-nfs-${j}.timer`),
      ]),
    );
    assert.equal(readdirSync(units).length, 10);
  });

  it("installs the seed's four tiers; systemd-analyze verify accepts them", async () => {
    const dir = temp();
    const units = join(dir, 'units');
    const cli = fakeCli(dir);
    const change = await installSchedule({
      config: seedConfig(),
      configFile: '/etc/resticprom/resticprom.yaml',
      command: [process.execPath, cli],
      backend: { kind: 'systemd', scope: 'system', dir: units },
    });
    const names = [
      ...['sub-daily', 'daily', 'weekly', 'monthly'].flatMap((t) => [
        `resticprom-nfs-${t}.service`,
        `resticprom-nfs-${t}.timer`,
      ]),
      ...FLUSH_UNITS,
    ];
    assert.deepEqual(
      change.written,
      names.map((n) => join(units, n)),
    );
    assert.deepEqual(change.removed, []);
    assert.deepEqual(change.commands, []);
    const onCalendar = (tier: string) =>
      readFileSync(join(units, `resticprom-nfs-${tier}.timer`), 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('OnCalendar='));
    assert.deepEqual(onCalendar('sub-daily'), ['OnCalendar=*-*-* 00/4:00:00 UTC']);
    assert.deepEqual(onCalendar('daily'), ['OnCalendar=*-*-* 01:30:00 UTC']);
    assert.deepEqual(onCalendar('weekly'), ['OnCalendar=Sun *-*-* 03:00:00 UTC']);
    assert.deepEqual(onCalendar('monthly'), ['OnCalendar=*-*-01 04:00:00 UTC']);
    const service = readFileSync(join(units, 'resticprom-nfs-daily.service'), 'utf8');
    assert.match(
      service,
      new RegExp(
        `\nExecStart=${process.execPath} ${cli} backup --config /etc/resticprom/resticprom.yaml --profile nfs --tier daily --quiet\n`,
      ),
    );
    assert.doesNotMatch(service, /pass/i);

    const verify = spawnSync('systemd-analyze', ['verify', '--man=no', ...names.map((n) => join(units, n))], {
      encoding: 'utf8',
      env: { ...process.env, SYSTEMD_COLORS: '0' },
    });
    assert.equal(verify.status, 0, verify.stderr);
    // verify exits 0 even for bad lines ("Failed to parse ..., ignoring"): stderr must be empty.
    assert.equal(verify.stderr, '');
  });

  it('verify would notice a broken OnCalendar (the check above can fail)', () => {
    const dir = temp();
    const file = join(dir, 'resticprom-x-y.timer');
    writeFileSync(file, '[Timer]\nOnCalendar=Sunx *-*-* 3:00\n[Install]\nWantedBy=timers.target\n');
    writeFileSync(
      join(dir, 'resticprom-x-y.service'),
      `[Service]\nType=oneshot\nExecStart=${process.execPath}\n`,
    );
    const verify = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8' });
    assert.match(verify.stderr, /Failed to parse calendar specification/);
  });

  it('reinstall replaces its own units, removes tiers no longer configured, and refuses foreign files', async () => {
    const dir = temp();
    const units = join(dir, 'units');
    const backend = { kind: 'systemd' as const, scope: 'user' as const, dir: units };
    const opts = { configFile: '/c.yaml', command: ['/usr/bin/resticprom'], backend };
    await installSchedule({ ...opts, config: seedConfig() });
    const twoTiers = SEED_YAML.replace(/ {6}weekly.*\n/, '').replace(/ {6}monthly.*\n/, '');
    const change = await installSchedule({ ...opts, config: seedConfig(twoTiers) });
    assert.deepEqual(change.removed, [
      join(units, 'resticprom-nfs-monthly.service'),
      join(units, 'resticprom-nfs-monthly.timer'),
      join(units, 'resticprom-nfs-weekly.service'),
      join(units, 'resticprom-nfs-weekly.timer'),
    ]);
    assert.deepEqual(readdirSync(units).sort(), [
      ...FLUSH_UNITS,
      'resticprom-nfs-daily.service',
      'resticprom-nfs-daily.timer',
      'resticprom-nfs-sub-daily.service',
      'resticprom-nfs-sub-daily.timer',
    ]);
    // User units have no network-online dependency (the user manager has no such target).
    assert.doesNotMatch(readFileSync(join(units, 'resticprom-nfs-daily.service'), 'utf8'), /network-online/);

    writeFileSync(join(units, 'resticprom-nfs-daily.timer'), '[Timer]\nOnCalendar=daily\n');
    await assert.rejects(installSchedule({ ...opts, config: seedConfig(twoTiers) }), {
      name: 'UsageError',
      message: `${join(units, 'resticprom-nfs-daily.timer')} exists and was not written by resticprom; move it away first`,
    });
  });

  it('remove deletes exactly the marked units and leaves every other file', async () => {
    const dir = temp();
    const units = join(dir, 'units');
    const backend = { kind: 'systemd' as const, scope: 'system' as const, dir: units };
    await installSchedule({
      config: seedConfig(),
      configFile: '/c.yaml',
      command: ['/usr/bin/resticprom'],
      backend,
    });
    writeFileSync(join(units, 'other.service'), '[Service]\nExecStart=/bin/true\n');
    writeFileSync(join(units, 'resticprom-mine.service'), '[Service]\nExecStart=/bin/true\n');
    const change = await removeSchedule(backend);
    assert.equal(change.removed.length, 10);
    assert.deepEqual(readdirSync(units).sort(), ['other.service', 'resticprom-mine.service']);
    const again = await removeSchedule(backend);
    assert.deepEqual(again.removed, []);
    assert.equal(existsSync(join(units, 'other.service')), true);
  });

  it('runs systemctl to activate and deactivate when asked', async () => {
    const dir = temp();
    const log = join(dir, 'systemctl.log');
    const systemctl = join(dir, 'systemctl');
    // systemctl cannot drive a service manager in this container: a script records the calls.
    writeFileSync(systemctl, `#!/bin/sh\necho "$@" >> ${log}\n`);
    chmodSync(systemctl, 0o755);
    const backend = {
      kind: 'systemd' as const,
      scope: 'user' as const,
      dir: join(dir, 'units'),
      activate: 'user' as const,
      systemctl,
      runDir: dir, // stands for /run/systemd/system: systemd "runs"
    };
    const yaml = SEED_YAML.replace(/ {6}(weekly|monthly|sub-daily).*\n/g, '');
    await installSchedule({ config: seedConfig(yaml), configFile: '/c.yaml', command: ['/x'], backend });
    await removeSchedule(backend);
    assert.equal(
      readFileSync(log, 'utf8'),
      [
        '--user daemon-reload',
        '--user enable --now resticprom-nfs-daily.timer resticprom-flush.timer',
        '--user disable --now resticprom-flush.timer resticprom-nfs-daily.timer',
        '--user daemon-reload',
        '',
      ].join('\n'),
    );
  });

  it('quotes ExecStart arguments', () => {
    assert.equal(quoteExecArg('/usr/bin/node'), '/usr/bin/node');
    assert.equal(quoteExecArg('/opt/my app/cli.js'), '"/opt/my app/cli.js"');
    assert.equal(quoteExecArg('50%'), '50%%');
    assert.equal(quoteExecArg('a"b\\c $X'), '"a\\"b\\\\c $$X"');
  });
});
