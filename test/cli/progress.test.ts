import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createProgressDisplay, describeProgress } from '../../src/cli/progress.js';
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

  it('on a terminal draws one live line with a bar and the current file, no colour under NO_COLOR', () => {
    const s = sink(true);
    let t = 0;
    const d = createProgressDisplay({ stream: s.stream, env: { NO_COLOR: '1' }, now: () => t });
    t = 1000;
    d.update(p);
    assert.equal(
      s.text(),
      '\r\x1b[2K[==========>         ] 50.0%  100/200 files  1.00 GiB/2.00 GiB  102.4 MiB/s  ETA 10.0s  1 error  /srv/nfs/home/alice/report.pdf',
    );
    d.done();
    assert.ok(s.text().endsWith('\r\x1b[2K'));
  });

  it('not on a terminal prints at most one line a minute', () => {
    const s = sink(false);
    let t = 0;
    const d = createProgressDisplay({ stream: s.stream, now: () => t });
    for (t = 0; t <= 150_000; t += 1000) d.update(p);
    assert.equal(s.text().split('\n').filter(Boolean).length, 2);
    assert.match(s.text(), /^progress: 50\.0% {2}100\/200 files/);
  });

  it('shortens the current file to the terminal width', () => {
    const s = sink(true);
    (s.stream as { columns?: number }).columns = 120;
    let t = 0;
    const d = createProgressDisplay({ stream: s.stream, env: { NO_COLOR: '1' }, now: () => t });
    t = 1000;
    d.update(p);
    assert.ok(s.text().endsWith('  1 error  …home/alice/report.pdf'), JSON.stringify(s.text()));
    assert.ok(s.text().length - 5 <= 120);
  });

  it('prints nothing when quiet', () => {
    const s = sink(true);
    const d = createProgressDisplay({ stream: s.stream, isQuiet: true });
    d.update(p);
    d.done();
    assert.equal(s.text(), '');
  });
});
