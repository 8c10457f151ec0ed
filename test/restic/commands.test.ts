import assert from 'node:assert/strict';
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ResticCommandError, ResticError } from '../../src/errors.js';
import { runBackup } from '../../src/restic/backup.js';
import { buildCheckArgs, runCheck } from '../../src/restic/check.js';
import { buildForgetArgs, runForget } from '../../src/restic/forget.js';
import { listSnapshots } from '../../src/restic/snapshots.js';
import { runStats } from '../../src/restic/stats.js';
import { getResticVersion, isResticAtLeast, parseResticVersion } from '../../src/restic/version.js';
import { FAKE_RESTIC, makeRepo, makeSourceTree, resticSync, type TestRepo } from '../helpers/restic.js';
import { makeTempDir } from '../helpers/services.js';

describe('restic version', () => {
  it('parses the real restic 0.14.0', async () => {
    const v = await getResticVersion();
    assert.equal(v.version, '0.14.0');
    assert.deepEqual([v.major, v.minor, v.patch], [0, 14, 0]);
    assert.match(v.goVersion ?? '', /^go1\.\d+/);
    assert.equal(v.platform, `linux/${process.arch === 'x64' ? 'amd64' : process.arch}`);
    assert.equal(isResticAtLeast(v, '0.14.0'), true);
    assert.equal(isResticAtLeast(v, '0.17.1'), false);
  });

  it('answers the fake restic with its version, cached per binary', async () => {
    const env = { PATH: process.env.PATH ?? '', FAKE_RESTIC_VERSION: '0.18.1' };
    const v = await getResticVersion({ resticBinary: FAKE_RESTIC, env });
    assert.equal(v.version, '0.18.1');
    const again = await getResticVersion({
      resticBinary: FAKE_RESTIC,
      env: { ...env, FAKE_RESTIC_VERSION: '9.9.9' },
    });
    assert.equal(again.version, '0.18.1');
    const fresh = await getResticVersion({
      resticBinary: FAKE_RESTIC,
      env: { ...env, FAKE_RESTIC_VERSION: '0.19.0' },
      useCache: false,
    });
    assert.equal(fresh.version, '0.19.0');
  });

  it('parses dev builds and rejects other text', () => {
    assert.equal(
      parseResticVersion('restic 0.17.0-dev (compiled manually) compiled with go1.22.1 on linux/arm64')
        ?.version,
      '0.17.0-dev',
    );
    assert.equal(parseResticVersion('bash: restic: command not found'), undefined);
  });

  it('a missing binary throws ResticError', async () => {
    await assert.rejects(getResticVersion({ resticBinary: '/nonexistent/restic' }), (e: unknown) => {
      assert.ok(e instanceof ResticError);
      assert.equal(e.message, 'cannot start restic version (/nonexistent/restic): not found');
      return true;
    });
  });
});

