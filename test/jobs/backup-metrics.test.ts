import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backupSamples } from '../../src/jobs/backup-metrics.js';
import { renderSamples } from '../../src/metrics/build.js';
import type { BackupResult } from '../../src/restic/types.js';

const summary = {
  filesNew: 3,
  filesChanged: 2,
  filesUnmodified: 10,
  dirsNew: 1,
  dirsChanged: 0,
  dirsUnmodified: 4,
  dataBlobs: 5,
  treeBlobs: 2,
  dataAdded: 12345,
  totalFilesProcessed: 15,
  totalBytesProcessed: 99999,
  totalDuration: 1.25,
  snapshotId: 'abcdef12',
  dryRun: false,
};

function result(over: Partial<BackupResult>): BackupResult {
  return {
    outcome: 'success',
    exitCode: 0,
    errors: [],
    errorCount: 0,
    durationMs: 1234.5,
    startedAt: 1_700_000_000_000,
    endedAt: 1_700_000_001_234,
    stderrTail: '',
    nonJsonLines: 0,
    summary,
    ...over,
  };
}

const ctx = { counters: { success: 4, failed: 1 }, resticprom: '1.2.3', restic: '0.14.0' };

async function text(r: BackupResult): Promise<string> {
  return renderSamples(backupSamples(r, ctx), { profile: 'nfs', tier: 'daily', host: 'h1' });
}

describe('backup metrics', () => {
  it('a successful run pushes the seed nine, the last success time and status 2', async () => {
    const t = await text(result({}));
    const lines = t.split('\n').filter((l) => l && !l.startsWith('#'));
    const l = (name: string) => lines.find((x) => x.startsWith(`${name}{`));
    assert.equal(l('restic_backup_time'), 'restic_backup_time{profile="nfs",tier="daily",host="h1"} 1.235');
    assert.equal(
      l('restic_backup_processed_files'),
      'restic_backup_processed_files{profile="nfs",tier="daily",host="h1"} 15',
    );
    assert.equal(
      l('restic_backup_files_unchanged'),
      'restic_backup_files_unchanged{profile="nfs",tier="daily",host="h1"} 10',
    );
    assert.equal(
      l('restic_backup_dirs_unchanged'),
      'restic_backup_dirs_unchanged{profile="nfs",tier="daily",host="h1"} 4',
    );
    assert.equal(l('restic_backup_status'), 'restic_backup_status{profile="nfs",tier="daily",host="h1"} 2');
    assert.equal(
      l('restic_backup_last_success_timestamp_seconds'),
      'restic_backup_last_success_timestamp_seconds{profile="nfs",tier="daily",host="h1"} 1700000001.234',
    );
    assert.equal(
      l('restic_backup_snapshot_info'),
      'restic_backup_snapshot_info{snapshot_id="abcdef12",profile="nfs",tier="daily",host="h1"} 1',
    );
    assert.ok(
      lines.includes('restic_backup_runs_total{outcome="success",profile="nfs",tier="daily",host="h1"} 4'),
    );
    assert.ok(
      lines.includes('restic_backup_runs_total{outcome="warning",profile="nfs",tier="daily",host="h1"} 0'),
    );
    assert.ok(t.includes('# TYPE restic_backup_runs_total counter\n'));
    assert.ok(t.endsWith('\n') && !t.includes('\n\n'));
  });

  it('a failed run pushes the truth and nothing that looks like a good backup', async () => {
    const { summary: _none, ...failed } = result({
      outcome: 'failed',
      reason: 'wrong-password',
      exitCode: 12,
    });
    const t = await text(failed);
    for (const absent of [
      'restic_backup_time{',
      'restic_backup_processed_files{',
      'restic_backup_last_success_timestamp_seconds{',
      'restic_backup_snapshot_info{',
      'restic_backup_added_bytes{',
    ]) {
      assert.ok(!t.includes(absent), `${absent} must not be pushed for a failed run`);
    }
    assert.match(t, /^restic_backup_status\{[^}]*\} 0$/m);
    assert.match(t, /^restic_backup_exit_code\{[^}]*\} 12$/m);
    assert.match(t, /^restic_backup_end_timestamp_seconds\{[^}]*\} 1700000001\.234$/m);
    assert.match(t, /^restic_backup_duration_seconds\{[^}]*\} 1\.235$/m); // rounded to the millisecond
  });

  it('an incomplete run pushes its snapshot, status 1, the unreadable count, and no last success', async () => {
    const t = await text(result({ outcome: 'incomplete', exitCode: 3, errorCount: 2 }));
    assert.match(t, /^restic_backup_status\{[^}]*\} 1$/m);
    assert.match(t, /^restic_backup_unreadable_files\{[^}]*\} 2$/m);
    assert.match(t, /^restic_backup_processed_files\{[^}]*\} 15$/m);
    assert.ok(!t.includes('restic_backup_last_success_timestamp_seconds{'));
  });
});
