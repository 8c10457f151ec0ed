/**
 * What the runners make of the output the real restic 0.18.0 and 0.19.1 printed
 * (test/fixtures/restic/<version>/, captured by scripts/capture-restic-fixtures.mjs), replayed
 * by the fake restic: a check that cannot open the repository, a damaged repository, a source
 * path that does not exist, snapshots forget could not remove, a rest-server answering 401.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runBackup } from '../../src/restic/backup.js';
import { runCheck } from '../../src/restic/check.js';
import { runForget } from '../../src/restic/forget.js';
import { createBackupParser } from '../../src/restic/parse-backup.js';
import { FAKE_RESTIC, fakeResticEnv, resticFixture } from '../helpers/restic.js';
import { makeTempDir } from '../helpers/services.js';

const CAPTURED = ['0.18.0', '0.19.1'] as const;

const replay = (v: string, name: string) => {
  const fx = resticFixture(v, name);
  assert.equal(fx.provenance, 'captured');
  return { fx, opts: { resticBinary: FAKE_RESTIC, env: fakeResticEnv(fx) } };
};

/** Facts of each capture: the pack removed for check-damaged, the snapshots forget could not remove. */
const FACTS = {
  '0.18.0': {
    damagedPack: '3bf44f99bcda9102c012f0609878056e42b6a823fcaee5ae1c82d4d9836e79f0',
    notRemoved: ['31a22481', '51780238', 'bc5771ca'],
    forgetKept: ['51780238', 'bc5771ca'],
  },
  '0.19.1': {
    damagedPack: '85dc8dca7308ce3daca0f7bf580a81cfc1e8004dd5a2e6e9548509ebc3628a2f',
    notRemoved: ['2e427b38', '53a940b2', 'cd648948'],
    forgetKept: ['53a940b2', 'cd648948'],
  },
} as const;

