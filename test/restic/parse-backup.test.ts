import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { classifyResticExit } from '../../src/restic/exit-codes.js';
import { createBackupParser } from '../../src/restic/parse-backup.js';
import type { BackupProgress } from '../../src/restic/types.js';
import { FIXTURE_VERSIONS, resticFixture } from '../helpers/restic.js';

function parseFixture(version: string, name: string, onProgress?: (p: BackupProgress) => void) {
  const fx = resticFixture(version, name);
  const parser = createBackupParser(onProgress ? { onProgress } : {});
  for (const l of readFileSync(fx.stdoutFile, 'utf8').split('\n')) parser.push(l, 'stdout');
  for (const l of readFileSync(fx.stderrFile, 'utf8').split('\n')) parser.push(l, 'stderr');
  return { fx, r: parser.result() };
}

// The numbers of the captured 0.14.0 run (test/fixtures/restic/0.14.0/backup-success.jsonl); the
// reconstructed 0.15-0.17 fixtures carry them too, and the captured 0.18.0 and 0.19.1 runs of the
// same source tree (scripts/capture-restic-fixtures.mjs) give the same counts and sizes.
const SUCCESS = {
  filesNew: 3,
  filesChanged: 0,
  filesUnmodified: 0,
  dirsNew: 3,
  dirsChanged: 0,
  dirsUnmodified: 0,
  dataBlobs: 3,
  treeBlobs: 4,
  dataAdded: 14168,
  totalFilesProcessed: 3,
  totalBytesProcessed: 12061,
  dryRun: false,
};
const FULL_ID = 'fe7ef11e237f148171aacce4a1d5c7ce0a55b3044e4286119fe025c683ab2c38';
const RECONSTRUCTED_PROGRESS = {
  percentDone: 0,
  totalFiles: 1,
  filesDone: 0,
  totalBytes: 13,
  bytesDone: 0,
  secondsElapsed: 0,
  errorCount: 0,
  currentFiles: [],
};

/** What each version's backup-success fixture holds besides {@link SUCCESS}. */
function successFacts(v: string) {
  if (v === '0.18.0') {
    return {
      snapshotId: 'bce0e2e2fee2d310fb6af7de888cdf79e4b9a9f0a78498921ced248459ecbb56',
      dataAddedPacked: 1539,
      backupStart: '2026-12-02T04:13:42.423605204Z',
      backupEnd: '2026-12-02T04:13:43.565032431Z',
      totalDuration: 1.141427197,
      scanSeconds: 0.009314646,
      statusLines: 2,
      lastProgress: {
        percentDone: 1,
        totalFiles: 3,
        filesDone: 3,
        totalBytes: 12061,
        bytesDone: 12061,
        secondsElapsed: 0,
        errorCount: 0,
        currentFiles: [],
      } as BackupProgress | undefined,
    };
  }
  if (v === '0.19.1') {
    // 0.19 prints status lines at most 10 times a second: this short run printed none
    return {
      snapshotId: '0d741cad8abb455f262aeb7296d340c0f916e7e169c64b110ce51a819699a393',
      dataAddedPacked: 1541,
      backupStart: '2026-12-02T04:13:06.012089708Z',
      backupEnd: '2026-12-02T04:13:06.725519282Z',
      totalDuration: 0.713429544,
      scanSeconds: 0.032826464,
      statusLines: 0,
      lastProgress: undefined,
    };
  }
  return {
    snapshotId: v === '0.14.0' ? 'fe7ef11e' : FULL_ID,
    dataAddedPacked: v >= '0.17' ? 4721 : undefined,
    backupStart: undefined,
    backupEnd: undefined,
    totalDuration: 0.210856412,
    scanSeconds: 0.202855307,
    statusLines: 1,
    lastProgress: RECONSTRUCTED_PROGRESS as BackupProgress | undefined,
  };
}

