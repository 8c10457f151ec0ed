import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createProgressEstimator } from '../../src/cli/progress-rate.js';
import type { BackupProgress } from '../../src/restic/types.js';

const MiB = 1024 ** 2;

function report(bytesDone: number, totalBytes: number, extra: Partial<BackupProgress> = {}): BackupProgress {
  return {
    percentDone: totalBytes ? bytesDone / totalBytes : 0,
    totalFiles: 10,
    filesDone: 0,
    totalBytes,
    bytesDone,
    secondsElapsed: 0,
    errorCount: 0,
    currentFiles: [],
    ...extra,
  };
}

describe('progress speed and ETA', () => {
  it('speed is over the last 10 s, not the average since the start', () => {
    let t = 0;
    const est = createProgressEstimator({ now: () => t });
    let bytes = 0;
    let last = est.observe(report(0, 10 ** 9));
    // 20 s at 10 MB/s, then 10 s at 1 MB/s, reported every 100 ms.
    for (let i = 1; i <= 300; i++) {
      t = i * 100;
      bytes += i <= 200 ? 1_000_000 : 100_000;
      last = est.observe(report(bytes, 10 ** 9, { secondsElapsed: Math.floor(t / 1000) }));
    }
    assert.equal(last.bytesPerSecond, 1_000_000);
    // restic's own figure, bytes over whole seconds since the start, would still say 7 MB/s.
    assert.equal(bytes / 30, 7_000_000);
  });

  it('has no speed until the reports span a second; the ETA is restic’s until then', () => {
    let t = 0;
    const est = createProgressEstimator({ now: () => t });
    assert.deepEqual(est.observe(report(0, 100 * MiB)), {});
    t = 500;
    assert.deepEqual(est.observe(report(MiB, 100 * MiB, { secondsRemaining: 42 })), { secondsRemaining: 42 });
    t = 1000;
    const e = est.observe(report(2 * MiB, 100 * MiB, { secondsRemaining: 42 }));
    assert.equal(e.bytesPerSecond, 2 * MiB);
    // Counted down by 0.5 s, then eased a little towards 49 s (98 MiB at 2 MiB/s).
    assert.ok(e.secondsRemaining !== undefined && e.secondsRemaining > 41.5 && e.secondsRemaining < 49);
  });

  it('at a steady rate the ETA falls at every report and matches the time left', () => {
    let t = 0;
    const est = createProgressEstimator({ now: () => t });
    const total = 60 * MiB;
    let previous = Number.POSITIVE_INFINITY;
    let seed = 7;
    const jitter = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return 50 + (seed % 200); // reports 50-250 ms apart, as a busy restic sends them
    };
    let seen = 0;
    while (t < 55_000) {
      t += jitter();
      const e = est.observe(report((t / 1000) * MiB, total));
      if (e.secondsRemaining === undefined) continue;
      seen++;
      assert.ok(e.secondsRemaining < previous, `ETA ${e.secondsRemaining} after ${previous} at ${t} ms`);
      previous = e.secondsRemaining;
      if (t > 2000) assert.ok(Math.abs(e.secondsRemaining - (60 - t / 1000)) < 1e-6, `at ${t} ms`);
    }
    assert.ok(seen > 200);
  });

  it('once known the ETA never goes back to unknown: a stall holds it', () => {
    let t = 0;
    const est = createProgressEstimator({ now: () => t });
    let before: number | undefined;
    for (; t <= 5000; t += 100) before = est.observe(report((t / 1000) * MiB, 20 * MiB)).secondsRemaining;
    t -= 100;
    assert.ok(before !== undefined && Math.abs(before - 15) < 0.01, String(before));
    // restic stops moving for 30 s (a slow network): the speed falls to 0 as the window slides
    // past the last progress, the ETA follows it, then is held; it is never unknown.
    let held: number | undefined;
    for (let i = 0; i < 300; i++) {
      t += 100;
      const e = est.observe(report(5 * MiB, 20 * MiB));
      assert.ok(e.secondsRemaining !== undefined, `ETA unknown after ${t} ms`);
      if (e.bytesPerSecond === 0) held ??= e.secondsRemaining;
      if (held !== undefined) assert.equal(e.secondsRemaining, held);
    }
    assert.ok(held !== undefined, 'the speed never fell to 0');
    assert.ok(held > (before as number), `held ${held}, before the stall ${before}`);
  });

  it('eases towards a new pace instead of jumping, and gets there', () => {
    let t = 0;
    const est = createProgressEstimator({ now: () => t });
    const total = 200 * MiB;
    let bytes = 0;
    const step = (added: number) => {
      t += 100;
      bytes += added;
      return est.observe(report(bytes, total)).secondsRemaining ?? Number.NaN;
    };
    let atChange = Number.NaN;
    for (let i = 0; i < 200; i++) atChange = step(MiB / 5); // 2 MiB/s for 20 s
    assert.ok(Math.abs(atChange - 80) < 0.2, String(atChange));
    // Now 1 MiB/s: the true time left doubles.
    const next = step(MiB / 10);
    assert.ok(Math.abs(next - atChange) < 1, `jumped from ${atChange} to ${next}`);
    let settled = Number.NaN;
    for (let i = 0; i < 300; i++) settled = step(MiB / 10);
    const trueLeft = (total - bytes) / MiB;
    assert.ok(Math.abs(settled - trueLeft) / trueLeft < 0.02, `${settled} vs ${trueLeft}`);
  });

  it('says 0 when all bytes are done', () => {
    let t = 0;
    const est = createProgressEstimator({ now: () => t });
    est.observe(report(0, 10 * MiB));
    t = 2000;
    assert.equal(est.observe(report(10 * MiB, 10 * MiB)).secondsRemaining, 0);
  });
});
