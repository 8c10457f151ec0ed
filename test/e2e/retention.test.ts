/**
 * End to end, retention per tier and repository sizes with the real restic of each matrix
 * version and the real Pushgateway, on a repository the test builds with snapshots at
 * chosen times (`restic backup --time`): a daily tier with a gap of missed backups keeps
 * fewer snapshots than its keep-last promises; an hourly tier that forget never trims
 * keeps far more; `stats` sizes every snapshot (summaries, or restore-size once for
 * older ones) and caches what it measured; `forget` pushes the same figures.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { snapshotSizesPath } from '../../src/jobs/snapshot-sizes.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { gatewayGroup } from '../helpers/e2e.js';
import { resticMatrix } from '../helpers/matrix.js';
import { makeRepo, makeSourceTree, resticSync, type TestRepo } from '../helpers/restic.js';
import { groupValues, makeTempDir, type RunningService, startPushgateway } from '../helpers/services.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** restic's `--time` format, in UTC (restic runs with TZ=UTC here). */
function resticTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

for (const restic of resticMatrix()) {
  describe(`retention per tier and snapshot sizes (e2e, restic ${restic.version})`, {
    skip: restic.skip,
  }, () => {
    const tmp = makeTempDir('resticprom-e2e-retention-');
    const stateDir = join(tmp.dir, 'state');
    const configFile = join(tmp.dir, 'resticprom.yaml');
    const env = { HOME: tmp.dir, TZ: 'UTC' };
    let gw: RunningService;
    let repo: TestRepo;
    let srcDir: string;
    /** Snapshot times by tier, Unix ms. */
    const times: Record<string, number[]> = { daily: [], hourly: [] };
    const today3am = Math.floor(Date.now() / DAY) * DAY + 3 * HOUR;
    const lastDaily = today3am <= Date.now() - 2 * HOUR ? today3am : today3am - DAY;

    const cli = (args: string[]) => runCli([...args, '--config', configFile], { env, timeoutMs: 180_000 });
    const backupAt = (tier: string, t: number) => {
      writeFileSync(join(srcDir, 'changing.txt'), `${tier} ${t}\n`);
      resticSync(
        { ...repo, env: { ...repo.env, TZ: 'UTC' } },
        ['backup', '--quiet', '--tag', tier, '--time', resticTime(t), srcDir],
        { restic: restic.bin },
      );
      times[tier]?.push(t);
    };
    const perTag = async (instance: string, family: string) => {
      const g = await gatewayGroup(gw.url, { job: 'nfs_backup', instance });
      return Object.fromEntries(groupValues(g, family).map((v) => [v.labels.tag, Number(v.value)]));
    };

    before(async () => {
      await ensureBuilt();
      gw = await startPushgateway();
      repo = makeRepo(tmp.dir, 'e2e-retention-password', { restic: restic.bin });
      srcDir = makeSourceTree(join(tmp.dir, 'nfs'), { files: 12, bytes: 3000 }).dir;
      writeFileSync(
        configFile,
        `state-dir: ${stateDir}
restic-binary: ${restic.bin}
hostname: e2e-host
timezone: UTC
profiles:
  nfs:
    repository: ${repo.repository}
    password-file: ${repo.passwordFile}
    env: { RESTIC_CACHE_DIR: ${repo.cacheDir} }
    paths: [${srcDir}]
    tiers:
      daily:  { schedule: "0 3 * * *", keep-last: 7 }
      hourly: { schedule: "0 * * * *", keep-last: 2 }
    metrics:
      job: nfs_backup
      grouping: { instance: "{tier}" }
      pushgateway: { url: "${gw.url}", retries: 0 }
`,
        { mode: 0o600 },
      );
      // Daily at 03:00 for ten days, but the backups of days 3 to 6 before the last were missed.
      for (let d = 9; d >= 0; d--) if (d < 3 || d > 6) backupAt('daily', lastDaily - d * DAY);
      // Hourly for the last six hours, never trimmed by forget.
      const hour = Math.floor(Date.now() / HOUR) * HOUR;
      for (let h = 6; h >= 1; h--) backupAt('hourly', hour - h * HOUR);
    });

    after(async () => {
      await gw?.stop();
      tmp.cleanup();
    });

    it('stats measures each tier against its policy: fewer after missed backups, far more without forget', async () => {
      const r = await cli(['stats']);
      assert.equal(r.code, ExitCode.OK, r.stderr);
      assert.deepEqual(await perTag('stats', 'restic_tier_snapshots'), { daily: 6, hourly: 6 });
      // keep-last 7 on a tier ten days old: 7; keep-last 2 on the hourly tier: 2.
      assert.deepEqual(await perTag('stats', 'restic_tier_snapshots_expected'), { daily: 7, hourly: 2 });
      assert.deepEqual(await perTag('stats', 'restic_tier_largest_gap_seconds'), {
        daily: (5 * DAY) / 1000,
        hourly: HOUR / 1000,
      });
      assert.deepEqual(await perTag('stats', 'restic_tier_schedule_interval_seconds'), {
        daily: DAY / 1000,
        hourly: HOUR / 1000,
      });
      const age = await perTag('stats', 'restic_tier_oldest_snapshot_age_seconds');
      const oldest = Math.min(...(times.daily as number[]));
      const expectedAge = (Date.now() - oldest) / 1000;
      assert.ok(Math.abs((age.daily ?? 0) - expectedAge) < 300, `${age.daily} vs ${expectedAge}`);
    });

    it('stats sums every snapshot restic restores, measuring each only once', async () => {
      const all = JSON.parse(resticSync(repo, ['snapshots', '--json'], { restic: restic.bin })) as {
        id: string;
        tags: string[];
        time: string;
      }[];
      const sizeOf = (id: string) =>
        (
          JSON.parse(
            resticSync(repo, ['stats', '--json', '--mode', 'restore-size', id], { restic: restic.bin }),
          ) as { total_size: number }
        ).total_size;
      const sizes = new Map(all.map((s) => [s.id, sizeOf(s.id)]));
      const g = await gatewayGroup(gw.url, { job: 'nfs_backup', instance: 'stats' });
      assert.equal(
        Number(groupValues(g, 'restic_stats_restore_size_bytes')[0]?.value),
        [...sizes.values()].reduce((a, b) => a + b, 0),
      );
      const newest = (tag: string) =>
        all
          .filter((s) => s.tags.includes(tag))
          .sort((a, b) => Date.parse(a.time) - Date.parse(b.time))
          .at(-1)?.id ?? '';
      assert.deepEqual(await perTag('stats', 'restic_tier_latest_snapshot_size_bytes'), {
        daily: sizes.get(newest('daily')),
        hourly: sizes.get(newest('hourly')),
      });
      // Measured with restore-size and cached: each tier's newest; with restic before 0.17
      // (no summaries) every snapshot.
      const cached =
        (
          JSON.parse(readFileSync(snapshotSizesPath(stateDir), 'utf8')) as Record<
            string,
            Record<string, number>
          >
        ).nfs ?? {};
      const hasSummaries = restic.version !== '0.14.0';
      assert.deepEqual(
        Object.keys(cached).sort(),
        (hasSummaries ? [newest('daily'), newest('hourly')] : all.map((s) => s.id)).sort(),
      );
      for (const [id, n] of Object.entries(cached)) assert.equal(n, sizes.get(id));
      // A second run measures nothing new: the same figures from the cache and the summaries.
      const again = await cli(['stats', '--json']);
      assert.equal(again.code, ExitCode.OK, again.stderr);
      const printed = JSON.parse(again.stdout) as { sizeSources: Record<string, number> };
      assert.equal(printed.sizeSources['restore-size'], 0);
      assert.equal(printed.sizeSources.cache, Object.keys(cached).length);
    });

    it('forget pushes the tier retention after it trimmed the tier', async () => {
      const r = await cli(['forget', '--tier', 'hourly']);
      assert.equal(r.code, ExitCode.OK, r.stderr);
      assert.deepEqual(await perTag('hourly', 'restic_tier_snapshots'), { hourly: 2 });
      assert.deepEqual(await perTag('hourly', 'restic_tier_snapshots_expected'), { hourly: 2 });
      assert.deepEqual(await perTag('hourly', 'restic_tier_largest_gap_seconds'), { hourly: HOUR / 1000 });
    });
  });
}
