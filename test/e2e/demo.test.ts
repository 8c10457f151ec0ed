import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
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

  it('--keep leaves the Pushgateway and Prometheus running and says how to stop them', async () => {
    const r = await runCli(['demo', '--keep'], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    const gateway = /^ {2}pushgateway {2}(http:\/\/127\.0\.0\.1:\d+)$/m.exec(r.stdout)?.[1];
    const prometheus = /^ {2}prometheus {3}(http:\/\/127\.0\.0\.1:\d+)$/m.exec(r.stdout)?.[1];
    const done = /^When done: kill (\d+) (\d+) && rm -rf (\/tmp\/resticprom-demo-\w+)$/m.exec(r.stdout);
    assert.ok(gateway && prometheus && done, r.stdout);
    const [, pid1, pid2, dir] = done;
    try {
      assert.equal((await fetch(`${gateway}/-/ready`)).status, 200);
      const q = await fetch(`${prometheus}/api/v1/query?query=restic_backup_processed_files`);
      const body = (await q.json()) as { data: { result: unknown[] } };
      assert.equal(body.data.result.length, 2);
    } finally {
      for (const pid of [pid1, pid2]) process.kill(Number(pid), 'SIGTERM');
      const alive = (pid: string) => {
        try {
          process.kill(Number(pid), 0);
          return true;
        } catch {
          return false;
        }
      };
      for (let i = 0; i < 100 && (alive(pid1 as string) || alive(pid2 as string)); i++) {
        await new Promise((res) => setTimeout(res, 100));
      }
      rmSync(dir as string, { recursive: true, force: true });
    }
  });
});
