/**
 * End to end, hooks around forget, check and stats with the real restic: a failing
 * run-before stops `check` (recorded and pushed as failed, hook-failed, exit 1); a
 * forget's hooks see RESTICPROM_KIND=forget and its tier, and it pushes its own hook
 * time; `for:` keeps a block to the kinds it names; the forget that
 * `forget-after-backup` runs belongs to the backup and runs no hooks of its own.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { readHistory } from '../helpers/e2e.js';
import { resticMatrix } from '../helpers/matrix.js';
import { makeRepo, makeSourceTree, type TestRepo } from '../helpers/restic.js';
import { makeTempDir } from '../helpers/services.js';

for (const restic of resticMatrix()) {
  describe(`hooks around forget, check and stats (e2e, restic ${restic.version})`, {
    skip: restic.skip,
  }, () => {
    const tmp = makeTempDir('resticprom-e2e-mhooks-');
    const stateDir = join(tmp.dir, 'state');
    const env = { HOME: tmp.dir };
    const log = join(tmp.dir, 'hooks.log');
    let repo: TestRepo;
    let srcDir: string;

    const writeConfig = (name: string, hooks: string, extra = ''): string => {
      const file = join(tmp.dir, `${name}.yaml`);
      writeFileSync(
        file,
        `state-dir: ${stateDir}
hostname: e2e-host
restic-binary: ${restic.bin}
profiles:
  nfs:
    repository: ${repo.repository}
    password-file: ${repo.passwordFile}
    env: { RESTIC_CACHE_DIR: ${repo.cacheDir} }
    paths: [${srcDir}]
${extra}    hooks:
${hooks}
    tiers:
      daily: { schedule: "30 1 * * *", keep-last: 2 }
`,
        { mode: 0o600 },
      );
      return file;
    };
    const logged = () =>
      existsSync(log)
        ? readFileSync(log, 'utf8')
            .split('\n')
            .filter((l) => l !== '')
        : [];
    const record = `[sh, -c, 'echo "$RESTICPROM_HOOK $RESTICPROM_KIND $RESTICPROM_TIER $RESTICPROM_OUTCOME" >> ${log}']`;

    before(async () => {
      await ensureBuilt();
      repo = makeRepo(tmp.dir, 'mhooks-pass', { restic: restic.bin });
      srcDir = makeSourceTree(join(tmp.dir, 'src'), { files: 3, bytes: 100 }).dir;
    });
    after(() => tmp.cleanup());

    it('a failing run-before stops check: failed, hook-failed, exit 1, pushed', async () => {
      const config = writeConfig(
        'check-fails',
        `      run-before: ["false"]\n      run-finally: [${record}]`,
      );
      const r = await runCli(['check', '--config', config], { env });
      assert.equal(r.code, ExitCode.FAILURE, r.stderr);
      assert.match(r.stderr, /^error: check nfs failed after \d+ms: run-before hook 1 \(false\) exited 1$/m);
      const run = readHistory(stateDir).at(-1);
      assert.equal(run?.kind, 'check');
      assert.equal(run?.reason, 'hook-failed');
      assert.deepEqual(logged(), ['run-finally check  failed']);
      const prom = readFileSync(join(stateDir, 'metrics', 'nfs-check.prom'), 'utf8');
      assert.match(prom, /^restic_check_status\{.*\} 0$/m);
      assert.match(prom, /^restic_check_hooks_duration_seconds\{.*\} \d/m);
      assert.doesNotMatch(prom, /^restic_check_errors/m, 'a check that did not run found nothing');
    });

    it("forget's hooks see its kind and tier; for: keeps a block to its kinds; forget-after-backup runs no hooks", async () => {
      writeFileSync(log, '');
      const forget = writeConfig('forget', `      run-after: [${record}]`);
      assert.equal(
        (await runCli(['backup', '--config', forget, '--tier', 'daily'], { env })).code,
        ExitCode.OK,
      );
      const r = await runCli(['forget', '--config', forget, '--tier', 'daily'], { env });
      assert.equal(r.code, ExitCode.OK, r.stderr);
      assert.deepEqual(logged(), ['run-after backup daily success', 'run-after forget daily success']);
      const prom = readFileSync(join(stateDir, 'metrics', 'nfs-daily.prom'), 'utf8');
      assert.match(prom, /^restic_forget_hooks_duration_seconds\{.*\} \d/m);

      writeFileSync(log, '');
      const onlyBackup = writeConfig('only-backup', `      for: [backup]\n      run-after: [${record}]`);
      const stats = await runCli(['stats', '--config', onlyBackup], { env });
      assert.equal(stats.code, ExitCode.OK, stats.stderr);
      assert.deepEqual(logged(), [], 'no hook for stats');
      assert.doesNotMatch(
        readFileSync(join(stateDir, 'metrics', 'nfs-stats.prom'), 'utf8'),
        /hooks_duration/,
      );

      const withForget = writeConfig(
        'with-forget',
        `      run-before: [${record}]`,
        '    forget-after-backup: true\n',
      );
      const b = await runCli(['backup', '--config', withForget, '--tier', 'daily'], { env });
      assert.equal(b.code, ExitCode.OK, b.stderr);
      assert.match(
        b.stderr,
        /^forget nfs\/daily \(forget-after-backup\): kept \d+, removed \d+ snapshot\(s\)$/m,
      );
      assert.deepEqual(logged(), ['run-before backup daily '], 'the hooks ran once, for the backup');
    });
  });
}
