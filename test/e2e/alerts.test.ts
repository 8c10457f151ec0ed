/**
 * End to end: real restic runs through `resticprom backup`, the real Pushgateway, the
 * real Prometheus (1 s scrape and evaluation) with the rules `resticprom rules` writes
 * from a config with short max ages. Backups that stop, fail, are incomplete, or whose
 * pushes the gateway refuses each fire their alert (read from /api/v1/alerts); the
 * healthy profile fires none; the seed's absent_over_time alert stays silent throughout.
 * A profile in the config that never runs ("ghost", max-age 3s) fires ResticBackupNeverReported;
 * profiles that reported, one of them with a max-age of 6s, do not.
 *
 * "Incomplete" uses the recorded-output fake restic (restic 0.14's exit 3 with an
 * unreadable file): as root, the real restic reads every file.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { serverMatrix } from '../helpers/matrix.js';
import { type PromAlert, waitForFiring } from '../helpers/prom-alerts.js';
import { FAKE_RESTIC, fakeResticEnv, makeRepo, makeSourceTree, resticFixture } from '../helpers/restic.js';
import {
  makeTempDir,
  type RunningPrometheus,
  type RunningService,
  scrapeConfig,
  startPrometheus,
  startPushgateway,
} from '../helpers/services.js';

const JOB = 'e2e_backup';
const HOST = 'e2e-host';

const has = (firing: PromAlert[], alertname: string, profile: string) =>
  firing.some(
    (a) =>
      a.labels.alertname === alertname &&
      (a.labels.profile === profile || a.labels.instance === `${profile}-t`),
  );

for (const servers of serverMatrix()) {
  describe(`alerts fire for real failures (e2e, ${servers.label})`, { skip: servers.skip }, () => {
    const tmp = makeTempDir('resticprom-e2e-alerts-');
    let gw: RunningService;
    let prom: RunningPrometheus;
    const mainConfig = join(tmp.dir, 'resticprom.yaml');
    const fakeConfig = join(tmp.dir, 'fake-restic.yaml');
    const env = { HOME: tmp.dir };

    const profileYaml = (
      name: string,
      repository: string,
      passwordFile: string,
      paths: string,
      maxAge: string,
    ) =>
      `  ${name}:
    repository: ${repository}
    password-file: ${passwordFile}
    env: { RESTIC_CACHE_DIR: ${join(tmp.dir, 'cache')} }
    paths: [${paths}]
    tiers:
      t: { schedule: "0 * * * *", max-age: ${maxAge} }
`;

    before(async () => {
      await ensureBuilt();
      gw = await startPushgateway({ bin: servers.pushgateway.bin });
      const repo = makeRepo(tmp.dir, 'e2e-password');
      const tree = makeSourceTree(join(tmp.dir, 'src'), { files: 10, bytes: 2048 });
      // Each profile pushes to its own group of the gateway: instance=<profile>-<tier>.
      const metrics = [
        '    metrics:',
        `      job: ${JOB}`,
        '      grouping: { instance: "{profile}-{tier}" }',
        `      pushgateway: { url: "${gw.url}", retries: 0 }`,
        '',
      ].join('\n');
      const head = `state-dir: ${join(tmp.dir, 'state')}\nhostname: ${HOST}\n`;
      const withMetrics = (p: string) => `${p}${metrics}`;
      writeFileSync(
        mainConfig,
        `${head}profiles:\n${[
          profileYaml('healthy', repo.repository, repo.passwordFile, tree.dir, '1h'),
          profileYaml('stopped', repo.repository, repo.passwordFile, tree.dir, '6s'),
          profileYaml('broken', join(tmp.dir, 'no-such-repo'), repo.passwordFile, tree.dir, '1h'),
          profileYaml('partial', repo.repository, repo.passwordFile, tree.dir, '1h'),
          profileYaml('pushfail', repo.repository, repo.passwordFile, tree.dir, '1h'),
          // Never runs: its tier has no series at all.
          profileYaml('ghost', repo.repository, repo.passwordFile, tree.dir, '3s'),
        ]
          .map(withMetrics)
          .join('')}`,
        { mode: 0o600 },
      );
      writeFileSync(
        fakeConfig,
        `${head}restic-binary: ${FAKE_RESTIC}\nprofiles:\n${withMetrics(
          profileYaml('partial', repo.repository, repo.passwordFile, tree.dir, '1h'),
        )}`,
        { mode: 0o600 },
      );
      const rulesFile = join(tmp.dir, 'rules.yml');
      const rules = await runCli(['rules', '--config', mainConfig, '--for', '0s', '--out', rulesFile], {
        env,
      });
      assert.equal(rules.code, 0, rules.stderr);
      const { readFileSync } = await import('node:fs');
      prom = await startPrometheus({
        bin: servers.prometheus.bin,
        config: `${scrapeConfig([{ job: 'pushgateway', target: `127.0.0.1:${gw.port}` }])}rule_files:\n  - rules.yml\n  - seed.yml\n`,
        ruleFiles: {
          'rules.yml': readFileSync(rulesFile, 'utf8'),
          'seed.yml': `groups:
  - name: seed
    rules:
      - alert: SeedNoBackupInADay
        expr: absent_over_time(restic_backup_processed_files{job="${JOB}"}[1d])
`,
        },
      });
    });

    after(async () => {
      await prom?.stop();
      await gw?.stop();
      tmp.cleanup();
    });

    const backup = (profile: string, config = mainConfig, extraEnv: NodeJS.ProcessEnv = {}) =>
      runCli(['backup', '--config', config, '--profile', profile, '--tier', 't', '--quiet'], {
        env: { ...env, ...extraEnv },
      });

    it('stopped, failed, incomplete and never-run backups fire their alerts; the healthy one and the seed alert stay silent', async () => {
      const healthy = await backup('healthy');
      assert.equal(healthy.code, ExitCode.OK, healthy.stderr);
      const stopped = await backup('stopped');
      assert.equal(stopped.code, ExitCode.OK, stopped.stderr);
      const broken = await backup('broken');
      assert.equal(broken.code, ExitCode.REPO_MISSING, broken.stderr);
      const partial = await backup(
        'partial',
        fakeConfig,
        fakeResticEnv(resticFixture('0.14.0', 'backup-unreadable')),
      );
      assert.equal(partial.code, ExitCode.INCOMPLETE, partial.stderr);

      const firing = await waitForFiring(
        prom.url,
        (f) =>
          has(f, 'ResticBackupLate', 'stopped') &&
          has(f, 'ResticMetricsPushesStopped', 'stopped') &&
          has(f, 'ResticBackupFailed', 'broken') &&
          has(f, 'ResticBackupIncomplete', 'partial') &&
          has(f, 'ResticBackupNeverReported', 'ghost'),
      );
      const late = firing.find((a) => a.labels.alertname === 'ResticBackupLate');
      assert.deepEqual(late?.labels, {
        alertname: 'ResticBackupLate',
        severity: 'critical',
        job: JOB,
        instance: 'stopped-t',
        profile: 'stopped',
        tier: 't',
        host: HOST,
      });
      assert.match(
        late?.annotations.description ?? '',
        /^The last successful backup of profile stopped, tier t on host e2e-host finished \d+(\.\d+)?s ago, longer than the tier's limit \(restic:backup_max_age_seconds\)\.$/,
      );
      const backupLabels = (profile: string) => ({
        job: JOB,
        instance: `${profile}-t`,
        profile,
        tier: 't',
        host: HOST,
      });
      assert.deepEqual(firing.find((a) => a.labels.alertname === 'ResticBackupFailed')?.labels, {
        alertname: 'ResticBackupFailed',
        severity: 'critical',
        ...backupLabels('broken'),
      });
      assert.deepEqual(firing.find((a) => a.labels.alertname === 'ResticBackupIncomplete')?.labels, {
        alertname: 'ResticBackupIncomplete',
        severity: 'warning',
        ...backupLabels('partial'),
      });
      // The gateway's push_time_seconds carries only the grouping labels; the rule adds profile and tier.
      assert.deepEqual(firing.find((a) => a.labels.alertname === 'ResticMetricsPushesStopped')?.labels, {
        alertname: 'ResticMetricsPushesStopped',
        severity: 'warning',
        job: JOB,
        instance: 'stopped-t',
        profile: 'stopped',
        tier: 't',
      });
      // absent() keeps only the selector's equality matchers; the rule adds profile and tier.
      const never = firing.find((a) => a.labels.alertname === 'ResticBackupNeverReported');
      assert.deepEqual(never?.labels, {
        alertname: 'ResticBackupNeverReported',
        severity: 'warning',
        job: JOB,
        profile: 'ghost',
        tier: 't',
      });
      assert.equal(
        never?.annotations.description,
        'No backup of profile ghost, tier t on any host has reported for 3s (no restic_backup_end_timestamp_seconds): ' +
          'the job is not installed, never ran, or its metrics never reached the Pushgateway.',
      );
      // Nothing about the healthy profile, and the seed's alert is silent although
      // "stopped" has not backed up for longer than its limit.
      assert.deepEqual(
        firing.filter((a) => a.labels.profile === 'healthy' || a.labels.instance === 'healthy-t'),
        [],
      );
      assert.ok(!firing.some((a) => a.labels.alertname === 'SeedNoBackupInADay'));
      // Only the five scenarios fire (Late and PushesStopped for "stopped"); "stopped" reported,
      // so its NeverReported (limit 6s) is quiet.
      assert.deepEqual([...new Set(firing.map((a) => `${a.labels.alertname}/${a.labels.profile}`))].sort(), [
        'ResticBackupFailed/broken',
        'ResticBackupIncomplete/partial',
        'ResticBackupLate/stopped',
        'ResticBackupNeverReported/ghost',
        'ResticMetricsPushesStopped/stopped',
      ]);
    });

    it('a push the gateway refuses fires ResticMetricsPushFailing for that group', async () => {
      // Make the gateway refuse the next push: an empty gateway holding restic_backup_status
      // as a counter refuses every push of it as a gauge (the type must agree across groups).
      const wipe = await fetch(`${gw.url}/api/v1/admin/wipe`, { method: 'PUT' });
      assert.equal(wipe.status, 202);
      const clash = await fetch(`${gw.url}/metrics/job/clash`, {
        method: 'POST',
        body: '# TYPE restic_backup_status counter\nrestic_backup_status 1\n',
      });
      assert.equal(clash.status, 200);
      const r = await backup('pushfail');
      assert.notEqual(r.code, ExitCode.OK);
      assert.match(r.stderr, /400/);
      const firing = await waitForFiring(prom.url, (f) =>
        f.some(
          (a) => a.labels.alertname === 'ResticMetricsPushFailing' && a.labels.instance === 'pushfail-t',
        ),
      );
      const alert = firing.find((a) => a.labels.alertname === 'ResticMetricsPushFailing');
      assert.deepEqual(alert?.labels, {
        alertname: 'ResticMetricsPushFailing',
        severity: 'warning',
        job: JOB,
        instance: 'pushfail-t',
      });
      assert.ok(!firing.some((a) => a.labels.alertname === 'SeedNoBackupInADay'));
    });
  });
}
