import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { generateRules, SEED_RULES_OPTIONS } from '../../src/deploy/rules.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/services.js';

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
}

function rulesOf(text: string): Rule[] {
  return (parse(text) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
}

const CONFIG = `profiles:
  nfs:
    repository: /srv/restic-repo
    password-file: /etc/resticprom/nfs.pass
    paths: [/srv/nfs]
    tiers:
      sub-daily: { schedule: "0 */4 * * *", keep-last: 12 }
      daily:     { schedule: "30 1 * * *",  keep-last: 7 }
      weekly:    { schedule: "0 3 * * 0",   keep-last: 5 }
      monthly:   { schedule: "0 4 1 * *",   keep-last: 12, max-age: 40d }
    metrics:
      job: nfs_backup
      grouping: { instance: "{tier}" }
  media:
    repository: /srv/media-repo
    password-file: /etc/resticprom/media.pass
    paths: [/srv/media]
    tiers:
      hourly: { schedule: "0 * * * *", max-age: 90s }
`;

describe('resticprom rules', () => {
  const tmp = makeTempDir('resticprom-rules-cli-');
  const configFile = join(tmp.dir, 'resticprom.yaml');
  before(async () => {
    writeFileSync(configFile, CONFIG, { mode: 0o600 });
    await ensureBuilt();
  });
  after(() => tmp.cleanup());

  it("takes each tier's max age, job and grouping from the config", async () => {
    const r = await runCli(['rules', '--config', configFile, '--for', '0s']);
    assert.equal(r.code, 0, r.stderr);
    const rules = rulesOf(r.stdout);
    assert.equal(
      rules.find((x) => x.alert === 'ResticBackupLate')?.expr,
      [
        'restic:backup_last_success_age_seconds{job="nfs_backup",profile="nfs",tier="sub-daily"} > 21600',
        'restic:backup_last_success_age_seconds{job="nfs_backup",profile="nfs",tier="daily"} > 93600',
        'restic:backup_last_success_age_seconds{job="nfs_backup",profile="nfs",tier="weekly"} > 691200',
        'restic:backup_last_success_age_seconds{job="nfs_backup",profile="nfs",tier="monthly"} > 3456000',
        'restic:backup_last_success_age_seconds{job="restic_backup",profile="media",tier="hourly"} > 90',
      ].join('\nor\n'),
    );
    // The default grouping (instance={hostname}, profile, tier) matches any host.
    assert.deepEqual(
      rules.filter((x) => x.alert === 'ResticMetricsPushesStopped').map((x) => x.expr),
      [
        'time() - push_time_seconds{job="nfs_backup",instance="sub-daily"} > 21600',
        'time() - push_time_seconds{job="nfs_backup",instance="daily"} > 93600',
        'time() - push_time_seconds{job="nfs_backup",instance="weekly"} > 691200',
        'time() - push_time_seconds{job="nfs_backup",instance="monthly"} > 3456000',
        'time() - push_time_seconds{job="restic_backup",instance=~".+",profile="media",tier="hourly"} > 90',
      ],
    );
    assert.equal(rules.find((x) => x.alert === 'ResticBackupFailed')?.for, '0s');
    const file = join(tmp.dir, 'from-stdout.yml');
    writeFileSync(file, r.stdout);
    const check = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
  });

  it('writes --out atomically, readable by Prometheus, nothing on stdout', async () => {
    const out = join(tmp.dir, 'rules.yml');
    const r = await runCli([
      'rules',
      '--config',
      configFile,
      '--out',
      out,
      '--check-max-age',
      '2d',
      '--no-anomaly',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `wrote ${out}\n`);
    assert.equal(statSync(out).mode & 0o777, 0o644);
    const rules = rulesOf(readFileSync(out, 'utf8'));
    assert.equal(
      rules.find((x) => x.alert === 'ResticCheckNotSucceeding')?.expr,
      'time() - restic_check_last_success_timestamp_seconds{job=~"nfs_backup|restic_backup"} > 172800',
    );
    assert.ok(!rules.some((x) => x.alert === 'ResticBackupSizeDrop'));
  });

  it("without a config writes the seed's rules and says so", async () => {
    const empty = join(tmp.dir, 'empty');
    mkdirSync(empty);
    const r = await runCli(['rules'], { cwd: empty });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stderr,
      "resticprom: no configuration file found; writing rules for the seed's job nfs_backup and tiers sub-daily, daily, weekly, monthly\n",
    );
    const body = r.stdout.replace(/^#.*\n/, '');
    assert.equal(body, generateRules(SEED_RULES_OPTIONS));
  });

  it('passes the anomaly flags into the rules', async () => {
    const r = await runCli([
      'rules',
      '--config',
      configFile,
      '--size-drop-ratio',
      '0.25',
      '--size-drop-window',
      '1m',
      '--changed-files-factor',
      '3',
      '--changed-files-window',
      '2h',
      '--changed-files-min',
      '50',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const drop = rulesOf(r.stdout).find((x) => x.alert === 'ResticBackupSizeDrop');
    const spike = rulesOf(r.stdout).find((x) => x.alert === 'ResticBackupChangedFilesSpike');
    assert.match(
      drop?.expr ?? '',
      /< 0\.25 \* max_over_time\(restic_backup_processed_bytes\{[^}]*\}\[1m\]\)/,
    );
    assert.match(spike?.expr ?? '', /> 3 \* avg_over_time\(restic_backup_files_changed\{[^}]*\}\[2h\]\)/);
    assert.match(spike?.expr ?? '', /> 50/);
  });

  it('exits 2 with one line for a bad flag value or an invalid config', async () => {
    const bad = await runCli(['rules', '--for', '5x'], { cwd: tmp.dir });
    assert.equal(bad.code, 2);
    assert.equal(
      bad.stderr,
      'resticprom: --for: invalid duration "5x" (write it like 500ms, 10s, 2m, 1h, 7d)\n',
    );
    const ratio = await runCli(['rules', '--size-drop-ratio', '2'], { cwd: tmp.dir });
    assert.equal(ratio.code, 2);
    assert.equal(ratio.stderr, 'resticprom: --size-drop-ratio: "2" is not a number above 0 and at most 1\n');
    const clash = await runCli(['rules', '--no-anomaly', '--changed-files-min', '5'], { cwd: tmp.dir });
    assert.equal(clash.code, 2);
    assert.equal(
      clash.stderr,
      'resticprom: --no-anomaly leaves out the anomaly alerts: --changed-files-min has no effect\n',
    );
    const broken = join(tmp.dir, 'broken.yaml');
    writeFileSync(broken, 'profiles: {}\nbogus: 1\n', { mode: 0o600 });
    const r = await runCli(['rules', '--config', broken]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^${broken}:2: bogus: `, 'm'));
  });
});
