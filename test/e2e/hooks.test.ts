/**
 * End to end, command hooks with the real restic and the real Pushgateway: a failing
 * run-before stops restic (nothing backed up, the failure pushed with reason
 * hook-failed, `status` says FAILED with the hook's message); the hooks' environment
 * holds exactly the documented variables plus PATH/HOME/locale basics, and none of
 * the run's secrets; a failing after-hook and a hook that times out are reported but
 * do not change the run's outcome; output is prefixed and escaped; an interrupted
 * backup still runs run-finally.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { ensureBuilt, runCli, spawnCli } from '../helpers/cli.js';
import { childProcesses, gatewayGroup, groupValue, readHistory, waitUntil } from '../helpers/e2e.js';
import { resticMatrix } from '../helpers/matrix.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { makeRepo, makeSourceTree, resticSync, type TestRepo } from '../helpers/restic.js';
import { makeTempDir, type RunningService, startPushgateway } from '../helpers/services.js';

const PASSWORD = 'pw-Hk42zR-hooks-distinct';
const GW_PASSWORD = 'gw-Qp83xL-hooks-distinct';
const AWS_SECRET = 'aws-Zt19mB-hooks-distinct';
const TOKEN = 'tok-Vw57nC-hooks-distinct';
const PARENT_SECRET = 'parent-Rb26kD-hooks-distinct';
const GROUP = { job: 'nfs_backup', instance: 'daily' };

/** The documented variables, set for every hook (empty when not known yet). */
const DOCUMENTED = [
  'RESTICPROM_HOOK',
  'RESTICPROM_RUN_ID',
  'RESTICPROM_PROFILE',
  'RESTICPROM_TIER',
  'RESTICPROM_KIND',
  'RESTICPROM_HOST',
  'RESTICPROM_OUTCOME',
  'RESTICPROM_EXIT_CODE',
  'RESTICPROM_REASON',
  'RESTICPROM_ERROR',
  'RESTICPROM_SNAPSHOT_ID',
  'RESTICPROM_DURATION_SECONDS',
  'RESTICPROM_FILES_NEW',
  'RESTICPROM_FILES_CHANGED',
  'RESTICPROM_BYTES_ADDED',
  'RESTICPROM_BYTES_PROCESSED',
  'RESTICPROM_CONFIG',
];
/** What a hook may get from our own environment, and what `sh` itself adds. */
const BASICS = ['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR', 'PWD', 'SHLVL', '_'];

/** `env -0` output as a map. */
function readEnvDump(file: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of readFileSync(file, 'utf8').split('\0')) {
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    out.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return out;
}