describe('backup parser on every version fixture', () => {
  for (const v of FIXTURE_VERSIONS) {
    it(`${v}: success gives the same summary`, () => {
      const { r } = parseFixture(v, 'backup-success');
      const facts = successFacts(v);
      assert.ok(r.summary);
      const { snapshotId, dataAddedPacked, backupStart, backupEnd, totalDuration, ...common } = r.summary;
      assert.deepEqual(common, SUCCESS);
      assert.equal(snapshotId, facts.snapshotId);
      assert.equal(dataAddedPacked, facts.dataAddedPacked);
      assert.equal(backupStart, facts.backupStart);
      assert.equal(backupEnd, facts.backupEnd);
      assert.equal(totalDuration, facts.totalDuration);
      // scan_finished is not progress, whatever its tag (status in 0.14/0.15)
      assert.deepEqual(r.scanTotals, {
        totalFiles: 3,
        totalBytes: 12061,
        durationSeconds: facts.scanSeconds,
      });
      assert.equal(r.statusLines, facts.statusLines);
      assert.equal(r.verboseLines, 6);
      assert.equal(r.errorCount, 0);
      assert.equal(r.malformedLines, 0);
      assert.equal(r.nonJsonLines, 0);
      assert.deepEqual(r.lastProgress, facts.lastProgress);
    });

    it(`${v}: the scan_finished line never reaches onProgress`, () => {
      const seen: BackupProgress[] = [];
      const { r } = parseFixture(v, 'backup-success', (p) => seen.push(p));
      const facts = successFacts(v);
      assert.equal(seen.length, facts.statusLines);
      assert.deepEqual(seen.at(-1), facts.lastProgress);
      assert.equal(r.statusLines, facts.statusLines);
    });

    it(`${v}: changed run gives files_new/changed exact`, () => {
      const { r } = parseFixture(v, 'backup-changed');
      assert.equal(r.summary?.filesNew, 1);
      assert.equal(r.summary?.filesChanged, 1);
      assert.equal(r.summary?.filesUnmodified, 2);
      assert.equal(r.summary?.totalFilesProcessed, 4);
    });

    it(`${v}: unreadable file gives the same item error and is incomplete`, () => {
      const { fx, r } = parseFixture(v, 'backup-unreadable');
      assert.equal(fx.exitCode, 3);
      assert.equal(r.errorCount, 1);
      assert.deepEqual(r.errors, [
        {
          item: '/tmp/resticprom-fixture/data/docs/secret.txt',
          during: 'archival',
          message: 'open data/docs/secret.txt: permission denied',
        },
      ]);
      assert.equal(r.summary?.totalFilesProcessed, 4);
      const cls = classifyResticExit({
        command: 'backup',
        exitCode: fx.exitCode,
        stderr: r.stderrTail,
        errorCount: r.errorCount,
        ...(r.summary?.snapshotId ? { snapshotId: r.summary.snapshotId } : {}),
      });
      assert.equal(cls.outcome, 'incomplete');
      assert.match(r.summary?.snapshotId ?? '', v === '0.14.0' ? /^[0-9a-f]{8}$/ : /^[0-9a-f]{64}$/);
      assert.equal(
        cls.message,
        `restic backup wrote a snapshot (snapshot ${r.summary?.snapshotId}) but 1 item could not be read`,
      );
    });

    for (const [name, reason] of [
      ['backup-wrong-password', 'wrong-password'],
      ['backup-repo-missing', 'repository-missing'],
      ['backup-locked', 'repository-locked'],
    ] as const) {
      it(`${v}: ${name} is classified ${reason}`, () => {
        const { fx, r } = parseFixture(v, name);
        assert.equal(r.summary, undefined);
        const cls = classifyResticExit({
          command: 'backup',
          exitCode: fx.exitCode,
          stderr: r.stderrTail,
          ...(r.exitError ? { exitError: r.exitError } : {}),
        });
        assert.equal(cls.outcome, 'failed');
        assert.equal(cls.reason, reason);
        assert.equal(cls.message.includes('\n'), false);
        if (v >= '0.18') assert.equal(r.exitError?.code, fx.exitCode);
      });
    }
  }
});

