/**
 * End to end, the seed's setup, once per restic version of the matrix (with a Pushgateway
 * and Prometheus of the matrix each): real restic runs through `resticprom backup` with a
 * config like the seed's (job nfs_backup, grouping {instance: "{tier}"}, .nobackup
 * exclusion, GOMAXPROCS=1), pushes to the real Pushgateway, and the real Prometheus
 * (1 s scrape, honor_labels) answers the seed's three queries with the values of the runs.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import type { RunRecord } from '../../src/state/history.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { gatewayGroup, groupValue, readHistory } from '../helpers/e2e.js';
import { atLeast, stackMatrix } from '../helpers/matrix.js';
import { makeRepo, makeSourceTree, resticSync, type TestRepo } from '../helpers/restic.js';
import {
  makeTempDir,
  type RunningPrometheus,
  type RunningService,
  scrapeConfig,
  startPrometheus,
  startPushgateway,
  waitForQuery,
} from '../helpers/services.js';

const FILES = 23;
/** What restic counts: the tree's files plus the `.nobackup` marker (restic 0.14 keeps the marker, drops the rest of its folder). */
const PROCESSED = FILES + 1;
const HOST = 'nfs-server';

interface ResticSnapshotJson {
  id: string;
  short_id: string;
  time: string;
  tags?: string[];
}

