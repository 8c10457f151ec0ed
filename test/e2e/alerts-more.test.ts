/**
 * End to end, the repository-health and anomaly alerts: real restic through
 * `resticprom check` and `resticprom backup`, the real Pushgateway and the real Prometheus
 * (1 s scrape and evaluation) with rules written by `resticprom rules`.
 *
 * - A check of a repository with a data pack deleted fires ResticCheckErrors and, as no
 *   check of it ever succeeded, ResticCheckNotSucceeding{reason="never-succeeded"}.
 * - A successful check older than `--check-max-age 3s` fires ResticCheckNotSucceeding. That
 *   profile pushes under a job of its own whose rules come from a second config, so the
 *   healthy profile's check is judged by the 8-day default and stays quiet.
 * - Most files deleted and backed up again fires ResticBackupSizeDrop (`--size-drop-window 1m`).
 * - A hundred files rewritten after backups that changed one fires ResticBackupChangedFilesSpike
 *   (`--changed-files-min 50` instead of 1000; the factor stays at its default of 10).
 *
 * The healthy profile (two backups of the same files and a check) fires nothing throughout.
 * Everything is real except the clock-bound limits, shortened through `resticprom rules`
 * flags; no value is pushed by hand.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { serverMatrix } from '../helpers/matrix.js';
import { findAlert, firingNames, type PromAlert, waitForFiring } from '../helpers/prom-alerts.js';
import { makeRepo, makeSourceTree, resticSync, type SourceTree, type TestRepo } from '../helpers/restic.js';
import {
  makeTempDir,
  type RunningPrometheus,
  type RunningService,
  scrapeConfig,
  startPrometheus,
  startPushgateway,
  waitForQuery,
} from '../helpers/services.js';

const JOB = 'e2e_more';
const STALE_JOB = 'e2e_stale_check';
const HOST = 'e2e-host';
/** Changed files of the spike: above the lowered floor (50) and 10x the average (about 1). */
const SPIKE_FILES = 100;
/**
 * Samples of the baseline Prometheus holds before the spike. The spike enters the 7-day
 * average one sample per scrape: with N samples of a baseline of about one changed file,
 * 100 stays above 10x the average for about N/10 evaluations (4 here, at 1 s each),
 * which polling every 250 ms sees. Fewer samples would make the alert too brief to see.
 */
const BASELINE_SAMPLES = 40;

