/**
 * A foreground `backup` whose terminal goes away: SIGHUP mid-run (as when an SSH session
 * drops), with stdout and stderr already closed (the terminal is gone, so every write fails).
 * Like SIGINT and SIGTERM: restic is stopped with SIGINT and removes its lock, the run is
 * recorded as interrupted and its metrics reach the real Pushgateway, both locks are gone,
 * and the next `check` is not refused. Real restic of every version of the matrix, on
 * `--limit-upload 300` (KiB/s) over 1.5 MB of random data, so it is stopped halfway (restic
 * 0.18+ finishes the uploads in flight first, well inside resticprom's 10 s grace).
 */
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { ensureBuilt, runCli, spawnCli } from '../helpers/cli.js';
import {
  childProcesses,
  gatewayGroup,
  groupValue,
  readCmdline,
  readHistory,
  waitUntil,
} from '../helpers/e2e.js';
import { resticMatrix } from '../helpers/matrix.js';
import { makeRepo, makeSourceTree } from '../helpers/restic.js';
import { makeTempDir, type RunningService, startPushgateway } from '../helpers/services.js';

for (const restic of resticMatrix()) {
  describe(`SIGHUP during a foreground backup (restic ${restic.version})`, { skip: restic.skip }, () => {
    const tmp = makeTempDir('resticprom-sighup-');
    let gw: RunningService;
    before(async () => {
      await ensureBuilt();
      gw = await startPushgateway();
    });
    after(async () => {
      await gw?.stop();
      tmp.cleanup();
    });

    it('records and reports the run as interrupted, stops restic cleanly and leaves no lock', async () => {
      const repo = makeRepo(tmp.dir, 'pw-sighup-e2e', { restic: restic.bin });
      const big = makeSourceTree(join(tmp.dir, 'big'), { files: 15, bytes: 100_000 });
      const stateDir = join(tmp.dir, 'state');
      const config = join(tmp.dir, 'resticprom.yaml');
      writeFileSync(
        config,
        `state-dir: ${stateDir}
restic-binary: ${restic.bin}
profiles:
  nfs:
    repository: ${repo.repository}
    password-file: ${repo.passwordFile}
    env: { RESTIC_CACHE_DIR: ${repo.cacheDir} }
    paths: [${big.dir}]
    restic-args: [--limit-upload, "300"]
    tiers:
      daily: { schedule: "30 1 * * *" }
    metrics:
      job: hup_backup
      grouping: { instance: "{tier}" }
      pushgateway: { url: "${gw.url}", retries: 0 }
`,
        { mode: 0o600 },
      );
      const child = spawnCli(['backup', '--config', config, '--tier', 'daily'], { env: { HOME: tmp.dir } });
      const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      const cliPid = child.pid as number;
      await waitUntil('the restic backup child', () =>
        childProcesses(cliPid, 'restic').find((c) => readCmdline(c)?.includes('backup')),
      );
      await waitUntil(
        'restic to lock the repository',
        () => readdirSync(join(repo.repository, 'locks')).length > 0,
      );
      await new Promise((r) => setTimeout(r, 500));
      // The terminal is gone: nothing reads what resticprom writes any more.
      child.stdout?.destroy();
      child.stderr?.destroy();
      child.kill('SIGHUP');
      assert.equal(await closed, ExitCode.INTERRUPTED);

      const runs = readHistory(stateDir);
      assert.equal(runs.length, 1);
      assert.equal(runs[0]?.outcome, 'interrupted');
      const group = await gatewayGroup(gw.url, { job: 'hup_backup', instance: 'daily' });
      assert.equal(groupValue(group, 'restic_backup_status'), 0);
      // restic 0.18 ends an interrupted backup with `context canceled` and exit 1; the others 130.
      assert.equal(
        groupValue(group, 'restic_backup_exit_code'),
        restic.version.startsWith('0.18.') ? 1 : 130,
      );
      // restic removed its lock (it got SIGINT), and so did resticprom.
      assert.deepEqual(readdirSync(join(repo.repository, 'locks')), []);
      assert.deepEqual(
        readdirSync(join(stateDir, 'locks')).filter((n) => n.endsWith('.lock')),
        [],
      );
      const check = await runCli(['check', '--config', config], { env: { HOME: tmp.dir } });
      assert.equal(check.code, ExitCode.OK, check.stderr);
    });
  });
}
