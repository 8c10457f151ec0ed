/**
 * End to end, retention and repository health with the real restic 0.14 and the real
 * Pushgateway: `forget --tier daily` keeps the tier's keep-last and leaves other tiers
 * alone; `stats` pushes what `restic snapshots` and `restic stats` say; `check` passes
 * on a healthy repository and fails (exit 1, errors counted, status 0) on one with a
 * pack file deleted.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { gatewayGroup, groupValue, readHistory } from '../helpers/e2e.js';
import { resticMatrix } from '../helpers/matrix.js';
import { makeRepo, makeSourceTree, resticSync, type TestRepo } from '../helpers/restic.js';
import { groupValues, makeTempDir, type RunningService, startPushgateway } from '../helpers/services.js';

interface SnapshotJson {
  id: string;
  short_id: string;
  time: string;
  tags?: string[];
}

for (const restic of resticMatrix()) {
  describe(`forget, check and stats against a real repository (e2e, restic ${restic.version})`, {
    skip: restic.skip,
  }, () => {
    const tmp = makeTempDir('resticprom-e2e-maint-');
    const stateDir = join(tmp.dir, 'state');
    const configFile = join(tmp.dir, 'resticprom.yaml');
    const env = { HOME: tmp.dir };
    let gw: RunningService;
    let repo: TestRepo;
    let srcDir: string;

    const cli = (args: string[]) => runCli([...args, '--config', configFile], { env });
    const snapshots = () =>
      JSON.parse(resticSync(repo, ['snapshots', '--json'], { restic: restic.bin })) as SnapshotJson[];
    const tagged = (tag: string) => snapshots().filter((s) => s.tags?.includes(tag));

    before(async () => {
      await ensureBuilt();
      gw = await startPushgateway();
      repo = makeRepo(tmp.dir, 'e2e-maintenance-password', { restic: restic.bin });
      srcDir = makeSourceTree(join(tmp.dir, 'nfs'), { files: 8, bytes: 4000 }).dir;
      writeFileSync(
        configFile,
        `state-dir: ${stateDir}
restic-binary: ${restic.bin}
hostname: e2e-host
profiles:
  nfs:
    repository: ${repo.repository}
    password-file: ${repo.passwordFile}
    env: { RESTIC_CACHE_DIR: ${repo.cacheDir} }
    paths: [${srcDir}]
    tiers:
      daily:  { schedule: "30 1 * * *", keep-last: 2 }
      weekly: { schedule: "0 3 * * 0", keep-last: 5 }
    metrics:
      job: nfs_backup
      grouping: { instance: "{tier}" }
      pushgateway: { url: "${gw.url}", retries: 0 }
`,
        { mode: 0o600 },
      );
      // Four daily and two weekly backups; a changed file each time so every snapshot differs.
      for (const [i, tier] of ['daily', 'weekly', 'daily', 'daily', 'weekly', 'daily'].entries()) {
        writeFileSync(join(srcDir, 'changing.txt'), `run ${i}\n`);
        const r = await cli(['backup', '--tier', tier]);
        assert.equal(r.code, ExitCode.OK, r.stderr);
      }
      assert.equal(tagged('daily').length, 4);
      assert.equal(tagged('weekly').length, 2);
    });

    after(async () => {
      await gw?.stop();
      tmp.cleanup();
    });

    it('forget --tier daily keeps the newest 2 daily snapshots and leaves the weekly ones', async () => {
      const daily = tagged('daily');
      const weekly = tagged('weekly');
      const r = await cli(['forget', '--tier', 'daily']);
      assert.equal(r.code, ExitCode.OK, r.stderr);
      assert.match(r.stderr, /^forget nfs\/daily: kept 2, removed 2 snapshot\(s\) in /m);
      const byTime = (a: SnapshotJson, b: SnapshotJson) => a.time.localeCompare(b.time);
      assert.deepEqual(
        tagged('daily').map((s) => s.id),
        daily
          .sort(byTime)
          .slice(-2)
          .map((s) => s.id),
      );
      assert.deepEqual(
        tagged('weekly').map((s) => s.id),
        weekly.map((s) => s.id),
      );
      const group = await gatewayGroup(gw.url, { job: 'nfs_backup', instance: 'daily' });
      assert.equal(groupValue(group, 'restic_forget_snapshots_removed'), 2);
      assert.equal(groupValue(group, 'restic_forget_snapshots_kept'), 2);
      assert.equal(groupValue(group, 'restic_forget_status'), 2);
      assert.equal(groupValue(group, 'restic_forget_exit_code'), 0);
      // The forget shares the tier's group with its backups: POST leaves the backup's families.
      assert.equal(groupValue(group, 'restic_backup_status'), 2);
      const run = readHistory(stateDir).at(-1);
      assert.equal(run?.kind, 'forget');
      assert.deepEqual(run?.summary, { kept: 2, removed: 2 });
    });

    it('stats pushes the snapshot counts, newest times and sizes restic reports', async () => {
      const r = await cli(['stats', '--json']);
      assert.equal(r.code, ExitCode.OK, r.stderr);
      const all = snapshots();
      const raw = JSON.parse(
        resticSync(repo, ['stats', '--json', '--mode', 'raw-data'], { restic: restic.bin }),
      ) as {
        total_size: number;
      };
      const restore = JSON.parse(
        resticSync(repo, ['stats', '--json', '--mode', 'restore-size'], { restic: restic.bin }),
      ) as {
        total_size: number;
      };
      assert.ok(raw.total_size > 0 && restore.total_size > 0);

      const group = await gatewayGroup(gw.url, { job: 'nfs_backup', instance: 'stats' });
      assert.equal(groupValue(group, 'restic_stats_snapshots'), all.length);
      assert.equal(all.length, 4);
      assert.equal(groupValue(group, 'restic_stats_raw_size_bytes'), raw.total_size);
      assert.equal(groupValue(group, 'restic_stats_restore_size_bytes'), restore.total_size);
      assert.equal(groupValue(group, 'restic_stats_status'), 2);
      const perTier = (family: string) =>
        Object.fromEntries(groupValues(group, family).map((v) => [v.labels.tag, Number(v.value)]));
      assert.deepEqual(perTier('restic_stats_tier_snapshots'), { daily: 2, weekly: 2 });
      const newest = (tag: string) =>
        Math.max(...all.filter((s) => s.tags?.includes(tag)).map((s) => Date.parse(s.time))) / 1000;
      assert.deepEqual(perTier('restic_stats_tier_latest_snapshot_timestamp_seconds'), {
        daily: newest('daily'),
        weekly: newest('weekly'),
      });
      // Repository-level series carry no tier label; `instance` names the command.
      const labels = groupValues(group, 'restic_stats_snapshots')[0]?.labels;
      assert.deepEqual(labels, { job: 'nfs_backup', instance: 'stats', profile: 'nfs', host: 'e2e-host' });

      const printed = JSON.parse(r.stdout) as {
        profile: string;
        raw: { totalSize: number };
        restore: { totalSize: number };
        tiers: { tier: string; snapshots: number; latest?: number }[];
      };
      assert.equal(printed.profile, 'nfs');
      assert.equal(printed.raw.totalSize, raw.total_size);
      assert.equal(printed.restore.totalSize, restore.total_size);
      assert.deepEqual(
        printed.tiers.map((t) => [t.tier, t.snapshots]),
        [
          ['daily', 2],
          ['weekly', 2],
        ],
      );
    });

    it('check passes on a healthy repository: exit 0, no errors', async () => {
      const r = await cli(['check']);
      assert.equal(r.code, ExitCode.OK, r.stderr);
      assert.match(r.stderr, /^check nfs: no errors found in /m);
      const group = await gatewayGroup(gw.url, { job: 'nfs_backup', instance: 'check' });
      assert.equal(groupValue(group, 'restic_check_errors'), 0);
      assert.equal(groupValue(group, 'restic_check_status'), 2);
      assert.equal(groupValue(group, 'restic_check_exit_code'), 0);
    });

    it('check of a repository with a pack file deleted exits 1, counts the errors and pushes status 0', async () => {
      const group0 = await gatewayGroup(gw.url, { job: 'nfs_backup', instance: 'check' });
      const lastSuccess = groupValue(group0, 'restic_check_last_success_timestamp_seconds');
      // A pack holding only file data: restic 0.14 retries a missing tree pack for minutes
      // (test/jobs/maintenance.test.ts replays that run).
      let pack: string | undefined;
      for (const id of resticSync(repo, ['list', 'index'], { restic: restic.bin }).trim().split('\n')) {
        const index = JSON.parse(resticSync(repo, ['cat', 'index', id], { restic: restic.bin })) as {
          packs: { id: string; blobs: { type: string }[] }[];
        };
        pack = index.packs.find((p) => p.blobs.every((b) => b.type === 'data'))?.id;
        if (pack) break;
      }
      assert.ok(pack);
      rmSync(join(repo.repository, 'data', pack.slice(0, 2), pack));

      const r = await cli(['check']);
      assert.equal(r.code, ExitCode.FAILURE, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `^error: check nfs failed after .*: restic check found 1 error\\(s\\) in the repository: pack ${pack}: does not exist$`,
          'm',
        ),
      );
      const group = await gatewayGroup(gw.url, { job: 'nfs_backup', instance: 'check' });
      const errors = groupValue(group, 'restic_check_errors');
      assert.equal(errors, 1);
      assert.equal(groupValue(group, 'restic_check_status'), 0);
      assert.equal(groupValue(group, 'restic_check_exit_code'), 1);
      // The healthy check's success time survives the failed one.
      assert.equal(groupValue(group, 'restic_check_last_success_timestamp_seconds'), lastSuccess);
      const run = readHistory(stateDir).at(-1);
      assert.equal(run?.kind, 'check');
      assert.equal(run?.outcome, 'failed');
      assert.equal((run?.summary as { errors: number } | undefined)?.errors, errors);
    });
  });
}