describe('forget, check, stats, snapshots with the real restic', () => {
  let tmp: { dir: string; cleanup: () => void };
  let repo: TestRepo;
  let base: { repository: string; password: { file: string }; env: NodeJS.ProcessEnv; cwd: string };
  const ids: Record<string, string[]> = { daily: [], weekly: [] };

  before(async () => {
    tmp = makeTempDir('resticprom-cmds-');
    repo = makeRepo(tmp.dir, 'another secret');
    base = {
      repository: repo.repository,
      password: { file: repo.passwordFile },
      env: repo.env,
      cwd: tmp.dir,
    };
    const src = join(tmp.dir, 'src');
    makeSourceTree(src, { files: 12, bytes: 3000 });
    for (const [i, tag] of ['daily', 'daily', 'weekly', 'daily'].entries()) {
      writeFileSync(join(src, 'd0', 'changing.txt'), `run ${i}`);
      const r = await runBackup({ ...base, paths: ['src'], tags: [tag] });
      assert.equal(r.outcome, 'success', r.message);
      ids[tag]?.push(r.summary?.snapshotId ?? '');
    }
  });
  after(() => tmp.cleanup());

  it('listSnapshots returns every snapshot, oldest first, and filters by tag', async () => {
    const all = await listSnapshots(base);
    assert.deepEqual(
      all.map((s) => s.shortId),
      [ids.daily?.[0], ids.daily?.[1], ids.weekly?.[0], ids.daily?.[2]],
    );
    const first = all[0];
    assert.ok(first);
    assert.match(first.id, /^[0-9a-f]{64}$/);
    assert.equal(first.id.slice(0, 8), first.shortId);
    assert.deepEqual(first.tags, ['daily']);
    assert.deepEqual(first.paths, [join(tmp.dir, 'src')]);
    assert.equal(first.summary, undefined); // restic 0.14 stores none
    assert.ok(Math.abs(first.time - Date.now()) < 10 * 60_000);
    assert.equal(all[1]?.parent, first.id);
    const weekly = await listSnapshots({ ...base, tags: ['weekly'] });
    assert.deepEqual(
      weekly.map((s) => s.shortId),
      ids.weekly,
    );
  });

  it('runStats restore-size counts the files of every snapshot', async () => {
    const s = await runStats({ ...base, mode: 'restore-size' });
    assert.equal(s.mode, 'restore-size');
    assert.equal(s.snapshotsCount, 4);
    // each snapshot: 12 files of 3000 bytes + changing.txt (5 bytes); plus the directories
    assert.equal(s.totalFileCount, 4 * 13 + 4 * 3);
    assert.ok(s.totalSize >= 4 * (12 * 3000 + 5));
  });

  it('runStats raw-data reports blobs and the stored size', async () => {
    const s = await runStats({ ...base, mode: 'raw-data' });
    assert.equal(s.snapshotsCount, 4);
    // 12 distinct files + 4 versions of changing.txt = 16 data blobs, plus tree blobs
    assert.ok((s.totalBlobCount ?? 0) >= 16);
    assert.ok(s.totalSize >= 12 * 3000);
    assert.equal(s.compressionRatio, undefined); // 0.14 has no compression
  });

  it('runStats with a wrong password throws ResticCommandError wrong-password', async () => {
    await assert.rejects(runStats({ ...base, password: { value: 'wrong' } }), (e: unknown) => {
      assert.ok(e instanceof ResticCommandError);
      assert.equal(e.reason, 'wrong-password');
      assert.equal(e.command, 'stats');
      assert.equal(e.exitCode, 1);
      return true;
    });
  });

  it('runForget --dry-run reports kept and removed per group without removing', async () => {
    const r = await runForget({ ...base, tags: ['daily'], keep: { last: 1 }, dryRun: true });
    assert.equal(r.outcome, 'success', r.message);
    assert.equal(r.groups.length, 1);
    assert.equal(r.keptCount, 1);
    assert.equal(r.removedCount, 2);
    assert.equal(r.groups[0]?.kept[0]?.slice(0, 8), ids.daily?.[2]);
    assert.deepEqual(
      r.groups[0]?.removed.map((id) => id.slice(0, 8)).sort(),
      [ids.daily?.[0], ids.daily?.[1]].sort(),
    );
    assert.equal(r.message, 'restic forget would remove 2 snapshot(s), kept 1');
    assert.equal((await listSnapshots(base)).length, 4);
  });

  it('runForget --prune removes the tier snapshots, leaves other tiers, keeps prune text as log', async () => {
    const r = await runForget({ ...base, tags: ['daily'], keep: { last: 1 }, prune: true });
    assert.equal(r.outcome, 'success', r.message);
    assert.equal(r.removedCount, 2);
    assert.ok(r.log.some((l) => l.startsWith('loading indexes')));
    assert.ok(r.log.includes('done'));
    const left = await listSnapshots(base);
    assert.deepEqual(left.map((s) => s.shortId).sort(), [ids.weekly?.[0], ids.daily?.[2]].sort());
  });

  it('runCheck on a healthy repository finds no errors', async () => {
    const r = await runCheck({ ...base, readDataSubset: '1/2' });
    assert.equal(r.outcome, 'success', r.message);
    assert.equal(r.errorCount, 0);
    assert.deepEqual(r.messages, []);
    assert.equal(r.exitCode, 0);
    assert.equal(r.message, 'restic check found no errors');
  });

  it('runCheck on a repository with a deleted pack file reports the errors', async () => {
    const broken = join(tmp.dir, 'broken-repo');
    cpSync(repo.repository, broken, { recursive: true });
    // delete a pack holding only file data: a missing tree pack makes restic 0.14 retry for minutes
    const indexIds = resticSync(repo, ['list', 'index']).trim().split('\n');
    let pack: string | undefined;
    for (const id of indexIds) {
      const index = JSON.parse(resticSync(repo, ['cat', 'index', id])) as {
        packs: Array<{ id: string; blobs: Array<{ type: string }> }>;
      };
      pack = index.packs.find((p) => p.blobs.every((b) => b.type === 'data'))?.id;
      if (pack) break;
    }
    assert.ok(pack);
    rmSync(join(broken, 'data', pack.slice(0, 2), pack));
    const r = await runCheck({ ...base, repository: broken });
    assert.equal(r.outcome, 'failed');
    assert.equal(r.reason, 'other');
    assert.equal(r.hasRepositoryErrors, true);
    assert.equal(r.exitCode, 1);
    assert.equal(r.errorCount, 1);
    assert.deepEqual(r.messages, [`pack ${pack}: does not exist`]);
    assert.equal(r.message, `restic check found 1 error(s) in the repository: pack ${pack}: does not exist`);
  });

  it('runCheck on a missing repository is repository-missing, not errors', async () => {
    const r = await runCheck({ ...base, repository: join(tmp.dir, 'nothing-here') });
    assert.equal(r.outcome, 'failed');
    assert.equal(r.reason, 'repository-missing');
    assert.equal(r.errorCount, 0);
    assert.equal(r.hasRepositoryErrors, false);
  });
});

