/**
 * resticprom killed with SIGKILL mid-backup: restic must not run on as an orphan. It
 * gets SIGINT from the kernel (setpriv --pdeathsig) and stops. With `--quiet` restic
 * writes nothing while it works, so without that signal it would run to the end (here
 * about 100 s at 20 KiB/s) instead of dying on its next write to the closed pipe.
 * (Its lock stays: restic's own "cleaning up" line meets the closed pipe first. A
 * non-exclusive lock does not stop the next backup; `unlock-stale-locks` clears it.)
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureBuilt, runCli, spawnCli } from '../helpers/cli.js';
import { childProcesses, isAlive, readCmdline, waitUntil } from '../helpers/e2e.js';
import { resticMatrix } from '../helpers/matrix.js';
import { makeRepo, makeSourceTree, type TestRepo } from '../helpers/restic.js';
import { makeTempDir } from '../helpers/services.js';

for (const restic of resticMatrix()) {
  describe(`resticprom killed with SIGKILL mid-backup (e2e, restic ${restic.version})`, {
    skip: restic.skip,
  }, () => {
    const tmp = makeTempDir('resticprom-e2e-orphan-');
    let repo: TestRepo;
    let configFile: string;

    before(async () => {
      await ensureBuilt();
      repo = makeRepo(tmp.dir, 'orphan-test-password', { restic: restic.bin });
      makeSourceTree(join(tmp.dir, 'src'), { files: 20, bytes: 100_000 });
      configFile = join(tmp.dir, 'resticprom.yaml');
      writeFileSync(
        configFile,
        `state-dir: ${join(tmp.dir, 'state')}
profiles:
  nfs:
    repository: ${repo.repository}
    password-file: ${repo.passwordFile}
    env: { RESTIC_CACHE_DIR: ${repo.cacheDir} }
    paths: [${join(tmp.dir, 'src')}]
    restic-args: [--limit-upload, "20", --quiet]
    tiers:
      daily: { schedule: "30 1 * * *" }
`,
      );
    });
    after(tmp.cleanup);

    it('restic stops at once, and the next backup runs', async () => {
      const cli = spawnCli(['backup', '--tier', 'daily', '--config', configFile], { env: { HOME: tmp.dir } });
      const pid = cli.pid as number;
      const restic = await waitUntil('restic backup to start', () =>
        childProcesses(pid, 'restic').find((p) => readCmdline(p)?.includes('backup')),
      );
      await waitUntil(
        'restic to lock the repository',
        () => readdirSync(join(repo.repository, 'locks')).length > 0,
      );
      const exited = new Promise((r) => cli.once('exit', r));
      cli.kill('SIGKILL');
      await exited;
      await waitUntil('restic to stop after resticprom died', () => !isAlive(restic), 5000);
      writeFileSync(
        configFile,
        readFileSync(configFile, 'utf8').replace(
          'restic-args: [--limit-upload, "20", --quiet]',
          'restic-args: []',
        ),
      );
      const next = await runCli(['backup', '--tier', 'daily', '--config', configFile], {
        env: { HOME: tmp.dir },
      });
      assert.equal(next.code, 0, next.stderr);
    });
  });
}
