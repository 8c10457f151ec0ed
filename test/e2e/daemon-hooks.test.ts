/**
 * End to end, the daemon runs the same hooks and notifications as `backup`: a scheduled
 * run calls run-before, run-after and run-finally with the documented environment and
 * pings Healthchecks start and success with one run id; stopping the daemon while
 * restic runs (grace period 0) interrupts the run, which still runs run-finally.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureBuilt, spawnCli } from '../helpers/cli.js';
import { childProcesses, readHistory, waitUntil } from '../helpers/e2e.js';
import { resticMatrix } from '../helpers/matrix.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { makeRepo, makeSourceTree } from '../helpers/restic.js';
import { freePort, makeTempDir, waitReady } from '../helpers/services.js';

function envOf(file: string): Map<string, string> {
  return new Map(
    readFileSync(file, 'utf8')
      .split('\0')
      .filter((e) => e !== '')
      .map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)] as [string, string]),
  );
}

for (const restic of resticMatrix()) {
  describe(`the daemon runs hooks and notifications (e2e, restic ${restic.version})`, {
    skip: restic.skip,
  }, () => {
    const tmp = makeTempDir('resticprom-daemon-hooks-');
    let rx: Receiver;
    const children: ReturnType<typeof spawnCli>[] = [];

    before(async () => {
      await ensureBuilt();
      rx = await startReceiver();
    });
    after(async () => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await rx.stop();
      tmp.cleanup();
    });

    const start = async (name: string, paths: string, hooks: string, schedule: string, extra = '') => {
      const dir = join(tmp.dir, name);
      mkdirSync(dir);
      const repo = makeRepo(dir, 'daemon-hooks-pass', { restic: restic.bin });
      const port = await freePort();
      const file = join(dir, 'resticprom.yaml');
      writeFileSync(
        file,
        `state-dir: ${join(dir, 'state')}
timezone: UTC
hostname: e2e-host
restic-binary: ${restic.bin}
daemon: { listen: "127.0.0.1:${port}", grace-period: 0s, run-missed: false }
profiles:
  e2e:
    repository: ${repo.repository}
    password-file: ${repo.passwordFile}
    env: { RESTIC_CACHE_DIR: ${repo.cacheDir} }
    paths: [${paths}]
${extra}    hooks:
${hooks}
    notifications:
      - { type: healthchecks, url: "${rx.url}/ping/${name}" }
    tiers:
      fast: { schedule: "${schedule}" }
`,
        { mode: 0o600 },
      );
      const child = spawnCli(['daemon', '--config', file], { env: { HOME: dir } });
      children.push(child);
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      child.stdout?.resume();
      const exit = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
      await waitReady(`http://127.0.0.1:${port}/healthz`, 20_000);
      return { dir, child, exit, stderr: () => stderr, stateDir: join(dir, 'state') };
    };

    it('a scheduled run calls the hooks with the run described and pings start and success', async () => {
      const tree = makeSourceTree(join(tmp.dir, 'src-ok'), { files: 4, bytes: 100 });
      const beforeEnv = join(tmp.dir, 'ok-before.env');
      const afterEnv = join(tmp.dir, 'ok-after.env');
      const d = await start(
        'ok',
        tree.dir,
        `      run-before: [[sh, -c, "echo dumping; env -0 > ${beforeEnv}"]]
      run-after: [[sh, -c, "env -0 > ${afterEnv}"]]`,
        '*/2 * * * * *',
      );
      await waitUntil(
        'a recorded run',
        () => readHistory(d.stateDir).find((r) => r.kind === 'backup'),
        30_000,
      );
      await waitUntil(
        'the success ping',
        () => rx.requests.find((q) => q.url.startsWith('/ping/ok?')),
        10_000,
      );
      d.child.kill('SIGTERM');
      await d.exit;
      const run = readHistory(d.stateDir).find((r) => r.kind === 'backup');
      assert.equal(run?.outcome, 'success');
      const b = envOf(beforeEnv);
      assert.equal(b.get('RESTICPROM_KIND'), 'backup');
      assert.equal(b.get('RESTICPROM_PROFILE'), 'e2e');
      assert.equal(b.get('RESTICPROM_TIER'), 'fast');
      assert.equal(b.get('RESTICPROM_OUTCOME'), '');
      const a = envOf(afterEnv);
      assert.equal(a.get('RESTICPROM_OUTCOME'), 'success');
      assert.equal(a.get('RESTICPROM_FILES_NEW'), '4');
      const mine = rx.requests.filter((q) => q.url.startsWith('/ping/ok'));
      assert.equal(new URL(mine[0]?.url ?? '', 'http://x').pathname, '/ping/ok/start');
      assert.equal(new URL(mine[0]?.url ?? '', 'http://x').searchParams.get('rid'), run?.id);
      assert.match(d.stderr(), /backup e2e\/fast hook run-before 1: dumping$/m);
    });

    it('stopping the daemon mid-run interrupts it, and run-finally still runs', async () => {
      const tree = makeSourceTree(join(tmp.dir, 'src-slow'), { files: 3, bytes: 500_000 });
      const finallyEnv = join(tmp.dir, 'slow-finally.env');
      const d = await start(
        'slow',
        tree.dir,
        `      run-after-fail: [[touch, ${join(tmp.dir, 'slow-after-fail')}]]
      run-finally: [[sh, -c, "env -0 > ${finallyEnv}"]]`,
        '*/2 * * * * *',
        `    restic-args: [--limit-upload, "100"]\n`,
      );
      await waitUntil('restic to run', () => childProcesses(d.child.pid ?? 0, 'restic').length > 0, 30_000);
      await new Promise((r) => setTimeout(r, 1000));
      d.child.kill('SIGTERM');
      await d.exit;
      assert.ok(existsSync(finallyEnv), d.stderr());
      const f = envOf(finallyEnv);
      assert.equal(f.get('RESTICPROM_OUTCOME'), 'interrupted');
      assert.equal(f.get('RESTICPROM_HOOK'), 'run-finally');
      assert.ok(!existsSync(join(tmp.dir, 'slow-after-fail')));
      assert.equal(readHistory(d.stateDir).find((r) => r.kind === 'backup')?.outcome, 'interrupted');
    });
  });
}