for (const servers of serverMatrix()) {
  describe(`check and anomaly alerts fire for real runs (e2e, ${servers.label})`, {
    skip: servers.skip,
  }, () => {
    const tmp = makeTempDir('resticprom-e2e-alerts-more-');
    let gw: RunningService;
    let prom: RunningPrometheus;
    let repo: TestRepo;
    let damagedRepo: TestRepo;
    let shrinking: SourceTree;
    let spike: SourceTree;
    const mainConfig = join(tmp.dir, 'resticprom.yaml');
    const staleConfig = join(tmp.dir, 'stale-check.yaml');
    const env = { HOME: tmp.dir };

    const profileYaml = (name: string, r: TestRepo, paths: string, job: string) =>
      `  ${name}:
    repository: ${r.repository}
    password-file: ${r.passwordFile}
    env: { RESTIC_CACHE_DIR: ${r.cacheDir} }
    paths: [${paths}]
    tiers:
      t: { schedule: "0 * * * *", max-age: 1h }
    metrics:
      job: ${job}
      grouping: { instance: "{profile}-{tier}" }
      pushgateway: { url: "${gw.url}", retries: 0 }
`;

    const cli = (args: string[], config = mainConfig) =>
      runCli([...args, '--config', config, '--quiet'], { env });
    const backup = async (profile: string) => {
      const r = await cli(['backup', '--profile', profile, '--tier', 't']);
      assert.equal(r.code, ExitCode.OK, r.stderr);
    };
    /** Nothing fires about the healthy profile (its backup group or its check group). */
    const assertHealthyQuiet = (firing: PromAlert[]) =>
      assert.deepEqual(
        firing.filter((a) => a.labels.profile === 'healthy' || a.labels.instance?.startsWith('healthy-')),
        [],
      );

    before(async () => {
      await ensureBuilt();
      gw = await startPushgateway({ bin: servers.pushgateway.bin });
      mkdirSync(join(tmp.dir, 'a'));
      mkdirSync(join(tmp.dir, 'b'));
      repo = makeRepo(join(tmp.dir, 'a'), 'e2e-password');
      damagedRepo = makeRepo(join(tmp.dir, 'b'), 'e2e-password-b');
      const healthy = makeSourceTree(join(tmp.dir, 'healthy'), { files: 10, bytes: 2048 });
      shrinking = makeSourceTree(join(tmp.dir, 'shrinking'), { files: 40, bytes: 4096 });
      spike = makeSourceTree(join(tmp.dir, 'spike'), { files: SPIKE_FILES, bytes: 64 });
      const damaged = makeSourceTree(join(tmp.dir, 'damaged'), { files: 10, bytes: 4096 });
      const head = `state-dir: ${join(tmp.dir, 'state')}\nhostname: ${HOST}\nprofiles:\n`;
      writeFileSync(
        mainConfig,
        head +
          profileYaml('healthy', repo, healthy.dir, JOB) +
          profileYaml('damaged', damagedRepo, damaged.dir, JOB) +
          profileYaml('shrinking', repo, shrinking.dir, JOB) +
          profileYaml('spike', repo, spike.dir, JOB),
        { mode: 0o600 },
      );
      writeFileSync(staleConfig, head + profileYaml('stalecheck', repo, healthy.dir, STALE_JOB), {
        mode: 0o600,
      });

      const mainRules = join(tmp.dir, 'rules.yml');
      const staleRules = join(tmp.dir, 'stale-rules.yml');
      const [r1, r2] = await Promise.all([
        runCli(
          [
            ...['rules', '--config', mainConfig, '--for', '0s', '--out', mainRules],
            ...['--size-drop-window', '1m', '--changed-files-min', '50'],
          ],
          { env },
        ),
        runCli(
          ['rules', '--config', staleConfig, '--for', '0s', '--check-max-age', '3s', '--out', staleRules],
          {
            env,
          },
        ),
      ]);
      assert.equal(r1?.code, 0, r1?.stderr);
      assert.equal(r2?.code, 0, r2?.stderr);
      const mainText = readFileSync(mainRules, 'utf8');
      // The flags reach the rules.
      const rules = (parse(mainText) as { groups: { rules: { alert?: string; expr: string }[] }[] }).groups[0]
        ?.rules;
      const bytes = `restic_backup_processed_bytes{job="${JOB}"}`;
      const changed = `restic_backup_files_changed{job="${JOB}"}`;
      assert.equal(
        rules?.find((x) => x.alert === 'ResticBackupSizeDrop')?.expr,
        `${bytes} < 0.5 * max_over_time(${bytes}[1m])`,
      );
      assert.equal(
        rules?.find((x) => x.alert === 'ResticBackupChangedFilesSpike')?.expr,
        `${changed} > 10 * avg_over_time(${changed}[7d])\nand\n${changed} > 50`,
      );

      prom = await startPrometheus({
        bin: servers.prometheus.bin,
        config: `${scrapeConfig([{ job: 'pushgateway', target: `127.0.0.1:${gw.port}` }])}rule_files:\n  - rules.yml\n  - stale-rules.yml\n`,
        ruleFiles: { 'rules.yml': mainText, 'stale-rules.yml': readFileSync(staleRules, 'utf8') },
      });

      // The spike's baseline first, so that it gathers samples while the other tests run:
      // the first backup (all files new, none changed), then one file changed.
      await backup('spike');
      writeFileSync(join(spike.dir, spike.files[0] as string), 'x'.repeat(64));
      await backup('spike');
      // Healthy: two backups of the same files (equal bytes, nothing changed) and, below, a check.
      await backup('healthy');
      await backup('healthy');
      await backup('shrinking');
      await backup('damaged');
    });

    after(async () => {
      await prom?.stop();
      await gw?.stop();
      tmp.cleanup();
    });

    it('a check finding a deleted pack fires ResticCheckErrors and ResticCheckNotSucceeding (never succeeded); the healthy check stays quiet', async () => {
      const ok = await cli(['check', '--profile', 'healthy']);
      assert.equal(ok.code, ExitCode.OK, ok.stderr);
      // Delete a pack holding only file data (restic 0.14 retries a missing tree pack for minutes).
      let pack: string | undefined;
      for (const id of resticSync(damagedRepo, ['list', 'index']).trim().split('\n')) {
        const index = JSON.parse(resticSync(damagedRepo, ['cat', 'index', id])) as {
          packs: { id: string; blobs: { type: string }[] }[];
        };
        pack = index.packs.find((p) => p.blobs.every((b) => b.type === 'data'))?.id;
        if (pack) break;
      }
      assert.ok(pack);
      rmSync(join(damagedRepo.repository, 'data', pack.slice(0, 2), pack));
      const bad = await cli(['check', '--profile', 'damaged']);
      assert.equal(bad.code, ExitCode.FAILURE, bad.stderr);

      const firing = await waitForFiring(
        prom.url,
        (f) =>
          findAlert(f, 'ResticCheckErrors', { profile: 'damaged' }) !== undefined &&
          findAlert(f, 'ResticCheckNotSucceeding', { profile: 'damaged' }) !== undefined,
      );
      const errors = findAlert(firing, 'ResticCheckErrors');
      assert.deepEqual(errors?.labels, {
        alertname: 'ResticCheckErrors',
        severity: 'critical',
        job: JOB,
        instance: 'damaged-check',
        profile: 'damaged',
        host: HOST,
      });
      assert.equal(Number(errors?.value), 1);
      assert.equal(
        errors?.annotations.description,
        `The last repository check of profile damaged on host ${HOST} found 1 errors: the repository is damaged.`,
      );
      assert.deepEqual(findAlert(firing, 'ResticCheckNotSucceeding')?.labels, {
        alertname: 'ResticCheckNotSucceeding',
        severity: 'warning',
        reason: 'never-succeeded',
        job: JOB,
        instance: 'damaged-check',
        profile: 'damaged',
        host: HOST,
      });
      assertHealthyQuiet(firing);
      assert.deepEqual(firingNames(firing), [
        'ResticCheckErrors/damaged',
        'ResticCheckNotSucceeding/damaged',
      ]);
    });

    it('a successful check older than --check-max-age fires ResticCheckNotSucceeding', async () => {
      const r = await cli(['check', '--profile', 'stalecheck'], staleConfig);
      assert.equal(r.code, ExitCode.OK, r.stderr);
      const firing = await waitForFiring(
        prom.url,
        (f) => findAlert(f, 'ResticCheckNotSucceeding', { profile: 'stalecheck' }) !== undefined,
      );
      const alert = findAlert(firing, 'ResticCheckNotSucceeding', { profile: 'stalecheck' });
      assert.deepEqual(alert?.labels, {
        alertname: 'ResticCheckNotSucceeding',
        severity: 'warning',
        job: STALE_JOB,
        instance: 'stalecheck-check',
        profile: 'stalecheck',
        host: HOST,
      });
      assert.ok(Number(alert?.value) > 3, alert?.value);
      assert.match(
        alert?.annotations.description ?? '',
        new RegExp(
          `^The last successful repository check of profile stalecheck on host ${HOST} was \\d+(\\.\\d+)?s ago \\(limit 3s\\)\\.$`,
        ),
      );
      assertHealthyQuiet(firing);
    });

    it('a backup that processes far fewer bytes than the window maximum fires ResticBackupSizeDrop', async () => {
      // 35 of 40 files deleted: 163840 processed bytes become 20480.
      for (const rel of shrinking.files.slice(5)) rmSync(join(shrinking.dir, rel));
      await backup('shrinking');
      const firing = await waitForFiring(
        prom.url,
        (f) => findAlert(f, 'ResticBackupSizeDrop', { profile: 'shrinking' }) !== undefined,
      );
      const alert = findAlert(firing, 'ResticBackupSizeDrop');
      assert.deepEqual(alert?.labels, {
        alertname: 'ResticBackupSizeDrop',
        severity: 'warning',
        job: JOB,
        instance: 'shrinking-t',
        profile: 'shrinking',
        tier: 't',
        host: HOST,
      });
      assert.equal(Number(alert?.value), 5 * 4096);
      assert.equal(
        alert?.annotations.description,
        `The last backup of profile shrinking, tier t on host ${HOST} processed 20kiB, less than 0.5 times ` +
          'the most it processed in the last 1m: data may have been deleted or a path is missing.',
      );
      assertHealthyQuiet(firing);
      assert.ok(
        !firing.some(
          (a) => a.labels.alertname === 'ResticBackupSizeDrop' && a.labels.profile !== 'shrinking',
        ),
      );
    });

    it('many more changed files than the recent average fire ResticBackupChangedFilesSpike', async () => {
      // Let Prometheus hold enough samples of the baseline (see BASELINE_SAMPLES).
      await waitForQuery(
        prom.url,
        `count_over_time(restic_backup_files_changed{job="${JOB}",profile="spike"}[5m])`,
        (r) => Number(r[0]?.value[1] ?? 0) >= BASELINE_SAMPLES,
        60_000,
      );
      // Every file rewritten with other bytes of the same length: processed bytes stay equal.
      for (const rel of spike.files) writeFileSync(join(spike.dir, rel), 'y'.repeat(64));
      await backup('spike');
      const firing = await waitForFiring(
        prom.url,
        (f) => findAlert(f, 'ResticBackupChangedFilesSpike', { profile: 'spike' }) !== undefined,
      );
      const alert = findAlert(firing, 'ResticBackupChangedFilesSpike');
      assert.deepEqual(alert?.labels, {
        alertname: 'ResticBackupChangedFilesSpike',
        severity: 'warning',
        job: JOB,
        instance: 'spike-t',
        profile: 'spike',
        tier: 't',
        host: HOST,
      });
      assert.equal(Number(alert?.value), SPIKE_FILES);
      assertHealthyQuiet(firing);
      // The rewrite kept the size: no size drop for the spike profile.
      assert.equal(findAlert(firing, 'ResticBackupSizeDrop', { profile: 'spike' }), undefined);
    });
  });
}
