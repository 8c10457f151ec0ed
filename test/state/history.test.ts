import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  appendRun,
  type HistoryOutcome,
  historyPath,
  latestRuns,
  type RunRecord,
  readHistory,
  runCounters,
} from '../../src/state/history.js';
import { makeTempDir } from '../helpers/services.js';

const CHILD = join(import.meta.dirname, 'child.ts');
const temps: Array<() => void> = [];
after(() => {
  for (const c of temps) c();
});
function tempState(): string {
  const t = makeTempDir('resticprom-history-');
  temps.push(t.cleanup);
  return t.dir;
}

function rec(i: number, over: Partial<RunRecord> = {}): RunRecord {
  return {
    v: 1,
    id: `r${i}`,
    kind: 'backup',
    profile: 'nfs',
    tier: 'daily',
    job: 'nfs_backup',
    startedAt: 1_000_000 + i * 1000,
    endedAt: 1_000_500 + i * 1000,
    outcome: 'success',
    exitCode: 0,
    ...over,
  };
}

function runChild(args: string[]): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { stdio: 'ignore' });
    p.on('error', reject);
    p.on('exit', (code) => resolve(code));
  });
}

describe('history', () => {
  it('appends one line per run, mode 0600, and reads the records back exactly', async () => {
    const dir = tempState();
    const a = rec(1, { summary: { totalBytesProcessed: 42 } });
    const b = rec(2, { outcome: 'failed', exitCode: 1, reason: 'wrong-password' });
    assert.deepEqual(await appendRun(dir, a), { warnings: [], isRotated: false });
    await appendRun(dir, b);
    const text = readFileSync(historyPath(dir), 'utf8');
    assert.equal(text, `${JSON.stringify(a)}\n${JSON.stringify(b)}\n`);
    assert.equal(statSync(historyPath(dir)).mode & 0o777, 0o600);
    const read = await readHistory(dir);
    assert.deepEqual(read, { records: [a, b], warnings: [] });
    const failed = await readHistory(dir, { filter: (r) => r.outcome === 'failed' });
    assert.deepEqual(failed.records, [b]);
  });

  it('reads a missing history as empty', async () => {
    const dir = tempState();
    assert.deepEqual(await readHistory(dir), { records: [], warnings: [] });
    assert.deepEqual((await runCounters(dir, 'backup')).counts, {
      success: 0,
      warning: 0,
      failed: 0,
      interrupted: 0,
    });
  });

  it('skips a torn last line with a warning; the next append cuts it off, so it is reported once', async () => {
    const dir = tempState();
    await appendRun(dir, rec(1));
    appendFileSync(historyPath(dir), '{"v":1,"id":"torn","kind":"bac');
    const before = await readHistory(dir);
    assert.deepEqual(before.records, [rec(1)]);
    assert.deepEqual(before.warnings, [
      `${historyPath(dir)} line 2: incomplete last line (a crash during a write), skipped`,
    ]);
    const res = await appendRun(dir, rec(2, { outcome: 'warning', exitCode: 3 }));
    assert.deepEqual(res.warnings, [
      `${historyPath(dir)}: removed an incomplete last line (a crash during a write)`,
    ]);
    const after = await readHistory(dir);
    assert.deepEqual(after.records, [rec(1), rec(2, { outcome: 'warning', exitCode: 3 })]);
    assert.deepEqual(after.warnings, []);
    assert.equal(
      readFileSync(historyPath(dir), 'utf8'),
      `${JSON.stringify(rec(1))}\n${JSON.stringify(rec(2, { outcome: 'warning', exitCode: 3 }))}\n`,
    );
    const c = await runCounters(dir, 'backup', { profile: 'nfs', tier: 'daily' });
    assert.deepEqual(c.counts, { success: 1, warning: 1, failed: 0, interrupted: 0 });
    assert.equal(c.warnings.length, 0);
  });

  it('counts by scope: kind with profile/tier, or a scope object with job', async () => {
    const dir = tempState();
    await appendRun(dir, rec(1));
    await appendRun(dir, rec(2, { tier: 'weekly', outcome: 'failed' }));
    await appendRun(dir, rec(3, { kind: 'run', job: 'db_dump', outcome: 'interrupted' }));
    await appendRun(dir, rec(4, { kind: 'run', job: 'other' }));
    assert.deepEqual((await runCounters(dir, 'backup', { profile: 'nfs', tier: 'daily' })).counts, {
      success: 1,
      warning: 0,
      failed: 0,
      interrupted: 0,
    });
    assert.deepEqual((await runCounters(dir, 'backup', { profile: 'nfs' })).counts, {
      success: 1,
      warning: 0,
      failed: 1,
      interrupted: 0,
    });
    assert.deepEqual((await runCounters(dir, { kind: 'run', job: 'db_dump' })).counts, {
      success: 0,
      warning: 0,
      failed: 0,
      interrupted: 1,
    });
  });

  it('gives the last run and the last success (warning counts as success) per scope', async () => {
    const dir = tempState();
    await appendRun(dir, rec(1));
    await appendRun(dir, rec(2, { outcome: 'warning', exitCode: 3 }));
    await appendRun(dir, rec(3, { outcome: 'failed', exitCode: 1 }));
    await appendRun(dir, rec(4, { tier: 'weekly', outcome: 'failed', exitCode: 1 }));
    const { runs, warnings } = await latestRuns(dir, { kind: 'backup' });
    assert.deepEqual(warnings, []);
    assert.deepEqual(runs, [
      {
        kind: 'backup',
        job: 'nfs_backup',
        profile: 'nfs',
        tier: 'daily',
        last: rec(3, { outcome: 'failed', exitCode: 1 }),
        lastSuccess: rec(2, { outcome: 'warning', exitCode: 3 }),
      },
      {
        kind: 'backup',
        job: 'nfs_backup',
        profile: 'nfs',
        tier: 'weekly',
        last: rec(4, { tier: 'weekly', outcome: 'failed', exitCode: 1 }),
      },
    ]);
  });

  it('rotation keeps the file bounded, the last success, and counters monotonic', async () => {
    const dir = tempState();
    const outcomes: HistoryOutcome[] = ['success', 'failed', 'failed', 'warning', 'interrupted', 'failed'];
    const expected = { success: 0, warning: 0, failed: 0, interrupted: 0 };
    let rotations = 0;
    for (let i = 0; i < 60; i++) {
      // The only plain success of tier weekly is the first record: rotation must keep it.
      const tier = i % 2 === 0 ? 'daily' : 'weekly';
      const outcome: HistoryOutcome =
        tier === 'weekly' ? (i === 1 ? 'success' : 'failed') : (outcomes[i % 6] ?? 'success');
      const r = await appendRun(dir, rec(i, { tier, outcome }), { maxBytes: 3000, keepPerScope: 3 });
      if (r.isRotated) rotations++;
      if (tier === 'daily') expected[outcome]++;
      const c = await runCounters(dir, 'backup', { profile: 'nfs', tier: 'daily' });
      assert.deepEqual(c, { counts: expected, warnings: [] });
    }
    assert.ok(rotations >= 3, `rotated ${rotations} times`);
    assert.ok(statSync(historyPath(dir)).size <= 3000 + 400);
    const weekly = await runCounters(dir, 'backup', { tier: 'weekly' });
    assert.deepEqual(weekly.counts, { success: 1, warning: 0, failed: 29, interrupted: 0 });
    const { runs } = await latestRuns(dir);
    const w = runs.find((r) => r.tier === 'weekly');
    assert.equal(w?.lastSuccess?.id, 'r1');
    assert.equal(w?.last.id, 'r59');
    // The rotated file: a base line first, then the kept records (3 per scope plus weekly's r1).
    const lines = readFileSync(historyPath(dir), 'utf8').trimEnd().split('\n');
    assert.equal(JSON.parse(lines[0] ?? '').type, 'base');
    assert.deepEqual((await readHistory(dir)).warnings, []);
  });

  it('counters continue across process restarts', async () => {
    const dir = tempState();
    assert.equal(await runChild(['append', dir, '3']), 0);
    assert.equal(await runChild(['append', dir, '2']), 0);
    await appendRun(dir, rec(9, { outcome: 'failed' }));
    assert.deepEqual((await runCounters(dir, 'backup', { profile: 'nfs', tier: 'daily' })).counts, {
      success: 5,
      warning: 0,
      failed: 1,
      interrupted: 0,
    });
  });

  it('survives a kill -9 in the middle of appends: at most one torn line, later appends count', async () => {
    const dir = tempState();
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, 'append-loop', dir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code) => reject(new Error(`child exited early (${code})`)));
      child.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('appended')) resolve();
      });
    });
    // Let it append for a moment, then kill it without warning.
    await new Promise((r) => setTimeout(r, 300));
    child.removeAllListeners('exit');
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;

    const read = await readHistory(dir);
    assert.ok(read.records.length >= 1);
    assert.ok(read.warnings.length <= 1, read.warnings.join('\n'));
    for (const w of read.warnings) assert.match(w, /incomplete last line/);
    const before = await runCounters(dir, 'backup', { profile: 'nfs', tier: 'daily' });
    assert.equal(before.counts.success, read.records.length);

    // The child may have died holding the history lock: the append takes it over.
    const res = await appendRun(dir, rec(1, { outcome: 'failed' }));
    for (const w of res.warnings) assert.match(w, /took over the stale lock|last line was incomplete/);
    const after = await runCounters(dir, 'backup', { profile: 'nfs', tier: 'daily' });
    assert.deepEqual(after.counts, { success: read.records.length, warning: 0, failed: 1, interrupted: 0 });
    const reread = await readHistory(dir);
    assert.equal(reread.records.at(-1)?.id, 'r1');
    assert.ok(reread.warnings.length <= 1);
  });

  it('skips a line that is JSON but not a record, naming its line', async () => {
    const dir = tempState();
    writeFileSync(historyPath(dir), `${JSON.stringify(rec(1))}\n{"hello":1}\n`);
    const read = await readHistory(dir);
    assert.deepEqual(read.records, [rec(1)]);
    assert.deepEqual(read.warnings, [`${historyPath(dir)} line 2: not a run record, skipped`]);
  });
});