for (const v of CAPTURED) {
  describe(`captured restic ${v} output`, () => {
    for (const [name, exitCode, reason, text] of [
      ['check-wrong-password', 12, 'wrong-password', 'wrong repository password'],
      ['check-repo-missing', 10, 'repository-missing', 'the repository does not exist or cannot be opened'],
      ['check-locked', 11, 'repository-locked', 'the repository is locked by another restic process'],
      [
        'check-unauthorized',
        1,
        'authentication-failed',
        'the repository server refused the credentials (HTTP 401 Unauthorized)',
      ],
    ] as const) {
      it(`${name}: exit ${exitCode} decides, reason ${reason}, no errors counted despite num_errors 1`, async () => {
        const { fx, opts } = replay(v, name);
        assert.equal(fx.exitCode, exitCode);
        const r = await runCheck(opts);
        assert.equal(r.outcome, 'failed');
        assert.equal(r.reason, reason);
        assert.equal(r.exitCode, exitCode);
        assert.equal(r.hasRepositoryErrors, false);
        assert.equal(r.errorCount, 0);
        assert.deepEqual(r.messages, []);
        assert.ok(
          r.message.startsWith(`restic check failed: ${text} (exit ${exitCode}; restic: `),
          r.message,
        );
        assert.doesNotMatch(r.message, /found \d+ error/);
      });
    }

    it('check-damaged: restic num_errors (2) is the count, not the 6 error lines', async () => {
      const { opts } = replay(v, 'check-damaged');
      const r = await runCheck(opts);
      const pack = FACTS[v].damagedPack;
      assert.equal(r.outcome, 'failed');
      assert.equal(r.reason, 'other');
      assert.equal(r.exitCode, 1);
      assert.equal(r.hasRepositoryErrors, true);
      assert.equal(r.errorCount, 2);
      assert.equal(
        r.message,
        `restic check found 2 error(s) in the repository: pack ${pack}: does not exist`,
      );
      // every line restic printed is kept as text, headers and trailers included
      assert.equal(r.messages[0], `pack ${pack}: does not exist`);
      assert.ok(r.messages.some((m) => /^error for tree [0-9a-f]{8}:$/.test(m)));
      assert.ok(r.messages.some((m) => m.startsWith('The repository is damaged and must be repaired.')));
      assert.equal(r.messages.length, 6);
    });

    it('check-ok: no errors', async () => {
      const r = await runCheck(replay(v, 'check-ok').opts);
      assert.equal(r.outcome, 'success');
      assert.equal(r.errorCount, 0);
      assert.equal(r.message, 'restic check found no errors');
    });

    it('backup-source-missing: the missing path is reported and counted', async () => {
      const { fx, opts } = replay(v, 'backup-source-missing');
      const r = await runBackup({ ...opts, paths: ['data', 'missing'] });
      assert.deepEqual(r.errors, [
        { item: 'missing', during: 'scan', message: 'source path does not exist' },
      ]);
      assert.equal(r.errorCount, 1);
      if (v === '0.19.1') {
        // 0.19 exits 3: the snapshot of `data` is written, `missing` is not in it
        assert.equal(fx.exitCode, 3);
        assert.equal(r.outcome, 'incomplete');
        assert.equal(
          r.message,
          `restic backup wrote a snapshot (snapshot ${r.summary?.snapshotId}) but 1 item could not be read`,
        );
      } else {
        // 0.18 exits 0 and says so only in text
        assert.equal(fx.exitCode, 0);
        assert.equal(r.outcome, 'success');
      }
      assert.match(r.summary?.snapshotId ?? '', /^[0-9a-f]{64}$/);
    });

    it('backup-unreadable: the item error reads as in every other version', async () => {
      const r = await runBackup({ ...replay(v, 'backup-unreadable').opts, paths: ['data'] });
      assert.equal(r.outcome, 'incomplete');
      assert.deepEqual(r.errors, [
        {
          item: '/tmp/resticprom-fixture/data/docs/secret.txt',
          during: 'archival',
          message: 'open data/docs/secret.txt: permission denied',
        },
      ]);
    });

    it('backup-unauthorized: a rest-server answering 401 is authentication-failed, not a missing repository', async () => {
      const { opts } = replay(v, 'backup-unauthorized');
      const r = await runBackup({ ...opts, paths: ['data'] });
      assert.equal(r.outcome, 'failed');
      assert.equal(r.reason, 'authentication-failed');
      assert.equal(r.exitCode, 1);
      assert.ok(
        r.message?.startsWith(
          'restic backup failed: the repository server refused the credentials (HTTP 401 Unauthorized) (exit 1; restic: ',
        ),
        r.message,
      );
      // the URL's password never reaches the message (restic masks it, and so do we)
      assert.doesNotMatch(r.message ?? '', /wrong-secret/);
    });

    it('forget: removed and kept as restic reports them', async () => {
      const r = await runForget({ ...replay(v, 'forget').opts, tags: ['daily'], keep: { last: 2 } });
      assert.equal(r.outcome, 'success');
      assert.equal(r.removedCount, 3);
      assert.equal(r.notRemovedCount, 0);
      assert.deepEqual(
        r.groups[0]?.kept.map((id) => id.slice(0, 8)),
        FACTS[v].forgetKept,
      );
      assert.equal(r.message, 'restic forget removed 3 snapshot(s), kept 2');
    });

    it('forget-unremovable: nothing counted as removed, the failure reported', async () => {
      const { fx, opts } = replay(v, 'forget-unremovable');
      // 0.19 exits 3, 0.18 exits 0 although the snapshots are still there
      assert.equal(fx.exitCode, v === '0.19.1' ? 3 : 0);
      const r = await runForget({ ...opts, tags: ['daily'], keep: { last: 1 } });
      assert.equal(r.outcome, 'incomplete');
      assert.equal(r.removedCount, 0);
      assert.equal(r.notRemovedCount, 3);
      assert.equal(r.keptCount, 1);
      const ids = [...FACTS[v].notRemoved];
      assert.deepEqual(r.groups[0]?.notRemoved.map((id) => id.slice(0, 8)).sort(), ids);
      assert.deepEqual(r.groups[0]?.removed, []);
      const says = v === '0.19.1' ? '; restic: failed to remove one or more snapshots' : '';
      const listed = r.groups[0]?.notRemoved.map((id) => id.slice(0, 8)).join(', ');
      assert.equal(
        r.message,
        `restic forget removed 0 snapshot(s), kept 1; 3 could not be removed (${listed})${says}`,
      );
    });
  });
}

describe('captured restic 0.19.1 interrupt', () => {
  it('backup-interrupted: exit 130 is interrupted', async () => {
    const r = await runBackup({ ...replay('0.19.1', 'backup-interrupted').opts, paths: ['data'] });
    assert.equal(r.outcome, 'failed');
    assert.equal(r.reason, 'interrupted');
    assert.equal(r.exitCode, 130);
  });
});

