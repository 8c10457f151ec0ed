/**
 * End to end, restore drills (`resticprom verify`) with the real restic of each matrix
 * version, the real Pushgateway and the real Prometheus evaluating the rules that
 * `resticprom rules` writes: a healthy drill compares every file with its source; a
 * source file edited after the backup is not a mismatch; a restic without
 * `restore --verify` still drills; SIGINT stops the drill and removes its folder; a
 * pack overwritten with garbage fails the drill with the files named, and
 * ResticVerifyFailed fires. After every drill the temporary folder is gone.
 */
import assert from 'node:assert/strict';
import {
  appendFileSync,
  chmodSync,
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { ensureBuilt, runCli, spawnCli } from '../helpers/cli.js';
import { filesUnder, gatewayGroup, groupValue, readHistory, waitUntil } from '../helpers/e2e.js';
import { resticMatrix } from '../helpers/matrix.js';
import { findAlert, waitForFiring } from '../helpers/prom-alerts.js';
import { makeRepo, makeSourceTree, type TestRepo } from '../helpers/restic.js';
import {
  makeTempDir,
  type RunningPrometheus,
  type RunningService,
  scrapeConfig,
  startPrometheus,
  startPushgateway,
} from '../helpers/services.js';

for (const restic of resticMatrix()) {
  describe(`verify: restore drills against a real repository (e2e, restic ${restic.version})`, {
    skip: restic.skip,
  }, () => {
    const tmp = makeTempDir('resticprom-e2e-verify-');
    const stateDir = join(tmp.dir, 'state');
    const tempDir = join(tmp.dir, 'drill-tmp');
    const configFile = join(tmp.dir, 'resticprom.yaml');
    const env = { HOME: tmp.dir, TMPDIR: tempDir };
    let gw: RunningService;
    let prom: RunningPrometheus | undefined;
    let repo: TestRepo;
    let srcDir: string;
    let files: string[];

    const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
      runCli([...args, '--config', configFile], { env: { ...env, ...extra }, timeoutMs: 300_000 });
    const verifyGroup = () => gatewayGroup(gw.url, { job: 'nfs_backup', instance: 'verify' });
    const lastVerify = () =>
      readHistory(stateDir)
        .filter((r) => r.kind === 'verify')
        .at(-1);

    before(async () => {
      await ensureBuilt();
      mkdirSync(tempDir, { mode: 0o700 });
      gw = await startPushgateway();
      repo = makeRepo(tmp.dir, 'e2e-verify-password', { restic: restic.bin });
      const tree = makeSourceTree(join(tmp.dir, 'nfs'), { files: 30, bytes: 5000 });
      srcDir = tree.dir;
      // A large file, so that a drill lasts long enough to be interrupted.
      const big = openSync(join(srcDir, 'big.bin'), 'w');
      const chunk = Buffer.alloc(1024 * 1024);
      for (let i = 0; i < 24; i++) {
        for (let j = 0; j < chunk.length; j += 4) chunk.writeUInt32LE((i * 2654435761 + j * 40503) >>> 0, j);
        writeSync(big, chunk);
      }
      closeSync(big);
      files = [...tree.files, 'big.bin'];
      writeFileSync(
        configFile,
        `state-dir: ${stateDir}
restic-binary: ${restic.bin}
hostname: e2e-host
profiles:
  nfs:
    repository: ${repo.repository}
    password-file: ${repo.passwordFile}
    env: { RESTIC_CACHE_DIR: ${repo.cacheDir} }
    paths: [${srcDir}]
    verify: { schedule: "0 6 * * 1", sample-files: 1000 }
    tiers:
      daily:  { schedule: "30 1 * * *" }
      weekly: { schedule: "0 3 * * 0" }
    metrics:
      job: nfs_backup
      grouping: { instance: "{tier}" }
      pushgateway: { url: "${gw.url}", retries: 0 }
`,
        { mode: 0o600 },
      );
      const b = await cli(['backup', '--tier', 'daily']);
      assert.equal(b.code, ExitCode.OK, b.stderr);
    });

    after(async () => {
      await prom?.stop();
      await gw?.stop();
      tmp.cleanup();
    });

    it('a healthy drill restores every file as backed up and compares each with its source', async () => {
      const r = await cli(['verify']);
      assert.equal(r.code, ExitCode.OK, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `^verify nfs/daily: ${files.length} file\\(s\\), .* restored as backed up in .*; ${files.length} compared byte for byte with the source; restic verified the content$`,
          'm',
        ),
      );
      const g = await verifyGroup();
      assert.equal(groupValue(g, 'restic_verify_status'), 2);
      assert.equal(groupValue(g, 'restic_verify_files'), files.length);
      assert.equal(
        groupValue(g, 'restic_verify_bytes'),
        files.reduce((n, f) => n + statSync(join(srcDir, f)).size, 0),
      );
      assert.equal(groupValue(g, 'restic_verify_mismatches'), 0);
      assert.equal(groupValue(g, 'restic_verify_compared_with_source_files'), files.length);
      assert.ok((groupValue(g, 'restic_verify_snapshot_age_seconds') ?? -1) >= 0);
      assert.ok((groupValue(g, 'restic_verify_last_success_timestamp_seconds') ?? 0) > 0);
      assert.equal(lastVerify()?.outcome, 'success');
      assert.deepEqual(readdirSync(tempDir), [], 'the drill folder is removed');
    });

    it('a source file edited after the backup is not compared and is no mismatch', async () => {
      const edited = files[3] as string;
      appendFileSync(join(srcDir, edited), 'edited after the backup\n');
      const r = await cli(['verify', '--sample-files', '5']);
      assert.equal(r.code, ExitCode.OK, r.stderr);
      const all = await cli(['verify']);
      assert.equal(all.code, ExitCode.OK, all.stderr);
      assert.match(
        all.stderr,
        new RegExp(
          `${files.length - 1} compared byte for byte with the source, 1 changed since the snapshot \\(not compared\\)`,
        ),
      );
      const g = await verifyGroup();
      assert.equal(groupValue(g, 'restic_verify_files'), files.length);
      assert.equal(groupValue(g, 'restic_verify_compared_with_source_files'), files.length - 1);
      assert.equal(groupValue(g, 'restic_verify_mismatches'), 0);
      assert.deepEqual(readdirSync(tempDir), []);
    });

    it('drills with a restic whose restore has no --verify (compared with the source only)', async () => {
      // An older restic, for what the real one cannot do on demand: its help lacks --verify
      // and it refuses the flag.
      const wrapper = join(tmp.dir, 'restic-without-verify');
      writeFileSync(
        wrapper,
        `#!/bin/sh
for a in "$@"; do [ "$a" = "--verify" ] && { echo "unknown flag: --verify" >&2; exit 1; }; done
if [ "$1" = restore ] && [ "$2" = --help ]; then ${restic.bin} "$@" | grep -v -- '--verify'; exit 0; fi
exec ${restic.bin} "$@"
`,
      );
      chmodSync(wrapper, 0o755);
      const other = join(tmp.dir, 'without-verify.yaml');
      writeFileSync(
        other,
        readFileSync(configFile, 'utf8').replace(`restic-binary: ${restic.bin}`, `restic-binary: ${wrapper}`),
        {
          mode: 0o600,
        },
      );
      const r = await runCli(['verify', '--config', other], { env, timeoutMs: 300_000 });
      assert.equal(r.code, ExitCode.OK, r.stderr);
      assert.match(r.stderr, new RegExp(`${files.length} file\\(s\\), .* restored as backed up`));
      assert.doesNotMatch(r.stderr, /restic verified the content/);
      assert.deepEqual(readdirSync(tempDir), []);
    });

    it('SIGINT stops the drill, records it as interrupted and removes its folder', async () => {
      const leftover = new Set(readdirSync(tempDir));
      const child = spawnCli(['verify', '--config', configFile], { env });
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      child.stdout?.resume();
      const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
      // Interrupt once the drill made its folder (restic is about to restore into it, or does).
      await waitUntil(
        'the drill folder',
        () => readdirSync(tempDir).some((n) => !leftover.has(n)),
        120_000,
        5,
      );
      child.kill('SIGINT');
      const code = await closed;
      assert.equal(code, ExitCode.INTERRUPTED, stderr);
      assert.deepEqual(
        readdirSync(tempDir).filter((n) => !leftover.has(n)),
        [],
        'the drill folder is removed after SIGINT',
      );
      assert.equal(lastVerify()?.outcome, 'interrupted');
    });

    it('a pack overwritten with garbage fails the drill, names the files, and ResticVerifyFailed fires', async () => {
      const rulesFile = join(tmp.dir, 'rules.yml');
      const rules = await cli(['rules', '--for', '0s', '--out', rulesFile]);
      assert.equal(rules.code, 0, rules.stderr);
      prom = await startPrometheus({
        config: `${scrapeConfig([{ job: 'pushgateway', target: `127.0.0.1:${gw.port}` }])}rule_files:\n  - rules.yml\n`,
        ruleFiles: { 'rules.yml': readFileSync(rulesFile, 'utf8') },
      });
      // The largest pack holds file data; overwrite its middle with garbage.
      const packs = filesUnder(join(repo.repository, 'data')).map((p) => ({ p, size: statSync(p).size }));
      packs.sort((a, b) => b.size - a.size);
      const pack = packs[0];
      assert.ok(pack);
      chmodSync(pack.p, 0o600);
      const fd = openSync(pack.p, 'r+');
      writeSync(
        fd,
        Buffer.alloc(Math.min(64 * 1024, Math.floor(pack.size / 2)), 0x5a),
        0,
        undefined,
        Math.floor(pack.size / 4),
      );
      closeSync(fd);

      const r = await cli(['verify']);
      assert.equal(r.code, ExitCode.FAILURE, r.stderr);
      assert.match(
        r.stderr,
        /^error: verify nfs\/daily FAILED after .*: \d+ of \d+ file\(s\) did not restore as backed up$/m,
      );
      const named = [
        ...r.stderr.matchAll(
          new RegExp(`^  (${srcDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/\\S+): `, 'gm'),
        ),
      ].map((m) => m[1]);
      assert.ok(named.length > 0, r.stderr);
      const g = await verifyGroup();
      assert.equal(groupValue(g, 'restic_verify_status'), 0);
      assert.equal(groupValue(g, 'restic_verify_mismatches'), named.length);
      const rec = lastVerify();
      assert.equal(rec?.outcome, 'failed');
      assert.deepEqual(
        ((rec?.summary as { mismatchedFiles?: { path: string }[] } | undefined)?.mismatchedFiles ?? [])
          .map((m) => m.path)
          .sort(),
        [...named].sort().slice(0, 20),
      );
      assert.deepEqual(readdirSync(tempDir), [], 'the drill folder is removed after a failure');
      const firing = await waitForFiring(
        prom.url,
        (f) => findAlert(f, 'ResticVerifyFailed', { profile: 'nfs' }) !== undefined,
      );
      const alert = findAlert(firing, 'ResticVerifyFailed', { profile: 'nfs' });
      assert.equal(alert?.labels.severity, 'critical');
      assert.equal(alert?.annotations.summary, 'The restore drill of nfs failed');
    });
  });
}
