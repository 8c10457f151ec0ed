/**
 * End to end, why a run failed: a real restic backup against a missing repository and
 * with a wrong password keeps restic's own message in the history (one line, credentials
 * masked, bounded), and `status` shows the reason and the message of the FAILED tier,
 * in the narrow table (a line under it) and in the wide one (`--verbose`). `run` keeps
 * the failed command's exit in the history too.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { readHistory } from '../helpers/e2e.js';
import { resticMatrix } from '../helpers/matrix.js';
import { makeRepo } from '../helpers/restic.js';
import { makeTempDir } from '../helpers/services.js';

const temps: Array<() => void> = [];
after(() => {
  for (const c of temps) c();
});

function setup(repository: string, passwordFile: string, resticBin = 'restic') {
  const t = makeTempDir('resticprom-failmsg-');
  temps.push(t.cleanup);
  const stateDir = join(t.dir, 'state');
  const config = join(t.dir, 'resticprom.yaml');
  writeFileSync(
    config,
    `timezone: UTC
state-dir: ${stateDir}
restic-binary: ${resticBin}
profiles:
  nfs:
    repository: ${repository}
    password-file: ${passwordFile}
    paths: [${t.dir}]
    tiers:
      daily: { schedule: "30 1 * * *" }
`,
    { mode: 0o600 },
  );
  return { dir: t.dir, config, stateDir };
}

describe('the error message of a failed run', () => {
  before(async () => {
    await ensureBuilt();
  });

  it('run: a command that fails or cannot start is named with its exit, not its arguments', async () => {
    const { stateDir } = setup('/srv/unused', '/etc/hostname');
    const failed = await runCli([
      'run',
      '--state-dir',
      stateDir,
      '--job',
      'dump',
      '-q',
      '--',
      'sh',
      '-c',
      'exit 3',
    ]);
    assert.equal(failed.code, 3, failed.stderr);
    const missing = await runCli([
      'run',
      '--state-dir',
      stateDir,
      '--job',
      'dump',
      '-q',
      '--',
      '/nonexistent/dump-db',
      '--password=hunter2',
    ]);
    assert.equal(missing.code, 127, missing.stderr);
    const runs = readHistory(stateDir).filter((r) => r.kind === 'run');
    assert.equal(runs[0]?.error, 'sh exited with code 3');
    assert.equal(runs[1]?.error, 'dump-db could not be started: spawn /nonexistent/dump-db ENOENT');
  });
});

for (const restic of resticMatrix()) {
  describe(`the error message of a failed backup (restic ${restic.version})`, { skip: restic.skip }, () => {
    before(async () => {
      await ensureBuilt();
    });

    it('a backup to a missing repository: history keeps restic’s message, status shows reason and message', async () => {
      const t = makeTempDir('resticprom-failmsg-pw-');
      temps.push(t.cleanup);
      const passwordFile = join(t.dir, 'password');
      writeFileSync(passwordFile, 'pw-failmsg\n', { mode: 0o600 });
      const missing = join(t.dir, 'no-such-repo');
      const { config, stateDir } = setup(missing, passwordFile, restic.bin);
      const backup = await runCli(['backup', '--config', config, '--tier', 'daily', '-q'], {
        env: { RESTIC_CACHE_DIR: join(t.dir, 'cache') },
      });
      assert.equal(backup.code, ExitCode.REPO_MISSING, backup.stderr);

      const [rec] = readHistory(stateDir);
      assert.equal(rec?.outcome, 'failed');
      assert.equal(rec?.reason, 'repository-missing');
      assert.match(
        rec?.error ?? '',
        new RegExp(
          `^restic backup failed: the repository does not exist or cannot be opened \\(exit (1|10); restic: .*${missing.replace(/[/.]/g, '\\$&')}`,
        ),
      );
      assert.doesNotMatch(rec?.error ?? '', /\n/);

      const status = await runCli(['status', '--config', config]);
      assert.equal(status.code, ExitCode.UNHEALTHY, status.stderr);
      const lines = status.stdout.trimEnd().split('\n');
      assert.match(
        lines[1] ?? '',
        /^nfs +daily +FAILED +\d{4}-\d\d-\d\d \d\d:\d\d failed \(exit (1|10), repository-missing\)/,
      );
      assert.equal(lines[2], `nfs/daily: ${rec?.error}`);
      assert.equal(lines.length, 3);

      const wide = await runCli(['status', '--config', config, '--verbose']);
      assert.equal(wide.code, ExitCode.UNHEALTHY, wide.stderr);
      const [head, row, ...rest] = wide.stdout.trimEnd().split('\n');
      assert.match(head ?? '', /DEAD {2}REASON {14}ERROR$/);
      assert.ok(row?.endsWith(`repository-missing  ${rec?.error}`), row);
      assert.deepEqual(rest, []);

      const json = JSON.parse((await runCli(['status', '--config', config, '--json'])).stdout) as {
        rows: { lastRun?: { error?: string; reason?: string } }[];
      };
      assert.equal(json.rows[0]?.lastRun?.error, rec?.error);
    });

    it('a wrong password: the history names it, the password is nowhere in it', async () => {
      const t = makeTempDir('resticprom-failmsg-repo-');
      temps.push(t.cleanup);
      const repo = makeRepo(t.dir, 'right-Pw-71xq', { restic: restic.bin });
      const wrong = join(t.dir, 'wrong');
      writeFileSync(wrong, 'wrong-Pw-93kz\n', { mode: 0o600 });
      const { config, stateDir } = setup(repo.repository, wrong, restic.bin);
      const backup = await runCli(['backup', '--config', config, '--tier', 'daily', '-q'], {
        env: { RESTIC_CACHE_DIR: repo.cacheDir },
      });
      assert.equal(backup.code, ExitCode.WRONG_PASSWORD, backup.stderr);
      const [rec] = readHistory(stateDir);
      assert.equal(rec?.reason, 'wrong-password');
      assert.match(
        rec?.error ?? '',
        /^restic backup failed: wrong repository password \(exit (1|12); restic: .+\)$/,
      );
      assert.doesNotMatch(JSON.stringify(rec), /Pw-93kz|Pw-71xq/);
    });
  });
}
