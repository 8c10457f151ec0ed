import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import stringWidth from 'string-width';
import { createProgressDisplay, describeProgress } from '../../src/cli/progress.js';
import { formatProgressLine } from '../../src/cli/progress-line.js';
import type { BackupProgress } from '../../src/restic/types.js';

function sink(isTTY: boolean): { stream: NodeJS.WritableStream; text: () => string } {
  let out = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      out += String(chunk);
      cb();
    },
  }) as Writable & { isTTY?: boolean; columns?: number };
  stream.isTTY = isTTY;
  stream.columns = 200;
  return { stream, text: () => out };
}

const p: BackupProgress = {
  percentDone: 0.5,
  totalFiles: 200,
  filesDone: 100,
  totalBytes: 2 * 1024 ** 3,
  bytesDone: 1024 ** 3,
  secondsElapsed: 10,
  secondsRemaining: 10,
  errorCount: 1,
  currentFiles: ['/srv/nfs/home/alice/report.pdf'],
};

describe('progress display', () => {
  it('describes percent, files, bytes, rate, ETA and errors', () => {
    assert.equal(
      describeProgress(p),
      '50.0%  100/200 files  1.00 GiB/2.00 GiB  102.4 MiB/s  ETA 10.0s  1 error',
    );
  });

  it('on a terminal draws one live line with a bar, the window speed and the current file, no colour under NO_COLOR', async () => {
    const s = sink(true);
    let t = 0;
    const d = await createProgressDisplay({ stream: s.stream, env: { NO_COLOR: '1' }, now: () => t });
    d.update({ ...p, bytesDone: 0.9 * 1024 ** 3 });
    t = 1000;
    d.update(p);
    const lines = s.text().split('\r\x1b[2K');
    assert.equal(
      lines.at(-1),
      '[==========>         ] 50.0%  100/200 files  1.00 GiB/2.00 GiB  102.4 MiB/s  ETA 9.0s  1 error  /srv/nfs/home/alice/report.pdf',
    );
    d.done();
    assert.ok(s.text().endsWith('\r\x1b[2K'));
  });

  it('not on a terminal prints at most one line a minute', async () => {
    const s = sink(false);
    let t = 0;
    const d = await createProgressDisplay({ stream: s.stream, now: () => t });
    for (t = 0; t <= 150_000; t += 1000) d.update(p);
    assert.equal(s.text().split('\n').filter(Boolean).length, 2);
    assert.match(s.text(), /^progress: 50\.0% {2}100\/200 files/);
    assert.doesNotMatch(s.text(), /[\r\x1b]/);
  });

  const est = { bytesPerSecond: 102.4 * 1024 ** 2, secondsRemaining: 10.2 };
  it('fits 80 columns: the bar and the file name go first, every figure stays', () => {
    const line = formatProgressLine(p, est, 80);
    assert.equal(line, '50.0%  100/200 files  1.00 GiB/2.00 GiB  102.4 MiB/s  ETA 10.0s  1 error');
    assert.ok(line.length <= 79);
  });

  it('narrower still, drops the file count, the speed, the ETA, in that order', () => {
    assert.equal(formatProgressLine(p, est, 70), '50.0%  1.00 GiB/2.00 GiB  102.4 MiB/s  ETA 10.0s  1 error');
    assert.equal(formatProgressLine(p, est, 50), '50.0%  1.00 GiB/2.00 GiB  ETA 10.0s  1 error');
    assert.equal(formatProgressLine(p, est, 40), '50.0%  1.00 GiB/2.00 GiB  1 error');
    assert.equal(formatProgressLine(p, est, 20), '50.0%  1 error');
    assert.equal(formatProgressLine(p, est, 5), '50.…');
  });

  it('shortens a long file name in the middle to the room left at 120 columns', () => {
    const long = { ...p, currentFiles: ['/srv/nfs/home/alice/projects/2026/quarterly-report-final.pdf'] };
    const line = formatProgressLine(long, est, 120);
    assert.equal(
      line,
      '[==========>         ] 50.0%  100/200 files  1.00 GiB/2.00 GiB  102.4 MiB/s  ETA 10.0s  1 error  /srv/nfs/ho…-final.pdf',
    );
    assert.equal(line.length, 119);
  });

  it('counts CJK and emoji as two columns and escapes control characters in the name', () => {
    const wide = { ...p, currentFiles: ['/srv/写真/東京/旅行/2024/夏休み/IMG_0001.jpg'] };
    const line = formatProgressLine(wide, est, 120);
    // 119 columns, or 118 where a two-column character would have straddled the cut.
    assert.ok(stringWidth(line) === 119 || stringWidth(line) === 118, `${stringWidth(line)}: ${line}`);
    assert.match(line, / {2}\/srv\/写真\/…G?_0001\.jpg$/);
    const emoji = formatProgressLine({ ...p, currentFiles: ['/home/a/😀😀😀😀😀😀😀😀/x.txt'] }, est, 120);
    assert.ok(stringWidth(emoji) === 119 || stringWidth(emoji) === 118, `${stringWidth(emoji)}: ${emoji}`);
    assert.match(emoji, /😀…/);
    const evil = formatProgressLine({ ...p, currentFiles: ['/tmp/a\x1b[2Jb\nc\td'] }, est, 200);
    assert.ok(evil.endsWith('  /tmp/a\\x1b[2Jb\\nc\\td'), evil);
  });

  it('redraws to the new width when the terminal is resized, clearing the rewrapped old line', async () => {
    const s = sink(true);
    (s.stream as { columns?: number }).columns = 120;
    let t = 0;
    const d = await createProgressDisplay({ stream: s.stream, env: { NO_COLOR: '1' }, now: () => t });
    t = 1000;
    d.update({ ...p, currentFiles: ['/srv/nfs/home/alice/projects/2026/quarterly-report-final.pdf'] });
    (s.stream as { columns?: number }).columns = 80;
    const before = s.text().length;
    s.stream.emit('resize');
    // The 119-column line now takes two rows: up one, clear to the end of the screen, redraw.
    assert.equal(
      s.text().slice(before),
      '\r\x1b[1A\x1b[J[=========>       ] 50.0%  100/200 files  1.00 GiB/2.00 GiB  ETA 10.0s  1 error',
    );
    d.done();
    assert.equal(s.stream.listenerCount('resize'), 0);
  });

  it('prints nothing when quiet', async () => {
    const s = sink(true);
    const d = await createProgressDisplay({ stream: s.stream, isQuiet: true });
    d.update(p);
    d.done();
    assert.equal(s.text(), '');
  });
});