describe('backup parser robustness', () => {
  it('counts garbage, keeps non-JSON text, reports malformed JSON, never throws', () => {
    const logs: string[] = [];
    const p = createBackupParser({ onLog: (l, s) => logs.push(`${s}:${l}`) });
    p.push('hello world');
    p.push('');
    p.push('{not json');
    p.push('{"message_type":"status","percent_done":0.5'); // cut short
    p.push('{"message_type":"verbose_status","action":"new"'); // cut short
    p.push('{"message_type":"mystery"}');
    p.push('[0:00] 100.00%  3 files'); // restic 0.19's text progress
    p.push('{"no_type":1}');
    p.push('\uFFFD\uFFFDbinary\u0000junk');
    p.push('warning: something', 'stderr');
    const r = p.result();
    assert.equal(r.nonJsonLines, 3);
    assert.equal(r.malformedLines, 5);
    assert.deepEqual(r.malformedSamples.slice(0, 2), [
      '{not json',
      '{"message_type":"status","percent_done":0.5',
    ]);
    assert.equal(r.summary, undefined);
    assert.equal(r.stderrTail, 'warning: something');
    assert.deepEqual(logs, [
      'stdout:hello world',
      'stdout:[0:00] 100.00%  3 files',
      'stdout:\uFFFD\uFFFDbinary\u0000junk',
      'stderr:warning: something',
    ]);
  });

  it('takes a 10 MB line without throwing', () => {
    const p = createBackupParser();
    p.push(`{"message_type":"status","current_files":["${'x'.repeat(10 * 1024 * 1024)}"]}`);
    p.push(`{"message_type":"mystery","pad":"${'y'.repeat(10 * 1024 * 1024)}"}`);
    const r = p.result();
    assert.equal(r.statusLines, 1);
    assert.equal(r.lastProgress?.currentFiles[0]?.length, 10 * 1024 * 1024);
    assert.equal(r.malformedLines, 1);
    assert.equal(r.malformedSamples[0]?.length, 200);
  });

  it('a summary without snapshot_id (0.17+, no snapshot) has no snapshotId', () => {
    const p = createBackupParser();
    p.push(
      '{"message_type":"summary","files_new":0,"files_changed":0,"files_unmodified":0,"dirs_new":0,"dirs_changed":0,"dirs_unmodified":0,"data_blobs":0,"tree_blobs":0,"data_added":0,"data_added_packed":0,"total_files_processed":0,"total_bytes_processed":0,"total_duration":0.1,"dry_run":true}',
    );
    const s = p.result().summary;
    assert.equal(s?.snapshotId, undefined);
    assert.equal(s?.dryRun, true);
    assert.equal(s?.dataAddedPacked, 0);
  });

  it('keeps the first maxErrors items but counts all, and maps raw Go errors', () => {
    const seen: string[] = [];
    const p = createBackupParser({ maxErrors: 2, onItemError: (e) => seen.push(e.item) });
    p.push(
      '{"message_type":"error","error":{"Op":"read","Path":"/x","Err":5},"during":"archival","item":"/x"}',
      'stderr',
    );
    p.push('{"message_type":"error","error":{},"during":"scan","item":"/y"}', 'stderr');
    p.push(
      '{"message_type":"error","error":{"message":"lstat /z: no such file or directory"},"during":"scan","item":"/z"}',
      'stderr',
    );
    const r = p.result();
    assert.equal(r.errorCount, 3);
    assert.deepEqual(r.errors, [
      { item: '/x', during: 'archival', message: 'read /x: input/output error' },
      { item: '/y', during: 'scan', message: 'unknown error' },
    ]);
    assert.deepEqual(seen, ['/x', '/y', '/z']);
  });

  it('parses the last status lazily when nobody listens', () => {
    const p = createBackupParser();
    p.push(
      '{"message_type":"status","percent_done":0.25,"total_files":4,"files_done":1,"total_bytes":400,"bytes_done":100,"seconds_elapsed":2,"seconds_remaining":6,"error_count":1,"current_files":["/a","/b"]}',
    );
    p.push(
      '{"message_type":"status","percent_done":0.5,"total_files":4,"files_done":2,"total_bytes":400,"bytes_done":200,"seconds_elapsed":3,"seconds_remaining":3,"current_files":["/c"]}',
    );
    const r = p.result();
    assert.equal(r.statusLines, 2);
    assert.deepEqual(r.lastProgress, {
      percentDone: 0.5,
      totalFiles: 4,
      filesDone: 2,
      totalBytes: 400,
      bytesDone: 200,
      secondsElapsed: 3,
      secondsRemaining: 3,
      errorCount: 0,
      currentFiles: ['/c'],
    });
  });

  it('finds the Fatal line on stderr, without terminal codes', () => {
    const p = createBackupParser();
    p.push('\x1b[2Ksignal interrupt received, cleaning up', 'stderr');
    p.push('Fatal: wrong password or no key found', 'stderr');
    const r = p.result();
    assert.equal(r.fatalMessage, 'wrong password or no key found');
    assert.equal(
      r.stderrTail,
      'signal interrupt received, cleaning up\nFatal: wrong password or no key found',
    );
  });
});
