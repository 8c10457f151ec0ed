/**
 * The history index: a run's counters and the outbox's "was this run recorded" come from it
 * and the lines appended since, not from reading the whole history; an index that no longer
 * describes the file (rotated, cut short and rewritten, corrupt, planted) is not trusted.
 */
import assert from 'node:assert/strict';
import {
  appendFileSync,
  chmodSync,
  chownSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  appendRun,
  type HistoryOutcome,
  historyPath,
  type RunRecord,
  readHistory,
  recordedRuns,
  runCounters,
} from '../../src/state/history.js';
import { historyIndexPath, INDEX_IDS } from '../../src/state/history-index.js';
import { makeTempDir } from '../helpers/services.js';

const temps: Array<() => void> = [];
after(() => {
  for (const c of temps) c();
});
function tempState(): string {
  const t = makeTempDir('resticprom-history-index-');
  temps.push(t.cleanup);
  return t.dir;
}

const OUTCOMES: HistoryOutcome[] = ['success', 'warning', 'failed', 'interrupted'];
function rec(i: number, over: Partial<RunRecord> = {}): RunRecord {
  return {
    v: 1,
    id: `run-${i}`,
    kind: 'backup',
    profile: 'nfs',
    tier: i % 3 === 0 ? 'weekly' : 'daily',
    job: 'nfs_backup',
    startedAt: 1_000_000 + i * 1000,
    endedAt: 1_000_500 + i * 1000,
    outcome: OUTCOMES[i % 4] as HistoryOutcome,
    exitCode: 0,
    ...over,
  };
}

/** The counts as a full read of the history gives them. */
async function fullCounts(dir: string, tier: string) {
  const counts = { success: 0, warning: 0, failed: 0, interrupted: 0 };
  for (const r of (await readHistory(dir)).records) if (r.tier === tier) counts[r.outcome]++;
  return counts;
}

const scope = { kind: 'backup', profile: 'nfs', job: 'nfs_backup' } as const;