for (const restic of resticMatrix()) {
  describe(`command hooks around a backup (e2e, restic ${restic.version})`, { skip: restic.skip }, () => {
    const tmp = makeTempDir('resticprom-e2e-hooks-');
    const stateDir = join(tmp.dir, 'state');
    let gw: RunningService;
    let receiver: Receiver;
    let repo: TestRepo;
    let src: ReturnType<typeof makeSourceTree>;
    const tokenFile = join(tmp.dir, 'hook.token');
    const env = {
      HOME: tmp.dir,
      GW_PASS: GW_PASSWORD,
      // A password in our own environment must not reach restic's children or the hooks.
      RESTIC_PASSWORD: PARENT_SECRET,
    };

    const writeConfig = (
      name: string,
      hooks: string,
      opts: { extra?: string; paths?: string } = {},
    ): string => {
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
    env: { RESTIC_CACHE_DIR: ${repo.cacheDir}, AWS_SECRET_ACCESS_KEY: ${AWS_SECRET} }
    paths: [${opts.paths ?? src.dir}]
${opts.extra ?? ''}    hooks:
${hooks}
    notifications:
      - type: webhook
        url: ${receiver.url}/hook
        on: [success, failure]
        headers: { Authorization: { file: ${tokenFile} } }
    tiers:
      daily: { schedule: "30 1 * * *" }
    metrics:
      job: nfs_backup
      grouping: { instance: "{tier}" }
      pushgateway:
        url: ${gw.url}
        retries: 0
        basic-auth: { username: backup, password-env: GW_PASS }
`,
        { mode: 0o600 },
      );
      return file;
    };

    const snapshotCount = () =>
      (JSON.parse(resticSync(repo, ['snapshots', '--json'], { restic: restic.bin })) as unknown[]).length;

    before(async () => {
      await ensureBuilt();
      gw = await startPushgateway();
      receiver = await startReceiver();
      repo = makeRepo(tmp.dir, PASSWORD, { restic: restic.bin });
      src = makeSourceTree(join(tmp.dir, 'nfs'), { files: 7, bytes: 300 });
      writeFileSync(tokenFile, `Bearer ${TOKEN}\n`, { mode: 0o600 });
    });

    after(async () => {
      await receiver?.stop();
      await gw?.stop();
      tmp.cleanup();
    });

    it('a failing run-before means restic does not run: failure pushed as hook-failed, status FAILED with the message', async () => {
      const marker = join(tmp.dir, 'after-fail.env');
      const config = writeConfig(
        'before-fails',
        `      run-before:
        - [sh, -c, "echo dumping; echo 'pg_dumpall: connection refused' >&2; exit 2"]
        - [touch, ${join(tmp.dir, 'never')}]
      run-after: [[touch, ${join(tmp.dir, 'after-ran')}]]
      run-after-fail: [[sh, -c, "env -0 > ${marker}"]]
      run-finally: [[touch, ${join(tmp.dir, 'finally-ran')}]]`,
      );
      const r = await runCli(['backup', '--config', config, '--tier', 'daily'], { env });
      assert.equal(r.code, ExitCode.FAILURE, r.stderr);
      const message = 'run-before hook 1 (sh) exited 2: dumping | pg_dumpall: connection refused';
      assert.match(r.stderr, /^hook run-before 1: dumping$/m);
      assert.match(r.stderr, /^hook run-before 1: pg_dumpall: connection refused$/m);
      assert.ok(r.stderr.includes(`error: backup nfs/daily failed after`), r.stderr);
      assert.ok(r.stderr.includes(message), r.stderr);
      assert.equal(snapshotCount(), 0, 'restic did not run');
      assert.throws(
        () => readFileSync(join(tmp.dir, 'never')),
        /ENOENT/,
        'the second run-before did not run',
      );
      assert.throws(() => readFileSync(join(tmp.dir, 'after-ran')), /ENOENT/);
      readFileSync(join(tmp.dir, 'finally-ran'));
      const failEnv = readEnvDump(marker);
      assert.equal(failEnv.get('RESTICPROM_HOOK'), 'run-after-fail');
      assert.equal(failEnv.get('RESTICPROM_OUTCOME'), 'failed');
      assert.equal(failEnv.get('RESTICPROM_REASON'), 'hook-failed');
      assert.equal(failEnv.get('RESTICPROM_ERROR'), message);

      const run = readHistory(stateDir).at(-1);
      assert.equal(run?.outcome, 'failed');
      assert.equal(run?.reason, 'hook-failed');
      assert.equal(run?.error, message);
      const group = await gatewayGroup(gw.url, GROUP);
      assert.equal(groupValue(group, 'restic_backup_status'), 0);
      assert.equal(groupValue(group, 'restic_backup_exit_code'), -1);
      assert.equal(groupValue(group, 'restic_backup_end_timestamp_seconds'), (run?.endedAt ?? 0) / 1000);
      assert.ok((groupValue(group, 'restic_backup_hooks_duration_seconds') ?? 0) > 0);
      assert.equal(
        groupValue(group, 'restic_backup_time'),
        undefined,
        'no seed gauge for a run that did not back up',
      );

      // The webhook told about the failure, with the hook's message.
      const posted = receiver.requests.filter((q) => q.url === '/hook').at(-1);
      const body = JSON.parse(posted?.body ?? '{}') as {
        event: string;
        run: { reason: string; error: string };
      };
      assert.equal(body.event, 'failure');
      assert.equal(body.run.reason, 'hook-failed');
      assert.equal(body.run.error, message);

      const status = await runCli(['status', '--config', config], { env });
      assert.equal(status.code, ExitCode.UNHEALTHY, status.stderr);
      assert.match(status.stdout, /^nfs\s+daily\s+FAILED\s/m);
      assert.ok(status.stdout.includes(`nfs/daily: ${message}`), status.stdout);
    });

    it("the hooks' environment is the documented variables plus basics, and no secret", async () => {
      const beforeDump = join(tmp.dir, 'before.env');
      const afterDump = join(tmp.dir, 'after.env');
      const config = writeConfig(
        'environment',
        `      run-before: [[sh, -c, "env -0 > ${beforeDump}"]]
      run-after: [[sh, -c, "env -0 > ${afterDump}"]]`,
      );
      receiver.requests.length = 0;
      const r = await runCli(['backup', '--config', config, '--tier', 'daily'], { env });
      assert.equal(r.code, ExitCode.OK, r.stderr);
      const snapshots = JSON.parse(resticSync(repo, ['snapshots', '--json'], { restic: restic.bin })) as {
        id: string;
        short_id: string;
      }[];
      const snapshot = snapshots.at(-1);
      const run = readHistory(stateDir).at(-1);
      const secrets = [PASSWORD, GW_PASSWORD, AWS_SECRET, TOKEN, PARENT_SECRET];
      for (const [file, stage] of [
        [beforeDump, 'run-before'],
        [afterDump, 'run-after'],
      ] as const) {
        const dump = readEnvDump(file);
        const names = [...dump.keys()].filter((k) => !BASICS.includes(k) && !k.startsWith('LC_')).sort();
        assert.deepEqual(names, [...DOCUMENTED].sort(), `${stage}: nothing beyond the documented variables`);
        const text = readFileSync(file, 'utf8');
        for (const s of secrets) assert.ok(!text.includes(s), `${stage}: a secret reached the hook`);
        assert.ok(
          !text.includes('GW_PASS'),
          `${stage}: not even the name of the variable a secret reference names`,
        );
        assert.equal(dump.get('PATH'), process.env.PATH);
        assert.equal(dump.get('HOME'), tmp.dir);
        assert.equal(dump.get('RESTICPROM_HOOK'), stage);
        assert.equal(dump.get('RESTICPROM_RUN_ID'), run?.id);
        assert.equal(dump.get('RESTICPROM_PROFILE'), 'nfs');
        assert.equal(dump.get('RESTICPROM_TIER'), 'daily');
        assert.equal(dump.get('RESTICPROM_KIND'), 'backup');
        assert.equal(dump.get('RESTICPROM_HOST'), 'e2e-host');
        assert.equal(dump.get('RESTICPROM_CONFIG'), config);
      }
      const before = readEnvDump(beforeDump);
      for (const k of ['OUTCOME', 'EXIT_CODE', 'SNAPSHOT_ID', 'DURATION_SECONDS', 'FILES_NEW', 'BYTES_ADDED'])
        assert.equal(before.get(`RESTICPROM_${k}`), '', `run-before: ${k} is not known yet`);
      const afterEnv = readEnvDump(afterDump);
      assert.equal(afterEnv.get('RESTICPROM_OUTCOME'), 'success');
      assert.equal(afterEnv.get('RESTICPROM_EXIT_CODE'), '0');
      assert.equal(afterEnv.get('RESTICPROM_REASON'), '');
      assert.equal(afterEnv.get('RESTICPROM_ERROR'), '');
      assert.ok(snapshot?.id.startsWith(afterEnv.get('RESTICPROM_SNAPSHOT_ID') ?? '-'));
      assert.equal(afterEnv.get('RESTICPROM_FILES_NEW'), String(src.files.length));
      assert.equal(afterEnv.get('RESTICPROM_FILES_CHANGED'), '0');
      assert.equal(afterEnv.get('RESTICPROM_BYTES_PROCESSED'), String(src.totalBytes));
      const summary = run?.summary as { dataAdded: number };
      assert.equal(afterEnv.get('RESTICPROM_BYTES_ADDED'), String(summary.dataAdded));
      assert.match(afterEnv.get('RESTICPROM_DURATION_SECONDS') ?? '', /^\d+\.\d{3}$/);
      // The receiver got the secret header it was configured with: the secret exists, the hooks lack it.
      assert.equal(receiver.requests.at(-1)?.headers.authorization, `Bearer ${TOKEN}`);
    });

    it('a failing or timed-out after-hook is reported, escaped, and changes neither outcome nor exit code', async () => {
      const config = writeConfig(
        'after-fails',
        `      run-after: [[sh, -c, "printf 'x\\\\033[2Jy\\\\n'; exit 4"]]
      run-finally: ["sleep 30"]
      timeout: 1s`,
      );
      const t0 = Date.now();
      const r = await runCli(['backup', '--config', config, '--tier', 'daily'], { env });
      assert.equal(r.code, ExitCode.OK, r.stderr);
      assert.ok(Date.now() - t0 < 20_000, 'the sleeping hook was stopped at its timeout');
      assert.ok(r.stderr.includes('hook run-after 1: x\\x1b[2Jy\n'), r.stderr);
      assert.ok(!r.stderr.includes('\x1b'), 'no raw escape sequence reaches the log');
      assert.match(r.stderr, /^warning: run-after hook 1 \(sh\) exited 4: x\\x1b\[2Jy$/m);
      assert.match(r.stderr, /^warning: run-finally hook 1 \(sleep\) timed out after 1s$/m);
      assert.match(r.stderr, /^backup nfs\/daily succeeded in /m);
      const run = readHistory(stateDir).at(-1);
      assert.equal(run?.outcome, 'success');
      assert.deepEqual(
        run?.hooks?.map((h) => [h.stage, h.isOk, h.exitCode, h.error]),
        [
          ['run-after', false, 4, 'run-after hook 1 (sh) exited 4: x\\x1b[2Jy'],
          ['run-finally', false, null, 'run-finally hook 1 (sleep) timed out after 1s'],
        ],
      );
      const group = await gatewayGroup(gw.url, GROUP);
      assert.equal(groupValue(group, 'restic_backup_status'), 2);
      const hooksTime = groupValue(group, 'restic_backup_hooks_duration_seconds') ?? 0;
      assert.ok(hooksTime >= 1, `the hooks took the timeout at least (${hooksTime})`);
      // restic_backup_time keeps the seed's meaning: restic's own time, from its start to its
      // end; the after and finally hooks ran after that end.
      const resticTime = groupValue(group, 'restic_backup_time') ?? 0;
      assert.equal(resticTime, groupValue(group, 'restic_backup_duration_seconds'));
      assert.ok(Math.abs(resticTime - ((run?.endedAt ?? 0) - (run?.startedAt ?? 0)) / 1000) < 0.01);
      assert.ok(Date.now() - (run?.endedAt ?? 0) >= hooksTime * 1000, 'the hooks ran after restic ended');
    });

    it('an interrupted backup still runs run-finally, not run-after-fail', async () => {
      const big = makeSourceTree(join(tmp.dir, 'big'), { files: 3, bytes: 500_000 });
      const marker = join(tmp.dir, 'interrupted-finally.env');
      const config = writeConfig(
        'interrupted',
        `      run-after-fail: [[touch, ${join(tmp.dir, 'after-fail-on-interrupt')}]]
      run-finally: [[sh, -c, "env -0 > ${marker}"]]`,
        { extra: `    restic-args: [--limit-upload, "100"]\n`, paths: big.dir },
      );
      const child = spawnCli(['backup', '--config', config, '--tier', 'daily'], { env });
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      await waitUntil('restic to run', () => childProcesses(child.pid ?? 0, 'restic').length > 0);
      await new Promise((res) => setTimeout(res, 1000));
      child.kill('SIGTERM');
      const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
      assert.equal(code, ExitCode.INTERRUPTED, stderr);
      const dump = readEnvDump(marker);
      assert.equal(dump.get('RESTICPROM_HOOK'), 'run-finally');
      assert.equal(dump.get('RESTICPROM_OUTCOME'), 'interrupted');
      assert.equal(dump.get('RESTICPROM_REASON'), 'interrupted');
      assert.throws(() => readFileSync(join(tmp.dir, 'after-fail-on-interrupt')), /ENOENT/);
      assert.equal(readHistory(stateDir).at(-1)?.outcome, 'interrupted');
    });
  });
}
