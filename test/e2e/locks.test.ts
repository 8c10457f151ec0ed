/**
 * End to end, two resticprom runs on one repository, with the real restic 0.14: the
 * second is refused (exit 16, a clear message) when `lock.wait` is 0, waits and then
 * runs when it is 30s, and a lock left by a resticprom killed with SIGKILL mid-backup
 * is taken over by the next run with a warning.
 *
 * A run is slow on purpose: restic with `--limit-upload 100` (KiB/s) uploading fresh
 * random data (1 MB: about 10 s, long enough for a second resticprom to start on a busy
 * machine). The run that follows backs up the same files, which restic deduplicates, so it
 * is quick.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { repositoryLockPath } from '../../src/state/lock.js';
import { ensureBuilt, runCli, spawnCli } from '../helpers/cli.js';
import { childProcesses, isAlive, readCmdline, readHistory, waitUntil } from '../helpers/e2e.js';
import { resticMatrix } from '../helpers/matrix.js';
import { makeRepo, type TestRepo } from '../helpers/restic.js';
import { gatewayGroups, makeTempDir, type RunningService, startPushgateway } from '../helpers/services.js';

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

for (const restic of resticMatrix()) {
  describe(`runs on one repository take turns (e2e, restic ${restic.version})`, { skip: restic.skip }, () => {
    const tmp = makeTempDir('resticprom-e2e-locks-');
    const stateDir = join(tmp.dir, 'state');
    const env = { HOME: tmp.dir };
    let gw: RunningService;
    let repo: TestRepo;
    /** restic processes this file started indirectly, killed in `after` if still alive. */
    const resticPids: number[] = [];

    /** Writes `size` bytes of fresh random data in 100 KB files under a new folder. */
    const freshTree = (name: string, size: number): string => {
      const dir = join(tmp.dir, name);
      mkdirSync(dir, { recursive: true });
      for (let i = 0; i * 100_000 < size; i++) writeFileSync(join(dir, `f${i}.bin`), randomBytes(100_000));
      return dir;
    };

    const writeConfig = (name: string, o: { paths: string; wait: string; slow: boolean }): string => {
      const file = join(tmp.dir, `${name}.yaml`);
      writeFileSync(
        file,
        `state-dir: ${stateDir}
restic-binary: ${restic.bin}
hostname: e2e-host
lock: { wait: ${o.wait} }
profiles:
  nfs:
    repository: ${repo.repository}
    password-file: ${repo.passwordFile}
    env: { RESTIC_CACHE_DIR: ${repo.cacheDir} }
    paths: [${o.paths}]
    restic-args: [${o.slow ? '"--limit-upload", "100"' : ''}]
    tiers:
      daily: { schedule: "30 1 * * *" }
    metrics:
      job: nfs_backup
      grouping: { instance: "{tier}" }
      pushgateway: { url: "${gw.url}", retries: 0 }
`,
        { mode: 0o600 },
      );
      return file;
    };

    /** Starts a backup and resolves once its `restic backup` runs (so it holds the repository's lock). */
    const startSlowBackup = async (config: string) => {
      const child: ChildProcess = spawnCli(['backup', '--config', config, '--tier', 'daily'], { env });
      let stderr = '';
      child.stdout?.resume();
      child.stderr?.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const closed = new Promise<{ code: number | null; stderr: string }>((resolve) =>
        child.on('close', (code) => resolve({ code, stderr })),
      );
      const pid = child.pid as number;
      const resticPid = await waitUntil('the restic child of resticprom', () =>
        childProcesses(pid, 'restic').find((c) => readCmdline(c)?.[1] === 'backup'),
      );
      resticPids.push(resticPid);
      return { child, pid, resticPid, closed };
    };

    before(async () => {
      await ensureBuilt();
      gw = await startPushgateway();
      repo = makeRepo(tmp.dir, 'e2e-locks-password', { restic: restic.bin });
    });

    after(async () => {
      for (const pid of resticPids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
      await gw?.stop();
      tmp.cleanup();
    });

    it('with lock.wait 0 the second run exits 16 and says who holds the repository', async () => {
      const config = writeConfig('no-wait', { paths: freshTree('a', 1_000_000), wait: '0', slow: true });
      const first = await startSlowBackup(config);
      const groupsBefore = JSON.stringify(await gatewayGroups(gw.url));
      const second = await runCli(['backup', '--config', config, '--tier', 'daily'], { env });
      assert.equal(second.code, ExitCode.BUSY, second.stderr);
      assert.match(
        second.stderr,
        new RegExp(
          `^resticprom: repository ${escapeRe(repo.repository)} is busy: resticprom backup nfs/daily \\(pid ${first.pid}\\) has run since \\d\\d:\\d\\d; waited 0s \\(set lock.wait to wait longer\\)$`,
          'm',
        ),
      );
      // Refused before anything ran: no restic, nothing recorded, nothing pushed.
      assert.equal(second.stderr.split('\n').filter(Boolean).length, 1, second.stderr);
      assert.equal(JSON.stringify(await gatewayGroups(gw.url)), groupsBefore);
      const done = await first.closed;
      assert.equal(done.code, ExitCode.OK, done.stderr);
      assert.deepEqual(
        readHistory(stateDir).map((r) => [r.kind, r.outcome]),
        [['backup', 'success']],
      );
    });

    it('with lock.wait 30s the second run waits for the first, then runs', async () => {
      const config = writeConfig('wait', { paths: freshTree('b', 1_000_000), wait: '30s', slow: true });
      const first = await startSlowBackup(config);
      const second = await runCli(['backup', '--config', config, '--tier', 'daily'], {
        env,
        timeoutMs: 60_000,
      });
      const done = await first.closed;
      assert.equal(done.code, ExitCode.OK, done.stderr);
      assert.equal(second.code, ExitCode.OK, second.stderr);
      assert.match(
        second.stderr,
        new RegExp(
          `^repository ${escapeRe(repo.repository)} is busy: resticprom backup nfs/daily \\(pid ${first.pid}\\) has run since \\d\\d:\\d\\d; waiting up to 30s$`,
          'm',
        ),
      );
      const runs = readHistory(stateDir).slice(-2);
      assert.deepEqual(
        runs.map((r) => [r.kind, r.outcome]),
        [
          ['backup', 'success'],
          ['backup', 'success'],
        ],
      );
      const [a, b] = runs as [(typeof runs)[0], (typeof runs)[0]];
      // One after the other: the second restic started once the first had ended.
      assert.ok(b.startedAt >= a.endedAt, `second started ${b.startedAt}, first ended ${a.endedAt}`);
    });

    it('SIGTERM while waiting for the lock exits 130 at once; nothing runs, nothing is recorded', async () => {
      const config = writeConfig('wait-then-stop', {
        paths: freshTree('d', 1_000_000),
        wait: '30s',
        slow: true,
      });
      const first = await startSlowBackup(config);
      const historyBefore = readHistory(stateDir).length;
      const waiter = spawnCli(['backup', '--config', config, '--tier', 'daily'], { env });
      let stderr = '';
      waiter.stdout?.resume();
      waiter.stderr?.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const closed = new Promise<number | null>((resolve) => waiter.on('close', (code) => resolve(code)));
      await waitUntil('the second run to wait', () => stderr.includes('waiting up to 30s'));
      waiter.kill('SIGTERM');
      const code = await closed;
      assert.equal(code, ExitCode.INTERRUPTED, stderr);
      assert.deepEqual(stderr.split('\n').slice(1), [
        'warning: SIGTERM received: stopping restic and reporting the run',
        'error: backup interrupted by SIGTERM before restic started; nothing was run or recorded',
        '',
      ]);
      assert.equal(readHistory(stateDir).length, historyBefore);
      // The first run never noticed.
      assert.ok(isAlive(first.resticPid));
      const done = await first.closed;
      assert.equal(done.code, ExitCode.OK, done.stderr);
      assert.equal(readHistory(stateDir).length, historyBefore + 1);
    });

    it('a lock left by a resticprom killed with SIGKILL is taken over by the next run, with a warning', async () => {
      const slow = writeConfig('killed', { paths: freshTree('c', 1_000_000), wait: '0', slow: true });
      const victim = await startSlowBackup(slow);
      const lockFile = repositoryLockPath(stateDir, repo.repository);
      process.kill(victim.pid, 'SIGKILL');
      await victim.closed;
      // Its restic dies on the next progress line it writes to the closed pipe.
      await waitUntil('the orphaned restic to end', () => !isAlive(victim.resticPid), 15_000, 100).catch(
        () => {
          process.kill(victim.resticPid, 'SIGKILL');
        },
      );
      const historyBefore = readHistory(stateDir).length;

      const quick = writeConfig('after-kill', { paths: join(tmp.dir, 'a'), wait: '0', slow: false });
      const r = await runCli(['backup', '--config', quick, '--tier', 'daily'], { env });
      assert.equal(r.code, ExitCode.OK, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `^warning: took over the stale lock ${escapeRe(lockFile)} left by resticprom backup nfs/daily \\(pid ${victim.pid}, since \\d\\d:\\d\\d\\): process ${victim.pid} is gone$`,
          'm',
        ),
      );
      const runs = readHistory(stateDir);
      assert.equal(runs.length, historyBefore + 1);
      assert.equal(runs.at(-1)?.outcome, 'success');
    });
  });
}