for (const stack of stackMatrix()) {
  const { restic } = stack;
  describe(`backup: the seed queries answered by Prometheus (e2e, ${stack.label})`, {
    skip: stack.skip,
  }, () => {
    const tmp = makeTempDir('resticprom-e2e-backup-');
    const stateDir = join(tmp.dir, 'state');
    const configFile = join(tmp.dir, 'resticprom.yaml');
    let gw: RunningService;
    let prom: RunningPrometheus;
    let repo: TestRepo;
    let daily: RunRecord;
    let subDaily: RunRecord;

    before(async () => {
      await ensureBuilt();
      gw = await startPushgateway({ bin: stack.pushgateway.bin });
      prom = await startPrometheus({
        bin: stack.prometheus.bin,
        config: scrapeConfig([{ job: 'pushgateway', target: `127.0.0.1:${gw.port}` }]),
      });
      repo = makeRepo(tmp.dir, 'e2e-backup-password', { restic: restic.bin });
      const tree = makeSourceTree(join(tmp.dir, 'nfs'), { files: FILES, bytes: 1500 });
      // A directory holding `.nobackup` is skipped with its content, as the seed's script does.
      mkdirSync(join(tree.dir, 'scratch'));
      writeFileSync(join(tree.dir, 'scratch', '.nobackup'), '');
      writeFileSync(join(tree.dir, 'scratch', 'big.tmp'), 'not backed up\n');
      writeFileSync(
        configFile,
        `state-dir: ${stateDir}
hostname: ${HOST}
restic-binary: ${restic.bin}
profiles:
  nfs:
    repository: ${repo.repository}
    password-file: ${repo.passwordFile}
    env: { RESTIC_CACHE_DIR: ${repo.cacheDir} }
    paths: [${tree.dir}]
    exclude-if-present: [.nobackup]
    cpu-limit: 1
    tiers:
      sub-daily: { schedule: "0 */4 * * *" }
      daily:     { schedule: "30 1 * * *" }
      weekly:    { schedule: "0 3 * * 0" }
      monthly:   { schedule: "0 4 1 * *" }
    metrics:
      job: nfs_backup
      grouping: { instance: "{tier}" }
      pushgateway: { url: "${gw.url}" }
`,
        { mode: 0o600 },
      );
      // The second run finds the first snapshot as its parent: every file is unchanged.
      for (const tier of ['daily', 'sub-daily']) {
        const r = await runCli(['backup', '--config', configFile, '--tier', tier], {
          env: { HOME: tmp.dir },
        });
        assert.equal(r.code, ExitCode.OK, `backup --tier ${tier}: ${r.stderr}`);
        assert.match(
          r.stderr,
          new RegExp(
            `^backup nfs/${tier} succeeded in .*, ${PROCESSED} files \\(${tier === 'daily' ? PROCESSED : 0} new, 0 changed\\)`,
            'm',
          ),
        );
        assert.match(r.stderr, new RegExp(`^metrics delivered to pushgateway ${gw.url}$`, 'm'));
      }
      const history = readHistory(stateDir);
      assert.deepEqual(
        history.map((h) => [h.kind, h.tier, h.outcome]),
        [
          ['backup', 'daily', 'success'],
          ['backup', 'sub-daily', 'success'],
        ],
      );
      [daily, subDaily] = history as [RunRecord, RunRecord];
    });

    after(async () => {
      await prom?.stop();
      await gw?.stop();
      tmp.cleanup();
    });

    it('restic_backup_processed_files{instance="sub-daily",job="nfs_backup"} is the number of files backed up', async () => {
      const r = await waitForQuery(
        prom.url,
        'restic_backup_processed_files{instance="sub-daily",job="nfs_backup"}',
        (x) => x.length === 1,
      );
      assert.equal(r[0]?.value[1], String(PROCESSED));
      // The files of the snapshot as restic lists them: the tree's, the marker, nothing else of scratch/.
      const files = resticSync(repo, ['ls', '--json', '--tag', 'sub-daily', 'latest'], { restic: restic.bin })
        .split('\n')
        .filter((l) => l.includes('"struct_type":"node"'))
        .map((l) => JSON.parse(l) as { type: string; name: string })
        .filter((n) => n.type === 'file');
      assert.equal(files.length, PROCESSED);
      assert.ok(files.some((f) => f.name === '.nobackup'));
      assert.ok(!files.some((f) => f.name === 'big.tmp'));
      assert.equal((subDaily.summary as { totalFilesProcessed: number }).totalFilesProcessed, PROCESSED);
      // Every series carries the profile, tier and host; instance and job come from the grouping.
      assert.deepEqual(r[0]?.metric, {
        __name__: 'restic_backup_processed_files',
        instance: 'sub-daily',
        job: 'nfs_backup',
        profile: 'nfs',
        tier: 'sub-daily',
        host: HOST,
      });
    });

    it('avg_over_time(restic_backup_time{instance="daily",job="nfs_backup"}[1d]) is the daily run\'s time', async () => {
      const group = await gatewayGroup(gw.url, { job: 'nfs_backup', instance: 'daily' });
      const pushed = groupValue(group, 'restic_backup_time');
      assert.ok(pushed !== undefined && pushed > 0, `pushed restic_backup_time: ${pushed}`);
      const r = await waitForQuery(
        prom.url,
        'avg_over_time(restic_backup_time{instance="daily",job="nfs_backup"}[1d])',
        (x) => x.length === 1,
      );
      assert.deepEqual(r[0]?.metric, {
        instance: 'daily',
        job: 'nfs_backup',
        profile: 'nfs',
        tier: 'daily',
        host: HOST,
      });
      assert.equal(Number(r[0]?.value[1]), pushed);
      // The time pushed is the run's measured duration; the history's Unix ms bounds agree within a few ms.
      const historyMs = daily.endedAt - daily.startedAt;
      assert.ok(
        Math.abs(pushed * 1000 - historyMs) <= 50,
        `restic_backup_time ${pushed}s vs history ${historyMs}ms`,
      );
    });

    it('absent_over_time(restic_backup_processed_files{job="nfs_backup"}[1d]) is empty', async () => {
      await waitForQuery(prom.url, 'restic_backup_processed_files{job="nfs_backup"}', (x) => x.length === 2);
      const r = await waitForQuery(
        prom.url,
        'absent_over_time(restic_backup_processed_files{job="nfs_backup"}[1d])',
        () => true,
      );
      assert.deepEqual(r, []);
      // The query is not empty for a job that never pushed: the expression itself works.
      const never = await waitForQuery(
        prom.url,
        'absent_over_time(restic_backup_processed_files{job="never_pushed"}[1d])',
        (x) => x.length === 1,
      );
      assert.equal(never[0]?.value[1], '1');
    });

    it(`the last success time is the history end time, build info names restic ${restic.version}, snapshot_info the newest snapshot`, async () => {
      const snapshots = JSON.parse(
        resticSync(repo, ['snapshots', '--json'], { restic: restic.bin }),
      ) as ResticSnapshotJson[];
      assert.equal(snapshots.length, 2);
      for (const run of [daily, subDaily]) {
        const tier = run.tier as string;
        const last = await waitForQuery(
          prom.url,
          `restic_backup_last_success_timestamp_seconds{job="nfs_backup",instance="${tier}"}`,
          (x) => x.length === 1,
        );
        assert.equal(Number(last[0]?.value[1]), run.endedAt / 1000);
        assert.equal(last[0]?.metric.tier, tier);

        const group = await gatewayGroup(gw.url, { job: 'nfs_backup', instance: tier });
        assert.equal(groupValue(group, 'restic_backup_last_success_timestamp_seconds'), run.endedAt / 1000);
        assert.equal(groupValue(group, 'restic_backup_end_timestamp_seconds'), run.endedAt / 1000);
        assert.equal(groupValue(group, 'restic_backup_status'), 2);
        assert.equal(groupValue(group, 'restic_backup_exit_code'), 0);

        const mine = snapshots.filter((s) => s.tags?.includes(tier));
        assert.equal(mine.length, 1);
        const info = await waitForQuery(
          prom.url,
          `restic_backup_snapshot_info{job="nfs_backup",instance="${tier}"}`,
          (x) => x.length === 1,
        );
        // The label is the short id whatever the version reports; the history keeps restic's
        // own: the 8-hex short id from 0.14, the full id from 0.17 on.
        assert.equal(info[0]?.metric.snapshot_id, mine[0]?.short_id);
        assert.equal(
          (run.summary as { snapshotId: string }).snapshotId,
          atLeast(restic, '0.17.0') ? mine[0]?.id : mine[0]?.short_id,
        );
      }
      const build = await waitForQuery(
        prom.url,
        'resticprom_build_info{job="nfs_backup",instance="daily"}',
        (x) => x.length === 1,
      );
      assert.equal(build[0]?.metric.restic_version, restic.version);
      assert.equal(build[0]?.value[1], '1');
    });
  });
}
