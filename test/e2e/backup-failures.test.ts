/**
 * End to end, backups that do not succeed, once per restic version of the matrix, with
 * the real Pushgateway: wrong password (exit 12), missing repository (exit 10), an unreadable
 * file (exit 3, snapshot written), SIGTERM mid-run (exit 130). Every run pushes the
 * truth about itself into the same group, and the last success of the first run
 * survives them all (POST). The repository password is nowhere: not in restic's argv
 * (read from /proc while it runs), not in any output, metric or file written.
 *
 * The unreadable file: this suite runs as root, which reads a mode-000 file, so restic
 * runs through a wrapper that drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (it stays
 * uid 0 and still writes the repository, but file modes apply to it).
 * The interrupted run: the real restic with `--limit-upload 300` (KiB/s) on 1.5 MB of
 * random data takes about 5 s, long enough to be stopped halfway; restic 0.18+ finishes the
 * uploads in flight before it exits 130, well inside resticprom's 10 s grace.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { ensureBuilt, runCli, spawnCli } from '../helpers/cli.js';
import {
  childProcesses,
  filesUnder,
  gatewayGroup,
  groupValue,
  isAlive,
  readCmdline,
  readHistory,
  waitUntil,
} from '../helpers/e2e.js';
import { atLeast, stackMatrix } from '../helpers/matrix.js';
import { makeRepo, makeSourceTree, resticSync, type TestRepo } from '../helpers/restic.js';
import {
  freePort,
  type GatewayGroup,
  groupValues,
  makeTempDir,
  type RunningService,
  startPushgateway,
} from '../helpers/services.js';

const PASSWORD = 'pw-Kx93vQ-e2e-distinct';
const WRONG_PASSWORD = 'wrong-Qm71zT-e2e-distinct';
const GROUP = { job: 'nfs_backup', instance: 'daily' };

interface ProfileSetup {
  repository: string;
  passwordFile: string;
  paths: string[];
  resticBinary?: string;
  resticArgs?: string[];
  gateway?: string;
}

interface SnapshotJson {
  short_id: string;
  paths?: string[];
  time: string;
  tags?: string[];
}

for (const stack of stackMatrix()) {
  const { restic } = stack;
  /** restic 0.17+ has exit codes of its own for these; 0.14 exits 1. */
  const wrongPasswordExit = atLeast(restic, '0.17.0') ? 12 : 1;
  const missingExit = atLeast(restic, '0.17.0') ? 10 : 1;
  describe(`backup failures report the truth and keep the last success (e2e, ${stack.label})`, {
    skip: stack.skip,
  }, () => {
    const tmp = makeTempDir('resticprom-e2e-fail-');
    const stateDir = join(tmp.dir, 'state');
    const env = { HOME: tmp.dir };
    let gw: RunningService;
    let repo: TestRepo;
    let srcDir: string;
    /** Everything every CLI run printed, checked for the password at the end. */
    const printed: string[] = [];
    /** Processes this file started indirectly (restic children), killed in `after` if still alive. */
    const started: number[] = [];
    let lastSuccess: number;

    /** Writes a config with the one profile `nfs`, tier `daily`, the seed's job and grouping. */
    const writeConfig = (name: string, p: ProfileSetup): string => {
      const file = join(tmp.dir, `${name}.yaml`);
      const list = (xs: string[]) => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;
      writeFileSync(
        file,
        `state-dir: ${stateDir}
hostname: e2e-host
restic-binary: ${p.resticBinary ?? restic.bin}
profiles:
  nfs:
    repository: ${p.repository}
    password-file: ${p.passwordFile}
    env: { RESTIC_CACHE_DIR: ${repo.cacheDir} }
    paths: ${list(p.paths)}
    restic-args: ${list(p.resticArgs ?? [])}
    tiers:
      daily: { schedule: "30 1 * * *" }
    metrics:
      job: nfs_backup
      grouping: { instance: "{tier}" }
      pushgateway: { url: "${p.gateway ?? gw.url}", retries: 0 }
`,
        { mode: 0o600 },
      );
      return file;
    };

    const backup = async (config: string) => {
      const r = await runCli(['backup', '--config', config, '--tier', 'daily'], { env });
      printed.push(r.stdout, r.stderr);
      return r;
    };

    /** The group after a failed run: status, exit code and end time of that run; the first run's last success. */
    const assertReported = async (status: number, resticExit: number) => {
      const run = readHistory(stateDir).at(-1);
      assert.ok(run);
      const group = await gatewayGroup(gw.url, GROUP);
      assert.equal(groupValue(group, 'restic_backup_status'), status);
      assert.equal(groupValue(group, 'restic_backup_exit_code'), resticExit);
      assert.equal(groupValue(group, 'restic_backup_end_timestamp_seconds'), run.endedAt / 1000);
      assert.equal(groupValue(group, 'restic_backup_last_success_timestamp_seconds'), lastSuccess);
      assert.ok(run.endedAt / 1000 > lastSuccess);
      return { run, group };
    };

    before(async () => {
      await ensureBuilt();
      gw = await startPushgateway({ bin: stack.pushgateway.bin });
      repo = makeRepo(tmp.dir, PASSWORD, { restic: restic.bin });
      srcDir = makeSourceTree(join(tmp.dir, 'nfs'), { files: 12, bytes: 1000 }).dir;
    });

    after(async () => {
      for (const pid of started) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
      await gw?.stop();
      tmp.cleanup();
    });

    it('a successful run sets the last success time', async () => {
      const config = writeConfig('good', {
        repository: repo.repository,
        passwordFile: repo.passwordFile,
        paths: [srcDir],
      });
      const r = await backup(config);
      assert.equal(r.code, ExitCode.OK, r.stderr);
      const run = readHistory(stateDir).at(-1);
      assert.equal(run?.outcome, 'success');
      lastSuccess = (run?.endedAt ?? 0) / 1000;
      const group = await gatewayGroup(gw.url, GROUP);
      assert.equal(groupValue(group, 'restic_backup_last_success_timestamp_seconds'), lastSuccess);
      assert.equal(groupValue(group, 'restic_backup_status'), 2);
      assert.equal(groupValue(group, 'restic_backup_processed_files'), 12);
    });

    it('a wrong password exits 12 and pushes status 0', async () => {
      const wrongFile = join(tmp.dir, 'wrong-password');
      writeFileSync(wrongFile, `${WRONG_PASSWORD}\n`, { mode: 0o600 });
      const config = writeConfig('wrong-password', {
        repository: repo.repository,
        passwordFile: wrongFile,
        paths: [srcDir],
      });
      const r = await backup(config);
      assert.equal(r.code, ExitCode.WRONG_PASSWORD, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `^error: backup nfs/daily failed after \\S+: restic backup failed: wrong repository password \\(exit ${wrongPasswordExit}; restic: wrong password or no key found\\)$`,
          'm',
        ),
      );
      // restic's own words, printed once, as they came: 0.14 writes them to stderr; 0.17+ sends
      // them as its JSON exit_error, which the error line above carries.
      assert.equal(
        r.stderr.split('\n').filter((l) => l === 'restic: Fatal: wrong password or no key found').length,
        atLeast(restic, '0.17.0') ? 0 : 1,
      );
      assert.equal(
        r.stderr.split('\n').filter((l) => l.includes('wrong password or no key found')).length,
        atLeast(restic, '0.17.0') ? 1 : 2,
      );
      // restic 0.14 says it with exit 1 and `Fatal: wrong password or no key found`, 0.17+ with exit 12.
      const { run, group } = await assertReported(0, wrongPasswordExit);
      assert.equal(run.outcome, 'failed');
      assert.equal(run.reason, 'wrong-password');
      // No snapshot, so the seed's gauges still hold the successful run's values.
      assert.equal(groupValue(group, 'restic_backup_processed_files'), 12);
    });

    it('a missing repository exits 10 and pushes status 0', async () => {
      const config = writeConfig('missing', {
        repository: join(tmp.dir, 'no-such-repo'),
        passwordFile: repo.passwordFile,
        paths: [srcDir],
      });
      const r = await backup(config);
      assert.equal(r.code, ExitCode.REPO_MISSING, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `^error: backup nfs/daily failed after \\S+: restic backup failed: the repository does not exist or cannot be opened \\(exit ${missingExit}; restic: ${atLeast(restic, '0.17.0') ? 'repository does not exist: ' : ''}unable to open config file: `,
          'm',
        ),
      );
      const { run } = await assertReported(0, missingExit);
      assert.equal(run.outcome, 'failed');
      assert.equal(run.reason, 'repository-missing');
    });

    it('an unreadable file exits 3, writes a snapshot, pushes status 1 and names the file on stderr', async () => {
      const tree = makeSourceTree(join(tmp.dir, 'partial'), { files: 5, bytes: 500 });
      const secret = join(tree.dir, 'd0', 'locked.txt');
      writeFileSync(secret, 'not readable\n');
      chmodSync(secret, 0o000);
      const wrapper = join(tmp.dir, 'restic-without-dac');
      writeFileSync(
        wrapper,
        `#!/bin/sh\nexec setpriv --bounding-set=-dac_override,-dac_read_search --inh-caps=-dac_override,-dac_read_search ${restic.bin} "$@"\n`,
        { mode: 0o755 },
      );
      const config = writeConfig('partial', {
        repository: repo.repository,
        passwordFile: repo.passwordFile,
        paths: [tree.dir],
        resticBinary: wrapper,
      });
      const before = JSON.parse(
        resticSync(repo, ['snapshots', '--json'], { restic: restic.bin }),
      ) as SnapshotJson[];
      const r = await backup(config);
      assert.equal(r.code, ExitCode.INCOMPLETE, r.stderr);
      assert.match(r.stderr, new RegExp(`^warning: could not read ${secret}: .*permission denied$`, 'm'));
      const snapshots = JSON.parse(
        resticSync(repo, ['snapshots', '--json'], { restic: restic.bin }),
      ) as SnapshotJson[];
      assert.equal(snapshots.length, before.length + 1);
      const written = snapshots.at(-1)?.short_id as string;
      assert.match(
        r.stderr,
        new RegExp(
          `^warning: backup nfs/daily incomplete in .*: 1 item\\(s\\) could not be read; snapshot ${written}, 5 files`,
          'm',
        ),
      );
      const { run, group } = await assertReported(1, 3);
      assert.equal(run.outcome, 'warning');
      assert.equal(groupValue(group, 'restic_backup_unreadable_files'), 1);
      assert.equal(groupValue(group, 'restic_backup_processed_files'), 5);
      assert.deepEqual(
        groupValues(group, 'restic_backup_snapshot_info').map((v) => v.labels.snapshot_id),
        [written],
      );
    });

    it('SIGTERM mid-run exits 130, stops restic, pushes status 0 and records the run as interrupted; restic never sees the password in argv', async () => {
      const big = makeSourceTree(join(tmp.dir, 'big'), { files: 15, bytes: 100_000 });
      const config = writeConfig('slow', {
        repository: repo.repository,
        passwordFile: repo.passwordFile,
        paths: [big.dir],
        resticArgs: ['--limit-upload', '300'],
      });
      const child: ChildProcess = spawnCli(['backup', '--config', config, '--tier', 'daily'], { env });
      let stdout = '';
      let stderr = '';
      child.stdout?.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr?.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      const cliPid = child.pid as number;
      const resticPid = await waitUntil('the restic child of resticprom', () =>
        childProcesses(cliPid, 'restic').find((c) => readCmdline(c)?.[1] === 'backup'),
      );
      started.push(resticPid);
      const argv = readCmdline(resticPid) ?? [];
      assert.equal(argv[0], restic.bin);
      assert.deepEqual(argv.slice(1, 5), ['backup', '--json', '--tag', 'daily']);
      assert.ok(argv.includes(big.dir));
      assert.ok(!argv.join(' ').includes(PASSWORD), `restic argv: ${argv.join(' ')}`);
      const environ = readFileSync(`/proc/${resticPid}/environ`, 'utf8').split('\0');
      assert.ok(environ.includes(`RESTIC_PASSWORD_FILE=${repo.passwordFile}`));
      assert.ok(!environ.some((e) => e.includes(PASSWORD)));
      // Mid-run: restic has locked the repository and is uploading.
      await waitUntil(
        'restic to lock the repository',
        () => readdirSync(join(repo.repository, 'locks')).length > 0,
      );
      await new Promise((r) => setTimeout(r, 500));
      child.kill('SIGTERM');
      const code = await closed;
      printed.push(stdout, stderr);
      assert.equal(code, ExitCode.INTERRUPTED, stderr);
      assert.match(stderr, /^warning: SIGTERM received: stopping restic and reporting the run$/m);
      // restic 0.14 starts this line with ESC[2K even off a terminal, 0.19 with a carriage
      // return and ends it with a blank; resticprom prints the text only.
      assert.match(stderr, /^restic: signal interrupt received, cleaning up$/m);
      assert.equal(isAlive(resticPid), false);
      // restic stopped cleanly (SIGINT): it removed its lock.
      assert.deepEqual(readdirSync(join(repo.repository, 'locks')), []);
      // restic 0.18 ends an interrupted backup with `Fatal: unable to save snapshot: context
      // canceled` and exit 1; 0.14 and 0.19 exit 130. The exit code pushed is restic's own.
      const { run, group } = await assertReported(0, restic.version.startsWith('0.18.') ? 1 : 130);
      assert.equal(run.outcome, 'interrupted');
      assert.equal(run.reason, 'interrupted');
      // Stopped before restic finished: no snapshot was written.
      const snapshots = JSON.parse(
        resticSync(repo, ['snapshots', '--json'], { restic: restic.bin }),
      ) as SnapshotJson[];
      assert.equal(snapshots.filter((x) => x.paths?.includes(big.dir)).length, 0);
      const counts = Object.fromEntries(
        groupValues(group, 'restic_backup_runs_total').map((v) => [v.labels.outcome, Number(v.value)]),
      );
      assert.deepEqual(counts, { success: 1, warning: 1, failed: 2, interrupted: 1 });
    });

    it('the password is in no output, metric or file resticprom wrote, the outbox included', async () => {
      // One more failed run while the gateway is unreachable leaves its metrics in the outbox.
      const deadGateway = `http://127.0.0.1:${await freePort()}`;
      const wrongFile = join(tmp.dir, 'wrong-password');
      const config = writeConfig('offline', {
        repository: repo.repository,
        passwordFile: wrongFile,
        paths: [srcDir],
        gateway: deadGateway,
      });
      const r = await backup(config);
      assert.equal(r.code, ExitCode.WRONG_PASSWORD, r.stderr);
      assert.match(r.stderr, /kept in the outbox/);
      // This run's entry, and the group's last recorded run re-queued for the destination
      // the config names now (that gateway never confirmed it).
      const outbox = readdirSync(join(stateDir, 'outbox'))
        .filter((f) => f.endsWith('.json'))
        .map(
          (f) =>
            JSON.parse(readFileSync(join(stateDir, 'outbox', f), 'utf8')) as {
              entry: { isRequeued?: boolean };
            },
        );
      assert.deepEqual(outbox.map((e) => e.entry.isRequeued === true).sort(), [false, true]);
      for (const e of outbox) assert.match(JSON.stringify(e), /restic_backup_status/);

      const metrics = await (await fetch(`${gw.url}/metrics`)).text();
      const groups: GatewayGroup[] = [await gatewayGroup(gw.url, GROUP)];
      const written = filesUnder(stateDir).map((f) => ({ f, text: readFileSync(f, 'utf8') }));
      assert.ok(written.some((w) => w.f.endsWith('history.jsonl')));
      for (const secret of [PASSWORD, WRONG_PASSWORD]) {
        assert.ok(!metrics.includes(secret));
        assert.ok(!JSON.stringify(groups).includes(secret));
        for (const p of printed) assert.ok(!p.includes(secret), `printed: ${p}`);
        for (const w of written) assert.ok(!w.text.includes(secret), `${w.f} holds the password`);
      }
      assert.ok(printed.length >= 12);
    });
  });
}