describe('check messages', () => {
  it('an error message restic wraps over several lines is one line', async () => {
    const tmp = makeTempDir('resticprom-check-lines-');
    try {
      const out = join(tmp.dir, 'out');
      const err = join(tmp.dir, 'err');
      writeFileSync(out, '{"message_type":"summary","num_errors":1}\n');
      writeFileSync(
        err,
        '{"message_type":"error","message":"tree 77ee:\\n  blob 12ab\\n  not found\\n"}\n{"message_type":"exit_error","code":1,"message":"Fatal: repository contains errors"}\n',
      );
      const r = await runCheck({
        resticBinary: FAKE_RESTIC,
        env: {
          PATH: process.env.PATH ?? '',
          FAKE_RESTIC_STDOUT: out,
          FAKE_RESTIC_STDERR: err,
          FAKE_RESTIC_EXIT: '1',
        },
      });
      assert.deepEqual(r.messages, ['tree 77ee: blob 12ab not found']);
      assert.equal(
        r.message,
        'restic check found 1 error(s) in the repository: tree 77ee: blob 12ab not found',
      );
    } finally {
      tmp.cleanup();
    }
  });
});

describe('skipped source paths', () => {
  it('every skipped path is an item error: does not exist, and (0.19.1) cannot be accessed', () => {
    const seen: string[] = [];
    const p = createBackupParser({ onItemError: (e) => seen.push(e.item) });
    p.push('/srv/gone does not exist, skipping', 'stderr');
    p.push('\x1b[2Kprivate/inner cannot be accessed, skipping', 'stderr');
    p.push('/srv/x: does not exist, skipping it later', 'stderr'); // not restic's line
    const r = p.result();
    assert.equal(r.errorCount, 2);
    assert.deepEqual(r.errors, [
      { item: '/srv/gone', during: 'scan', message: 'source path does not exist' },
      { item: 'private/inner', during: 'scan', message: 'source path cannot be accessed' },
    ]);
    assert.deepEqual(seen, ['/srv/gone', 'private/inner']);
  });
});

describe('captured restic 0.14.0 output (exit 1 for every failure, the reason in text)', () => {
  for (const [name, reason] of [
    ['check-wrong-password', 'wrong-password'],
    ['check-repo-missing', 'repository-missing'],
    ['check-locked', 'repository-locked'],
    ['check-unauthorized', 'authentication-failed'],
  ] as const) {
    it(`${name}: reason ${reason}, no errors counted`, async () => {
      const { fx, opts } = replay('0.14.0', name);
      assert.equal(fx.exitCode, 1);
      const r = await runCheck(opts);
      assert.equal(r.outcome, 'failed');
      assert.equal(r.reason, reason);
      assert.equal(r.hasRepositoryErrors, false);
      assert.equal(r.errorCount, 0);
    });
  }

  it('backup-unauthorized: "Is there a repository" after a 401 is authentication-failed', async () => {
    const r = await runBackup({ ...replay('0.14.0', 'backup-unauthorized').opts, paths: ['data'] });
    assert.equal(r.reason, 'authentication-failed');
    assert.equal(
      r.message,
      'restic backup failed: the repository server refused the credentials (HTTP 401 Unauthorized) (exit 1; restic: unable to open config file: unexpected HTTP response (401): 401 Unauthorized)',
    );
  });

  it('backup-source-missing: exit 0, the skipped path counted', async () => {
    const r = await runBackup({
      ...replay('0.14.0', 'backup-source-missing').opts,
      paths: ['data', 'missing'],
    });
    assert.equal(r.outcome, 'success');
    assert.deepEqual(r.errors, [{ item: 'missing', during: 'scan', message: 'source path does not exist' }]);
  });

  it('forget-unremovable: exit 1 after restic retried, nothing counted as removed', async () => {
    const r = await runForget({ ...replay('0.14.0', 'forget-unremovable').opts, keep: { last: 1 } });
    assert.equal(r.outcome, 'failed');
    assert.equal(r.reason, 'other');
    assert.equal(r.removedCount, 0);
    assert.match(
      r.message,
      /^restic forget failed \(exit 1; restic: remove \/tmp\/resticprom-fixture\/repo\/snapshots\/[0-9a-f]{64}: permission denied\)$/,
    );
  });
});
