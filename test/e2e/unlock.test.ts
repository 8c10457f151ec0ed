/**
 * `unlock-stale-locks`: a restic killed with SIGKILL leaves its lock in the repository;
 * an exclusive command (check) then fails as locked until `restic unlock` removes it,
 * which resticprom runs only when the profile asks.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { resticMatrix } from '../helpers/matrix.js';
import { makeRepo, makeSourceTree, type TestRepo } from '../helpers/restic.js';
import { makeTempDir } from '../helpers/services.js';

for (const restic of resticMatrix()) {
  describe(`unlock-stale-locks (e2e, restic ${restic.version})`, { skip: restic.skip }, () => {
    const tmp = makeTempDir('resticprom-e2e-unlock-');
    let repo: TestRepo;

    const config = (unlock: boolean) => {
      const file = join(tmp.dir, `c-${unlock}.yaml`);
      writeFileSync(
        file,
        `state-dir: ${join(tmp.dir, 'state')}
profiles:
  nfs:
    repository: ${repo.repository}
    password-file: ${repo.passwordFile}
    env: { RESTIC_CACHE_DIR: ${repo.cacheDir} }
    paths: [${join(tmp.dir, 'src')}]
    unlock-stale-locks: ${unlock}
    tiers:
      daily: { schedule: "30 1 * * *" }
`,
      );
      return file;
    };
    // Lock files proper: restic 0.19's local backend writes `<id>-tmp-<n>` first and renames it.
    const locks = () => readdirSync(join(repo.repository, 'locks')).filter((f) => /^[0-9a-f]{64}$/.test(f));

    before(async () => {
      await ensureBuilt();
      repo = makeRepo(tmp.dir, 'unlock-test-password', { restic: restic.bin });
      makeSourceTree(join(tmp.dir, 'src'), { files: 20, bytes: 100_000 });
      // A slow backup, killed once its lock is in the repository.
      const holder = spawn(restic.bin, ['backup', '--limit-upload', '20', join(tmp.dir, 'src')], {
        env: { ...repo.env, RESTIC_REPOSITORY: repo.repository, RESTIC_PASSWORD_FILE: repo.passwordFile },
        stdio: 'ignore',
      });
      for (let i = 0; i < 100 && locks().length === 0; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(locks().length, 1, 'restic did not take its lock');
      const gone = new Promise((r) => holder.once('exit', r));
      holder.kill('SIGKILL');
      await gone;
    });
    after(tmp.cleanup);

    it('without unlock-stale-locks, check reports the repository as locked (exit 11) and leaves the lock', async () => {
      const r = await runCli(['check', '--config', config(false)], { env: { HOME: tmp.dir } });
      assert.equal(r.code, ExitCode.REPO_LOCKED, r.stderr);
      assert.match(r.stderr, /locked/);
      assert.equal(locks().length, 1);
    });

    it('with unlock-stale-locks, the stale lock is removed and check runs (exit 0)', async () => {
      const r = await runCli(['check', '--config', config(true)], { env: { HOME: tmp.dir } });
      assert.equal(r.code, ExitCode.OK, r.stderr);
      assert.match(r.stderr, /check nfs: no errors found/);
      assert.deepEqual(locks(), []);
    });
  });
}
