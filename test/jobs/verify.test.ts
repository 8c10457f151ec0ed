import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FileSampler, isSameContent, sourcePathOf } from '../../src/jobs/verify.js';
import { parseTimeNs, type SnapshotFile } from '../../src/restic/ls.js';
import { escapeIncludePattern, hasRestoreVerify } from '../../src/restic/restore.js';
import { makeTempDir } from '../helpers/services.js';

/** A seeded generator (mulberry32), so samples are reproducible. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const file = (i: number, size: number): SnapshotFile => ({ path: `/data/f${i}`, size, mtimeNs: BigInt(i) });

describe('FileSampler', () => {
  it('keeps at most the file and byte limits, never a file larger than the budget', () => {
    const s = new FileSampler(10, 5000, seeded(1));
    for (let i = 0; i < 1000; i++) s.add(file(i, i === 7 ? 6000 : 400));
    const picked = s.pick();
    assert.equal(picked.length, 10);
    assert.ok(picked.reduce((n, f) => n + f.size, 0) <= 5000);
    assert.ok(!picked.some((f) => f.path === '/data/f7'));
    assert.equal(new Set(picked.map((f) => f.path)).size, 10);
  });

  it('trims to the byte budget: 12 files of 1000 bytes with a 5000-byte budget give 5', () => {
    const s = new FileSampler(100, 5000, seeded(2));
    for (let i = 0; i < 12; i++) s.add(file(i, 1000));
    assert.equal(s.pick().length, 5);
  });

  it('samples every part of a long listing, not only its start', () => {
    const s = new FileSampler(50, Number.MAX_SAFE_INTEGER, seeded(3));
    for (let i = 0; i < 100_000; i++) s.add(file(i, 1));
    const idx = s.pick().map((f) => Number(f.path.slice('/data/f'.length)));
    assert.ok(idx.some((i) => i < 50_000) && idx.some((i) => i >= 50_000), JSON.stringify(idx));
  });
});

describe('sourcePathOf', () => {
  it('maps a snapshot path to the live file for absolute and relative backup paths', () => {
    assert.equal(sourcePathOf(['/srv/nfs'], '/srv/nfs/a/b.txt'), '/srv/nfs/a/b.txt');
    assert.equal(sourcePathOf(['/'], '/etc/hosts'), '/etc/hosts');
    // `restic backup src` from /tmp/x records /src/... in the tree and /tmp/x/src in paths.
    assert.equal(sourcePathOf(['/tmp/x/src'], '/src/f1.bin'), '/tmp/x/src/f1.bin');
    assert.equal(sourcePathOf(['/srv/nfs'], '/other/f'), undefined);
  });
});

describe('restic restore helpers', () => {
  it('tells from the help text whether restore has --verify', () => {
    assert.equal(
      hasRestoreVerify(
        '  -t, --target string   directory\n      --verify               verify restored files content\n',
      ),
      true,
    );
    assert.equal(
      hasRestoreVerify('  -t, --target string   directory\n      --no-extra-verify   skip\n'),
      false,
    );
  });

  it('escapes include patterns so a path matches only itself', () => {
    assert.equal(escapeIncludePattern('/d/a*b [x]?.txt'), '/d/a\\*b \\[x\\]\\?.txt');
    assert.equal(escapeIncludePattern('/d/back\\slash'), '/d/back\\\\slash');
  });

  it('parses restic times to nanoseconds, offsets included', () => {
    assert.equal(parseTimeNs('2026-12-02T04:03:33.402471695Z'), 1796184213402471695n);
    assert.equal(parseTimeNs('2026-12-02T05:03:33.4+01:00'), 1796184213400000000n);
    assert.equal(parseTimeNs('2026-12-02T04:03:33Z'), 1796184213000000000n);
    assert.equal(parseTimeNs('yesterday'), undefined);
  });
});

describe('isSameContent', () => {
  it('compares files byte for byte across chunk boundaries', async () => {
    const tmp = makeTempDir('resticprom-same-');
    try {
      const a = join(tmp.dir, 'a');
      const b = join(tmp.dir, 'b');
      const c = join(tmp.dir, 'c');
      const data = Buffer.alloc(200_000, 7);
      writeFileSync(a, data);
      writeFileSync(b, data);
      const other = Buffer.from(data);
      other[150_000] = 8;
      writeFileSync(c, other);
      assert.equal(await isSameContent(a, b), true);
      assert.equal(await isSameContent(a, c), false);
      writeFileSync(c, data.subarray(0, 1000));
      assert.equal(await isSameContent(a, c), false);
    } finally {
      tmp.cleanup();
    }
  });
});
