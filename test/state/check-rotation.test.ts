import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { readDataFraction } from '../../src/jobs/maintenance.js';
import {
  advanceCheckRotation,
  type CheckRotation,
  checkRotationPath,
  loadCheckRotation,
  saveCheckRotation,
} from '../../src/state/check-rotation.js';
import { makeTempDir } from '../helpers/services.js';

describe('check rotation', () => {
  it('advances 1..cycle and records a full cycle only when every part of it was clean', () => {
    let r: CheckRotation = { cycle: 3, next: 1, isCycleClean: true };
    const read = (t: number, hasErrors = false) => ({ hasErrors, startedAt: t, endedAt: t + 5 });
    r = advanceCheckRotation(r, read(100));
    assert.deepEqual(r, { cycle: 3, next: 2, isCycleClean: true, cycleStartedAt: 100 });
    r = advanceCheckRotation(r, read(200, true));
    assert.equal(r.isCycleClean, false);
    r = advanceCheckRotation(r, read(300));
    assert.deepEqual(r, { cycle: 3, next: 1, isCycleClean: false, cycleStartedAt: 100 });
    // The next cycle is clean: it completes at the end of its third part.
    for (const t of [400, 500]) r = advanceCheckRotation(r, read(t));
    assert.equal((r as CheckRotation).fullCycleCompletedAt, undefined);
    r = advanceCheckRotation(r, read(600));
    assert.deepEqual(r, {
      cycle: 3,
      next: 1,
      isCycleClean: true,
      cycleStartedAt: 400,
      fullCycleCompletedAt: 605,
    });
  });

  it('a cycle joined in the middle (no start recorded) does not count as full', () => {
    const r = advanceCheckRotation(
      { cycle: 2, next: 2, isCycleClean: true },
      { hasErrors: false, startedAt: 1, endedAt: 2 },
    );
    assert.equal(r.fullCycleCompletedAt, undefined);
    assert.equal(r.next, 1);
  });

  it('stores per profile; a changed cycle or a damaged file starts over at part 1, keeping the last completion', async () => {
    const tmp = makeTempDir('resticprom-rot-');
    try {
      await saveCheckRotation(tmp.dir, 'nfs', {
        cycle: 7,
        next: 4,
        isCycleClean: true,
        fullCycleCompletedAt: 9,
      });
      await saveCheckRotation(tmp.dir, 'db', { cycle: 7, next: 2, isCycleClean: true });
      assert.equal((await loadCheckRotation(tmp.dir, 'nfs', 7)).next, 4);
      assert.equal((await loadCheckRotation(tmp.dir, 'db', 7)).next, 2);
      assert.deepEqual(await loadCheckRotation(tmp.dir, 'nfs', 5), {
        cycle: 5,
        next: 1,
        isCycleClean: true,
        fullCycleCompletedAt: 9,
      });
      writeFileSync(checkRotationPath(tmp.dir), '{"nfs": {"cycle": 7, "next": 99');
      assert.deepEqual(await loadCheckRotation(tmp.dir, 'nfs', 7), { cycle: 7, next: 1, isCycleClean: true });
    } finally {
      tmp.cleanup();
    }
  });

  it('tells the part of the data a subset reads', () => {
    assert.equal(readDataFraction('2/7'), 1 / 7);
    assert.equal(readDataFraction('5%'), 0.05);
    assert.equal(readDataFraction(undefined), 0);
    assert.equal(readDataFraction('500M'), undefined);
  });
});