describe('history index', () => {
  it('is written with each append and gives the same counts as reading the whole history', async () => {
    const dir = tempState();
    for (let i = 0; i < 40; i++) await appendRun(dir, rec(i));
    const index = JSON.parse(readFileSync(historyIndexPath(dir), 'utf8')) as { size: number; lines: number };
    assert.equal(index.size, readFileSync(historyPath(dir)).length);
    assert.equal(index.lines, 40);
    for (const tier of ['daily', 'weekly']) {
      const got = await runCounters(dir, { ...scope, tier });
      assert.deepEqual(got, { counts: await fullCounts(dir, tier), warnings: [] });
    }
  });

  it('serves the counts without reading the lines it covers again', async () => {
    const dir = tempState();
    for (let i = 0; i < 10; i++) await appendRun(dir, rec(i, { outcome: 'success', tier: 'daily' }));
    // Rewrite the first line in place (same length): the index covers it, so it is not read.
    const text = readFileSync(historyPath(dir), 'utf8');
    const first = text.slice(0, text.indexOf('\n'));
    writeFileSync(historyPath(dir), text.replace(first, first.replace('"success"', '"failed!"')));
    assert.deepEqual((await runCounters(dir, { ...scope, tier: 'daily' })).counts, {
      success: 10,
      warning: 0,
      failed: 0,
      interrupted: 0,
    });
  });

  it('adds lines appended since the index was written (another writer, a crash before the update)', async () => {
    const dir = tempState();
    for (let i = 0; i < 5; i++) await appendRun(dir, rec(i));
    appendFileSync(historyPath(dir), `${JSON.stringify(rec(5))}\n${JSON.stringify(rec(6))}\n`);
    assert.deepEqual(
      (await runCounters(dir, { ...scope, tier: 'daily' })).counts,
      await fullCounts(dir, 'daily'),
    );
    assert.ok((await recordedRuns(dir, ['run-6'])).ids.has('run-6'));
    await appendRun(dir, rec(7));
    assert.equal(JSON.parse(readFileSync(historyIndexPath(dir), 'utf8')).lines, 8);
  });

  it('reads the whole history again when the file was cut short and written again', async () => {
    const dir = tempState();
    for (let i = 0; i < 6; i++) await appendRun(dir, rec(i, { tier: 'daily', outcome: 'success' }));
    const size = readFileSync(historyPath(dir)).length;
    // Another history of at least the same size in the same file (same inode): the last line differs.
    truncateSync(historyPath(dir), 0);
    let other = '';
    for (let i = 0; other.length < size + 10; i++)
      other += `${JSON.stringify(rec(100 + i, { tier: 'daily', outcome: 'failed' }))}\n`;
    appendFileSync(historyPath(dir), other);
    const got = await runCounters(dir, { ...scope, tier: 'daily' });
    assert.deepEqual(got.counts, await fullCounts(dir, 'daily'));
    assert.equal(got.counts.success, 0);
  });

  it('is rebuilt after a rotation, keeping the counters growing', async () => {
    const dir = tempState();
    let n = 0;
    let rotated = false;
    while (!rotated) {
      const r = await appendRun(dir, rec(n++, { tier: 'daily', outcome: 'success' }), {
        maxBytes: 8 * 1024,
        keepPerScope: 5,
      });
      rotated = r.isRotated;
    }
    assert.equal((await runCounters(dir, { ...scope, tier: 'daily' })).counts.success, n);
    await appendRun(dir, rec(n++, { tier: 'daily', outcome: 'failed' }));
    const after = await runCounters(dir, { ...scope, tier: 'daily' });
    assert.deepEqual(after.counts, { success: n - 1, warning: 0, failed: 1, interrupted: 0 });
    const rr = await recordedRuns(dir, [`run-${n - 1}`]);
    assert.ok(rr.ids.has(`run-${n - 1}`));
    assert.equal(typeof rr.rotatedAt, 'number');
  });

  it('ignores a corrupt, planted, symlinked or foreign index', async () => {
    const dir = tempState();
    for (let i = 0; i < 8; i++) await appendRun(dir, rec(i));
    const want = await fullCounts(dir, 'daily');
    const good = readFileSync(historyIndexPath(dir), 'utf8');
    // Same file and size, other counts: what a planter would write.
    const index = JSON.parse(good) as { counts: Array<{ tier?: string; counts: { success: number } }> };
    for (const c of index.counts) if (c.tier === 'daily') c.counts.success = 999;
    const planted = JSON.stringify(index);
    const cases: Array<[string, () => void]> = [
      ['corrupt', () => writeFileSync(historyIndexPath(dir), '{"v":1,', { mode: 0o600 })],
      ['not an index', () => writeFileSync(historyIndexPath(dir), '[]', { mode: 0o600 })],
      [
        'symlink',
        () => {
          writeFileSync(join(dir, 'elsewhere.json'), planted, { mode: 0o600 });
          symlinkSync(join(dir, 'elsewhere.json'), historyIndexPath(dir));
        },
      ],
      [
        'open to others',
        () => {
          writeFileSync(historyIndexPath(dir), planted);
          chmodSync(historyIndexPath(dir), 0o644);
        },
      ],
    ];
    if (process.getuid?.() === 0) {
      cases.push([
        'owned by another user',
        () => {
          writeFileSync(historyIndexPath(dir), planted, { mode: 0o600 });
          chownSync(historyIndexPath(dir), 65534, 65534);
        },
      ]);
    }
    // The planted index is used when it is a private file of ours: the rules are what protects.
    writeFileSync(historyIndexPath(dir), planted, { mode: 0o600 });
    assert.equal((await runCounters(dir, { ...scope, tier: 'daily' })).counts.success, 999);
    for (const [name, plant] of cases) {
      rmSync(historyIndexPath(dir), { force: true });
      plant();
      const got = await runCounters(dir, { ...scope, tier: 'daily' });
      assert.deepEqual(got.counts, want, name);
    }
  });

  it('answers the outbox from the latest run ids, and reads the history for an older one', async () => {
    const dir = tempState();
    const lines: string[] = [];
    for (let i = 0; i < INDEX_IDS + 10; i++) lines.push(JSON.stringify(rec(i)));
    writeFileSync(historyPath(dir), `${lines.join('\n')}\n`, { mode: 0o600 });
    await appendRun(dir, rec(99_999));
    const recent = await recordedRuns(dir, ['run-99999', `run-${INDEX_IDS}`]);
    assert.equal(recent.ids.size, INDEX_IDS, 'the index alone answered');
    const old = await recordedRuns(dir, ['run-0']);
    assert.ok(old.ids.has('run-0'), 'an id older than the index is looked up in the history');
    const never = await recordedRuns(dir, ['never-recorded']);
    assert.equal(never.ids.has('never-recorded'), false);
    assert.equal(never.ids.size, INDEX_IDS + 11);
  });

  it('reports a torn last line on every read until the next append removes it', async () => {
    const dir = tempState();
    for (let i = 0; i < 3; i++) await appendRun(dir, rec(i));
    appendFileSync(historyPath(dir), '{"v":1,"id":"torn');
    for (let k = 0; k < 2; k++) {
      const got = await runCounters(dir, { ...scope, tier: 'daily' });
      assert.deepEqual(got.counts, await fullCounts(dir, 'daily'));
      assert.match(got.warnings.join('\n'), /line 4: incomplete last line/);
    }
    const appended = await appendRun(dir, rec(3));
    assert.match(appended.warnings.join('\n'), /removed an incomplete last line/);
    assert.deepEqual((await runCounters(dir, { ...scope, tier: 'daily' })).warnings, []);
    assert.equal((await readHistory(dir)).records.length, 4);
  });
});
