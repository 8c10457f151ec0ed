import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { renderDeployFiles } from '../../src/deploy/files.js';
import { ALERT_NAMES, generateRules } from '../../src/deploy/rules.js';
import { makeTempDir } from '../helpers/services.js';

const ROOT = join(import.meta.dirname, '..', '..');
const RULES = join(ROOT, 'deploy/prometheus/resticprom-rules.yml');
const TESTS_DIR = join(ROOT, 'deploy/prometheus/tests');

function promtool(args: string[], cwd = ROOT): { code: number; out: string } {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

function rulesOf(yamlText: string): Rule[] {
  return (parse(yamlText) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
}

describe('generated deploy files', () => {
  it('the committed files equal the generators output (run npx tsx scripts/gen-deploy.ts)', () => {
    for (const [rel, content] of Object.entries(renderDeployFiles())) {
      assert.equal(readFileSync(join(ROOT, rel), 'utf8'), content, `${rel} is stale`);
    }
  });
});

describe('Prometheus rules (seed defaults)', () => {
  it('pass promtool check rules', () => {
    const r = promtool(['check', 'rules', RULES]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /SUCCESS: 28 rules found/);
  });

  it('pass every promtool unit test in deploy/prometheus/tests', () => {
    const files = readdirSync(TESTS_DIR)
      .filter((f) => f.endsWith('.yml'))
      .map((f) => join(TESTS_DIR, f));
    assert.ok(files.length >= 6);
    const r = promtool(['test', 'rules', ...files]);
    assert.equal(r.code, 0, r.out);
    assert.doesNotMatch(r.out, /FAILED/);
  });

  it('have a promtool test where each alert fires and one where it stays quiet', () => {
    const tests = readdirSync(TESTS_DIR)
      .filter((f) => f.endsWith('.yml'))
      .map((f) => parse(readFileSync(join(TESTS_DIR, f), 'utf8')) as PromtoolFile);
    for (const name of ALERT_NAMES) {
      const cases = tests
        .flatMap((t) => t.tests.flatMap((g) => g.alert_rule_test ?? []))
        .filter((c) => c.alertname === name);
      assert.ok(
        cases.some((c) => (c.exp_alerts ?? []).length > 0),
        `${name}: no promtool case where it fires`,
      );
      assert.ok(
        cases.some((c) => (c.exp_alerts ?? []).length === 0),
        `${name}: no promtool case where it stays quiet`,
      );
    }
  });

  it('give each tier its own threshold and label every alert with severity, summary and description', () => {
    const rules = rulesOf(readFileSync(RULES, 'utf8'));
    const late = rules.find((r) => r.alert === 'ResticBackupLate');
    assert.equal(
      late?.expr,
      [
        'restic:backup_last_success_age_seconds{job="nfs_backup",tier="sub-daily"} > 21600',
        'restic:backup_last_success_age_seconds{job="nfs_backup",tier="daily"} > 93600',
        'restic:backup_last_success_age_seconds{job="nfs_backup",tier="weekly"} > 691200',
        'restic:backup_last_success_age_seconds{job="nfs_backup",tier="monthly"} > 2764800',
      ].join('\nor\n'),
    );
    const alerts = rules.filter((r) => r.alert);
    assert.deepEqual([...new Set(alerts.map((a) => a.alert))].sort(), [...ALERT_NAMES].sort());
    for (const a of alerts) {
      assert.match(a.labels?.severity ?? '', /^(critical|warning)$/, `${a.alert} severity`);
      assert.ok(a.annotations?.summary, `${a.alert} summary`);
      assert.match(a.annotations?.description ?? '', /tier/, `${a.alert} description names the tier`);
    }
    // No rule relies on absent_over_time of a pushed metric (it never fires with a gateway).
    assert.ok(rules.every((r) => !r.expr.includes('absent_over_time')));
    assert.deepEqual(
      rules.filter((r) => r.alert === 'ResticBackupNeverReported').map((r) => r.for),
      ['6h', '1d2h', '8d', '32d'],
    );
  });
});

interface PromtoolFile {
  tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
}

describe('generateRules with custom thresholds', () => {
  const tmp = makeTempDir('resticprom-rules-');
  after(() => tmp.cleanup());

  const custom = generateRules({
    job: 'nas',
    forDuration: '0s',
    checkMaxAgeSeconds: 120,
    anomaly: false,
    tiers: [
      { profile: 'home', tier: 'hourly', maxAgeSeconds: 30, grouping: { instance: 'home-hourly' } },
      { profile: 'media', tier: 'hourly', maxAgeSeconds: 90, job: 'media_backup' },
    ],
  });

  it('select profile and job per tier and use the grouping for the gateway series', () => {
    const rules = rulesOf(custom);
    assert.equal(
      rules.find((r) => r.alert === 'ResticBackupLate')?.expr,
      'restic:backup_last_success_age_seconds{job="nas",profile="home",tier="hourly"} > 30\nor\n' +
        'restic:backup_last_success_age_seconds{job="media_backup",profile="media",tier="hourly"} > 90',
    );
    assert.deepEqual(
      rules.filter((r) => r.alert === 'ResticMetricsPushesStopped').map((r) => [r.expr, r.labels]),
      [
        [
          'time() - push_time_seconds{job="nas",instance="home-hourly"} > 30',
          { severity: 'warning', profile: 'home', tier: 'hourly' },
        ],
        [
          'time() - push_time_seconds{job="media_backup",instance="hourly"} > 90',
          { severity: 'warning', profile: 'media', tier: 'hourly' },
        ],
      ],
    );
    assert.equal(
      rules.find((r) => r.alert === 'ResticBackupFailed')?.expr,
      'restic_backup_status{job=~"media_backup|nas"} == 0',
    );
    assert.ok(!rules.some((r) => r.alert === 'ResticBackupSizeDrop'));
  });

  it('pass promtool check rules and fire at the shortened thresholds', () => {
    const rulesFile = join(tmp.dir, 'custom-rules.yml');
    writeFileSync(rulesFile, custom);
    assert.equal(promtool(['check', 'rules', rulesFile]).code, 0);
    const s = (labels: string) => `restic_backup_last_success_timestamp_seconds{${labels},host="h1"}`;
    // Both tiers last succeeded at t=0; home's limit is 30 s, media's 90 s.
    const testFile = {
      rule_files: ['custom-rules.yml'],
      evaluation_interval: '10s',
      tests: [
        {
          interval: '10s',
          input_series: [
            { series: s('job="nas",instance="home-hourly",profile="home",tier="hourly"'), values: '0x30' },
            {
              series: s('job="media_backup",instance="hourly",profile="media",tier="hourly"'),
              values: '0x30',
            },
            { series: 'push_time_seconds{job="nas",instance="home-hourly"}', values: '0x30' },
            {
              series: 'restic_check_last_success_timestamp_seconds{job="nas",profile="home",host="h1"}',
              values: '0x30',
            },
          ],
          alert_rule_test: [
            { eval_time: '30s', alertname: 'ResticBackupLate', exp_alerts: [] },
            {
              eval_time: '40s',
              alertname: 'ResticBackupLate',
              exp_alerts: [lateAlert('nas', 'home-hourly', 'home', '40s')],
            },
            {
              eval_time: '100s',
              alertname: 'ResticBackupLate',
              exp_alerts: [
                lateAlert('nas', 'home-hourly', 'home', '1m 40s'),
                lateAlert('media_backup', 'hourly', 'media', '1m 40s'),
              ],
            },
            {
              eval_time: '40s',
              alertname: 'ResticMetricsPushesStopped',
              exp_alerts: [
                {
                  exp_labels: {
                    severity: 'warning',
                    job: 'nas',
                    instance: 'home-hourly',
                    profile: 'home',
                    tier: 'hourly',
                  },
                  exp_annotations: {
                    summary: 'No metrics pushed for restic backup tier hourly for 40s',
                    description:
                      'The Pushgateway group of job nas, instance home-hourly (profile home, tier hourly) got its ' +
                      "last push 40s ago, longer than the tier's limit 30s: the host, its timer or its network may be down.",
                  },
                },
              ],
            },
            { eval_time: '120s', alertname: 'ResticCheckNotSucceeding', exp_alerts: [] },
            {
              eval_time: '130s',
              alertname: 'ResticCheckNotSucceeding',
              exp_alerts: [
                {
                  exp_labels: { severity: 'warning', job: 'nas', profile: 'home', host: 'h1' },
                  exp_annotations: {
                    summary: 'restic check of home has not succeeded for 2m 10s',
                    description:
                      'The last successful repository check of profile home on host h1 was 2m 10s ago (limit 2m).',
                  },
                },
              ],
            },
          ],
        },
      ],
    };
    const testPath = join(tmp.dir, 'custom-test.yml');
    writeFileSync(testPath, JSON.stringify(testFile));
    const r = promtool(['test', 'rules', testPath], tmp.dir);
    assert.equal(r.code, 0, r.out);
  });

  it('refuses bad input with a clear message', () => {
    assert.throws(() => generateRules({ tiers: [] }), /at least one tier/);
    assert.throws(
      () => generateRules({ tiers: [{ tier: 'daily', maxAgeSeconds: 0 }] }),
      /tier daily: maxAgeSeconds must be a positive number/,
    );
    assert.throws(
      () => generateRules({ tiers: [{ tier: 'daily', maxAgeSeconds: 60, grouping: { job: 'x' } }] }),
      /invalid grouping label name "job"/,
    );
    assert.throws(
      () =>
        generateRules({
          tiers: [
            { tier: 'daily', maxAgeSeconds: 60 },
            { tier: 'daily', maxAgeSeconds: 90 },
          ],
        }),
      /tier daily is listed twice/,
    );
  });

  it('escape job names used in a regex matcher', () => {
    const text = generateRules({
      tiers: [
        { tier: 'a', maxAgeSeconds: 60, job: 'x.y' },
        { tier: 'b', maxAgeSeconds: 60, job: 'z' },
      ],
    });
    assert.match(text, /restic_backup_status\{job=~"x\\\\.y\|z"\} == 0/);
    const file = join(tmp.dir, 'escaped.yml');
    writeFileSync(file, text);
    assert.equal(promtool(['check', 'rules', file]).code, 0);
  });
});

function lateAlert(job: string, instance: string, profile: string, age: string) {
  return {
    exp_labels: { severity: 'critical', job, instance, profile, tier: 'hourly', host: 'h1' },
    exp_annotations: {
      summary: `restic backup ${profile}/hourly on h1 is late`,
      description:
        `The last successful backup of profile ${profile}, tier hourly on host h1 finished ${age} ago, ` +
        "longer than the tier's limit (restic:backup_max_age_seconds).",
    },
  };
}
