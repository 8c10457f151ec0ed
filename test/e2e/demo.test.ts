import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { before, describe, it } from 'node:test';
import { ensureBuilt, runCli } from '../helpers/cli.js';

describe('resticprom demo (the README quick start)', () => {
  before(ensureBuilt);

  it("backs up sample data, and Prometheus answers the seed's queries; then cleans up", async () => {
    const demoDirs = () => readdirSync(tmpdir()).filter((n) => n.startsWith('resticprom-demo-'));
    const before = new Set(demoDirs());
    const r = await runCli(['demo'], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /^demo: backup sub-daily: success in [\d.]+s, 22 files, snapshot [0-9a-f]{8}; metrics pushed$/m,
    );
    assert.match(
      r.stderr,
      /^demo: backup daily: success in [\d.]+s, 22 files, snapshot [0-9a-f]{8}; metrics pushed$/m,
    );
    // 21 sample files plus the .nobackup marker restic keeps (the folder's other content is skipped).
    assert.match(r.stdout, /^ {2}1 {2}files processed by the sub-daily backup +22$/m);
    const daily = /^ {2}2 {2}average run time of daily backups \(s\) +([\d.]+)$/m.exec(r.stdout);
    assert.ok(daily && Number(daily[1]) > 0 && Number(daily[1]) < 60, r.stdout);
    assert.match(r.stdout, /^ {2}3 {2}the seed's alert: no backup in 24 h \(empty = quiet\) +\(empty\)$/m);
    assert.match(
      r.stdout,
      /^ {2}4 {2}age of the last success per tier .* daily: [\d.]+, sub-daily: [\d.]+$/m,
    );
    assert.match(r.stdout, /Stopped the Pushgateway and Prometheus and removed the demo files\./);
    assert.deepEqual(
      demoDirs().filter((d) => !before.has(d)),
      [],
    );
  });
});