describe('argv builders', () => {
  it('forget: tags, every keep flag, group-by, prune, dry-run', () => {
    assert.deepEqual(
      buildForgetArgs({
        tags: ['monthly'],
        keep: {
          last: 12,
          hourly: 1,
          daily: 2,
          weekly: 3,
          monthly: 4,
          yearly: 5,
          within: '2d',
          tags: ['keep'],
        },
        groupBy: 'host,paths',
        prune: true,
        dryRun: true,
      }),
      [
        'forget',
        '--json',
        '--tag',
        'monthly',
        '--keep-last',
        '12',
        '--keep-hourly',
        '1',
        '--keep-daily',
        '2',
        '--keep-weekly',
        '3',
        '--keep-monthly',
        '4',
        '--keep-yearly',
        '5',
        '--keep-within',
        '2d',
        '--keep-tag',
        'keep',
        '--group-by',
        'host,paths',
        '--prune',
        '--dry-run',
      ],
    );
    assert.throws(
      () => buildForgetArgs({ keep: { last: -1 } }),
      /keep.last must be a whole number >= 0, got -1/,
    );
  });

  it('check: read-data-subset', () => {
    assert.deepEqual(buildCheckArgs({ readDataSubset: '5%' }), ['check', '--json', '--read-data-subset=5%']);
  });
});

