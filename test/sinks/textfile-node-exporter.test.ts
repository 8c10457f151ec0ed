/**
 * node_exporter 1.5 (Debian 12) and 1.11 (sid) read the textfiles resticprom writes: a
 * backup's fallback textfile (no destination configured) and `push --textfile`. The
 * exporter reports `node_textfile_scrape_error 0` and serves our families with their values.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { nodeExporterMatrix } from '../helpers/matrix.js';
import { FAKE_RESTIC, fakeResticEnv, resticFixture } from '../helpers/restic.js';
import { freePort, makeTempDir, waitReady } from '../helpers/services.js';

for (const exporter of nodeExporterMatrix()) {
  describe(`node_exporter ${exporter.version} reads our textfiles`, { skip: exporter.skip }, () => {
    const tmp = makeTempDir('resticprom-node-exporter-');
    let child: ChildProcess | undefined;
    after(async () => {
      if (child && child.exitCode === null) {
        const gone = new Promise((r) => child?.once('exit', r));
        child.kill('SIGTERM');
        await gone;
      }
      tmp.cleanup();
    });

    it('node_textfile_scrape_error is 0 and the backup and pushed families are served', async () => {
      await ensureBuilt();
      const stateDir = join(tmp.dir, 'state');
      const config = join(tmp.dir, 'resticprom.yaml');
      writeFileSync(
        config,
        `state-dir: ${stateDir}
hostname: h
restic-binary: ${FAKE_RESTIC}
profiles:
  nfs:
    repository: /srv/repo
    password: not-used
    paths: [/srv/nfs]
    tiers:
      daily: { schedule: "30 1 * * *" }
`,
        { mode: 0o600 },
      );
      const fx = resticFixture('0.14.0', 'backup-success');
      const b = await runCli(['backup', '--config', config, '--tier', 'daily', '--quiet'], {
        env: fakeResticEnv(fx, { HOME: tmp.dir }),
      });
      assert.equal(b.code, ExitCode.OK, b.stderr);
      const dir = join(stateDir, 'metrics');
      const p = await runCli(
        ['push', '--textfile', join(dir, 'nightly.prom'), '--job', 'nightly', '--state-dir', stateDir],
        {
          input: '# TYPE db_dump_bytes gauge\ndb_dump_bytes 1234\n',
        },
      );
      assert.equal(p.code, ExitCode.OK, p.stderr);

      const port = await freePort();
      child = spawn(
        exporter.bin,
        [
          `--web.listen-address=127.0.0.1:${port}`,
          '--collector.disable-defaults',
          '--collector.textfile',
          `--collector.textfile.directory=${dir}`,
        ],
        { stdio: 'ignore' },
      );
      await waitReady(`http://127.0.0.1:${port}/metrics`);
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      assert.match(text, /^node_textfile_scrape_error 0$/m);
      assert.match(text, /^restic_backup_status\{.*tier="daily".*\} 2$/m);
      assert.match(text, /^restic_backup_processed_files\{.*profile="nfs".*\} \d+$/m);
      assert.match(text, /^db_dump_bytes\{job="nightly"\} 1234$/m);
      // Both files were read (the exporter exports each one's mtime).
      assert.match(text, /^node_textfile_mtime_seconds\{file=".*nfs-daily\.prom"\} /m);
      assert.match(text, /^node_textfile_mtime_seconds\{file=".*nightly\.prom"\} /m);
    });
  });
}