describe('newer restic output, replayed by the fake restic', () => {
  let tmp: { dir: string; cleanup: () => void };
  before(() => {
    tmp = makeTempDir('resticprom-newer-');
  });
  after(() => tmp.cleanup());

  const fake = (name: string, stdout: string, stderr: string, exit: number): NodeJS.ProcessEnv => {
    const out = join(tmp.dir, `${name}.out`);
    const err = join(tmp.dir, `${name}.err`);
    writeFileSync(out, stdout);
    writeFileSync(err, stderr);
    return {
      PATH: process.env.PATH ?? '',
      FAKE_RESTIC_STDOUT: out,
      FAKE_RESTIC_STDERR: err,
      FAKE_RESTIC_EXIT: String(exit),
    };
  };

  it('check 0.18+: num_errors of the JSON summary and the error messages', async () => {
    const env = fake(
      'check',
      '{"message_type":"summary","num_errors":2,"broken_packs":["0a1b"],"suggest_repair_index":true,"suggest_prune":false}\n',
      '{"message_type":"error","message":"pack 0a1b: does not exist"}\n{"message_type":"error","message":"tree 77ee: blob 12ab not found"}\n{"message_type":"exit_error","code":1,"message":"repository contains errors"}\n',
      1,
    );
    const r = await runCheck({ resticBinary: FAKE_RESTIC, env });
    assert.equal(r.outcome, 'failed');
    assert.equal(r.errorCount, 2);
    assert.deepEqual(r.messages, ['pack 0a1b: does not exist', 'tree 77ee: blob 12ab not found']);
    assert.equal(r.hasRepositoryErrors, true);
  });

  it('stats 0.15+: compression fields', async () => {
    const env = fake(
      'stats',
      '{"total_size":1000,"total_uncompressed_size":4000,"compression_ratio":4,"compression_progress":100,"compression_space_saving":75,"total_blob_count":9,"snapshots_count":2}\n',
      '',
      0,
    );
    const { durationMs, ...stats } = await runStats({ resticBinary: FAKE_RESTIC, env, mode: 'raw-data' });
    assert.ok(durationMs > 0);
    assert.deepEqual(stats, {
      mode: 'raw-data',
      totalSize: 1000,
      totalBlobCount: 9,
      snapshotsCount: 2,
      totalUncompressedSize: 4000,
      compressionRatio: 4,
      compressionProgress: 100,
      compressionSpaceSaving: 75,
    });
  });

  it('snapshots 0.17+: the stored summary', async () => {
    const env = fake(
      'snapshots',
      '[{"time":"2025-06-01T10:00:00.5+02:00","tree":"ab","paths":["/srv"],"hostname":"h","username":"root","tags":["daily"],"program_version":"restic 0.17.3","summary":{"backup_start":"2025-06-01T10:00:00.5+02:00","backup_end":"2025-06-01T10:00:02.75+02:00","files_new":1,"files_changed":2,"files_unmodified":3,"dirs_new":4,"dirs_changed":5,"dirs_unmodified":6,"data_blobs":7,"tree_blobs":8,"data_added":900,"data_added_packed":300,"total_files_processed":6,"total_bytes_processed":12345},"id":"fe7ef11e237f148171aacce4a1d5c7ce0a55b3044e4286119fe025c683ab2c38","short_id":"fe7ef11e"}]\n',
      '',
      0,
    );
    const [s] = await listSnapshots({ resticBinary: FAKE_RESTIC, env });
    assert.equal(s?.time, Date.UTC(2025, 5, 1, 8, 0, 0, 500));
    assert.deepEqual(s?.summary, {
      filesNew: 1,
      filesChanged: 2,
      filesUnmodified: 3,
      dirsNew: 4,
      dirsChanged: 5,
      dirsUnmodified: 6,
      dataBlobs: 7,
      treeBlobs: 8,
      dataAdded: 900,
      dataAddedPacked: 300,
      totalFilesProcessed: 6,
      totalBytesProcessed: 12345,
      backupStart: Date.UTC(2025, 5, 1, 8, 0, 0, 500),
      backupEnd: Date.UTC(2025, 5, 1, 8, 0, 2, 750),
    });
  });

  it('a 0.18 failure: exit 12 with exit_error is wrong-password', async () => {
    const env = fake(
      'pw',
      '',
      '{"message_type":"exit_error","code":12,"message":"wrong password or no key found"}\n',
      12,
    );
    await assert.rejects(listSnapshots({ resticBinary: FAKE_RESTIC, env }), (e: unknown) => {
      assert.ok(e instanceof ResticCommandError);
      assert.equal(e.reason, 'wrong-password');
      assert.equal(
        e.message,
        'restic snapshots failed: wrong repository password (exit 12; restic: wrong password or no key found)',
      );
      return true;
    });
  });
});
