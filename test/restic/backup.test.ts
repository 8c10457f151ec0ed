import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  readdirSync,
  readFileSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runBackup } from '../../src/restic/backup.js';
import {
  FAKE_RESTIC,
  FIXTURE_VERSIONS,
  fakeResticEnv,
  makeRepo,
  makeSourceTree,
  resticFixture,
  type TestRepo,
} from '../helpers/restic.js';
import { makeTempDir } from '../helpers/services.js';

const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;

/** Pids of processes whose argv contains `needle`. */
function findPids(needle: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (argv.includes(needle) && !argv.includes('node')) pids.push(Number(name));
    } catch {
      // gone
    }
  }
  return pids;
}

async function waitFor<T>(fn: () => T | undefined, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('runBackup with the real restic', () => {
  let tmp: { dir: string; cleanup: () => void };
  let repo: TestRepo;
  let base: { repository: string; password: { file: string }; env: NodeJS.ProcessEnv; cwd: string };

  before(() => {
    tmp = makeTempDir('resticprom-backup-');
    chmodSync(tmp.dir, 0o755);
    repo = makeRepo(tmp.dir, 'correct horse battery staple');
    base = {
      repository: repo.repository,
      password: { file: repo.passwordFile },
      env: repo.env,
      cwd: tmp.dir,
    };
  });
  after(() => tmp.cleanup());

  it('backs up a tree: the summary counts exactly the files created', async () => {
    const tree = makeSourceTree(join(tmp.dir, 'src'), { files: 25, bytes: 4096 });
    const r = await runBackup({ ...base, paths: ['src'], tags: ['daily'] });
    assert.equal(r.outcome, 'success', r.message);
    assert.equal(r.exitCode, 0);
    assert.equal(r.reason, undefined);
    assert.equal(r.errorCount, 0);
    assert.ok(r.summary);
    assert.equal(r.summary.filesNew, 25);
    assert.equal(r.summary.filesChanged, 0);
    assert.equal(r.summary.filesUnmodified, 0);
    assert.equal(r.summary.dirsNew, tree.dirs);
    assert.equal(r.summary.totalFilesProcessed, 25);
    assert.equal(r.summary.totalBytesProcessed, tree.totalBytes);
    assert.equal(r.summary.dataBlobs, 25);
    assert.match(r.summary.snapshotId ?? '', /^[0-9a-f]{8}$/);
    assert.equal(r.summary.dryRun, false);
    assert.ok(r.endedAt >= r.startedAt);
    assert.ok(r.durationMs > 0 && !Number.isInteger(r.durationMs));
  });

  it('a second run after changes counts new and changed files exactly', async () => {
    const src = join(tmp.dir, 'src');
    writeFileSync(join(src, 'd0', 'f0.bin'), 'changed content');
    writeFileSync(join(src, 'd1', 'f12.bin'), 'changed content too');
    for (const n of ['x1', 'x2', 'x3']) writeFileSync(join(src, 'd2', `${n}.txt`), `new ${n}`);
    const r = await runBackup({ ...base, paths: ['src'], tags: ['daily'] });
    assert.equal(r.outcome, 'success', r.message);
    assert.equal(r.summary?.filesNew, 3);
    assert.equal(r.summary?.filesChanged, 2);
    assert.equal(r.summary?.filesUnmodified, 23);
    assert.equal(r.summary?.totalFilesProcessed, 28);
    assert.equal(r.summary?.dirsChanged, 4); // src, d0, d1, d2
  });

  it('an unreadable file: incomplete, exit 3, the item listed, a snapshot written', async () => {
    const src = join(tmp.dir, 'src');
    const secret = join(src, 'd0', 'secret.bin');
    writeFileSync(secret, 'nobody may read this');
    chmodSync(secret, 0o000);
    // root reads mode-000 files anyway: run restic as nobody, who owns the repository and cache
    if (isRoot) {
      for (const d of [repo.repository, repo.cacheDir]) chownTree(d, NOBODY);
      chownSync(repo.passwordFile, NOBODY, NOBODY);
    }
    const items: string[] = [];
    try {
      const r = await runBackup({
        ...base,
        paths: ['src'],
        tags: ['daily'],
        onItemError: (e) => items.push(e.item),
        ...(isRoot ? { uid: NOBODY, gid: NOBODY } : {}),
      });
      assert.equal(r.outcome, 'incomplete', r.message);
      assert.equal(r.exitCode, 3);
      assert.equal(r.reason, undefined);
      assert.equal(r.errorCount, 1);
      assert.deepEqual(r.errors, [
        { item: secret, during: 'archival', message: 'open src/d0/secret.bin: permission denied' },
      ]);
      assert.deepEqual(items, [secret]);
      assert.match(r.summary?.snapshotId ?? '', /^[0-9a-f]{8}$/);
      assert.equal(
        r.message,
        `restic backup wrote a snapshot (snapshot ${r.summary?.snapshotId}) but 1 item could not be read`,
      );
      assert.equal(r.stderrTail, 'Warning: at least one source file could not be read');
    } finally {
      if (isRoot) for (const d of [repo.repository, repo.cacheDir]) chownTree(d, 0);
      chmodSync(secret, 0o644);
    }
  });

  it('a wrong password is wrong-password', async () => {
    const r = await runBackup({ ...base, password: { value: 'not the password' }, paths: ['src'] });
    assert.equal(r.outcome, 'failed');
    assert.equal(r.reason, 'wrong-password');
    assert.equal(r.exitCode, 1);
    assert.equal(r.summary, undefined);
    assert.equal(
      r.message,
      'restic backup failed: wrong repository password (exit 1; restic: wrong password or no key found)',
    );
  });

  it('a missing repository is repository-missing', async () => {
    const missing = join(tmp.dir, 'no-such-repo');
    const r = await runBackup({ ...base, repository: missing, paths: ['src'] });
    assert.equal(r.outcome, 'failed');
    assert.equal(r.reason, 'repository-missing');
    assert.equal(r.exitCode, 1);
    assert.equal(
      r.message,
      `restic backup failed: the repository does not exist or cannot be opened (exit 1; restic: unable to open config file: stat ${missing}/config: no such file or directory)`,
    );
  });

  it('a repository locked exclusively by another restic is repository-locked', async () => {
    // `restic check` takes the exclusive lock; stop it while it holds the lock
    const holder = spawn('restic', ['check', '--read-data'], {
      env: { ...repo.env, RESTIC_REPOSITORY: repo.repository, RESTIC_PASSWORD_FILE: repo.passwordFile },
      stdio: 'ignore',
    });
    const locks = join(repo.repository, 'locks');
    try {
      await waitFor(
        () => (readdirSync(locks).some((n) => /^[0-9a-f]{64}$/.test(n)) ? true : undefined),
        'the lock of restic check',
      );
      holder.kill('SIGSTOP');
      const r = await runBackup({ ...base, paths: ['src'] });
      assert.equal(r.outcome, 'failed');
      assert.equal(r.reason, 'repository-locked');
      assert.equal(r.exitCode, 1);
      assert.match(
        r.message ?? '',
        /^restic backup failed: the repository is locked by another restic process \(exit 1; restic: unable to create lock in backend: repository is already locked exclusively by PID \d+/,
      );
    } finally {
      holder.kill('SIGCONT');
      await new Promise((r) => (holder.exitCode !== null ? r(null) : holder.once('exit', r)));
    }
  });

  it('abort mid-run interrupts restic (SIGINT), it exits 130, removes its lock; password only in its environment', async () => {
    // a 64 GiB sparse file keeps restic busy reading zeros for minutes
    const busy = join(tmp.dir, 'busy-src');
    makeSourceTree(busy, { files: 1, bytes: 16 });
    const sparse = join(busy, 'sparse.img');
    writeFileSync(sparse, '');
    truncateSync(sparse, 64 * 1024 ** 3);

    const ac = new AbortController();
    const progress: number[] = [];
    const run = runBackup({
      ...base,
      password: { value: repo.password },
      paths: [busy],
      nice: 10,
      cpuLimit: 1,
      signal: ac.signal,
      onProgress: (p) => progress.push(p.percentDone),
    });
    const pid = await waitFor(() => findPids(busy)[0], 'restic to start');
    // a finished lock file (restic first writes `<id>-tmp-<n>`, then renames it)
    const isLock = (n: string) => /^[0-9a-f]{64}$/.test(n);
    await waitFor(
      () => (readdirSync(join(repo.repository, 'locks')).some(isLock) ? true : undefined),
      'lock',
    );
    // and restic is reading the sparse file, long past taking its lock
    const rchar = () => Number(/rchar: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? 0);
    await waitFor(() => (rchar() > 64 * 1024 ** 2 ? true : undefined), 'restic reading');
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    ac.abort();
    const r = await run;

    assert.deepEqual(cmdline.slice(0, 4), ['restic', 'backup', '--json', '--']);
    assert.equal(
      cmdline.some((a) => a.includes(repo.password)),
      false,
    );
    assert.ok(environ.includes(`RESTIC_PASSWORD=${repo.password}`));
    assert.ok(environ.includes(`RESTIC_REPOSITORY=${repo.repository}`));
    assert.ok(environ.includes('GOMAXPROCS=1'));
    // field 19 of /proc/pid/stat is the nice value
    assert.equal(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16], '10');

    assert.equal(r.outcome, 'failed');
    assert.equal(r.reason, 'interrupted');
    assert.equal(r.exitCode, 130);
    assert.equal(r.message, 'restic backup was interrupted');
    assert.equal(r.summary, undefined);
    assert.equal(existsSync(`/proc/${pid}`), false);
    assert.deepEqual(readdirSync(join(repo.repository, 'locks')), []);
  });
});

describe('runBackup with the fake restic', () => {
  for (const v of FIXTURE_VERSIONS) {
    it(`${v}: replayed success fixture gives the same summary numbers`, async () => {
      const fx = resticFixture(v, 'backup-success');
      const r = await runBackup({ resticBinary: FAKE_RESTIC, env: fakeResticEnv(fx), paths: ['data'] });
      assert.equal(r.outcome, 'success');
      assert.equal(r.summary?.totalBytesProcessed, 12061);
      assert.equal(r.summary?.dataAdded, 14168);
      assert.equal(r.summary?.filesNew, 3);
      assert.equal(r.nonJsonLines, 0);
    });
    it(`${v}: replayed wrong password exit ${resticFixture(v, 'backup-wrong-password').exitCode} is wrong-password`, async () => {
      const fx = resticFixture(v, 'backup-wrong-password');
      const r = await runBackup({ resticBinary: FAKE_RESTIC, env: fakeResticEnv(fx), paths: ['data'] });
      assert.equal(r.reason, 'wrong-password');
      assert.equal(r.exitCode, fx.exitCode);
    });
  }

  it('inactivity timeout: a silent restic is stopped and reported inactivity-timeout', async () => {
    const fx = resticFixture('0.18.0', 'backup-success');
    const r = await runBackup({
      resticBinary: FAKE_RESTIC,
      env: fakeResticEnv(fx, { FAKE_RESTIC_HANG: '1', FAKE_RESTIC_STDOUT: '' }),
      paths: ['data'],
      inactivityTimeoutMs: 300,
    });
    assert.equal(r.outcome, 'failed');
    assert.equal(r.reason, 'inactivity-timeout');
    assert.equal(r.exitCode, 130);
    assert.equal(r.message, 'restic backup was stopped: it printed nothing for 0.3s');
  });

  it('output keeps a slow restic alive past the inactivity timeout', async () => {
    const fx = resticFixture('0.17.3', 'backup-success');
    const r = await runBackup({
      resticBinary: FAKE_RESTIC,
      // 9 lines 400 ms apart: 3.6 s in all, past a 1.5 s timeout that each line resets.
      env: fakeResticEnv(fx, { FAKE_RESTIC_DELAY_MS: '400' }),
      paths: ['data'],
      inactivityTimeoutMs: 1500,
    });
    assert.equal(r.outcome, 'success', r.message);
    assert.equal(r.summary?.filesNew, 3);
  });

  it('a restic that ignores SIGINT gets SIGKILL after the grace period', async () => {
    const fx = resticFixture('0.18.0', 'backup-success');
    const r = await runBackup({
      resticBinary: FAKE_RESTIC,
      env: fakeResticEnv(fx, { FAKE_RESTIC_HANG: '1', FAKE_RESTIC_IGNORE_SIGINT: '1' }),
      paths: ['data'],
      // Long enough for the fake (a node script) to install its SIGINT handler on a loaded machine.
      inactivityTimeoutMs: 2000,
      killGraceMs: 200,
    });
    assert.equal(r.reason, 'inactivity-timeout');
    assert.equal(r.exitCode, null);
    assert.equal(r.signal, 'SIGKILL');
    // the summary printed before the hang is kept
    assert.equal(r.summary?.filesNew, 3);
  });

  it('restic that cannot be started is failed spawn-failed, not a throw', async () => {
    const r = await runBackup({ resticBinary: '/nonexistent/restic', paths: ['data'] });
    assert.equal(r.outcome, 'failed');
    assert.equal(r.reason, 'spawn-failed');
    assert.equal(r.exitCode, null);
    assert.equal(r.message, 'cannot start restic backup (/nonexistent/restic): not found');
  });
});

function chownTree(dir: string, uid: number): void {
  chownSync(dir, uid, uid);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) chownTree(p, uid);
    else chownSync(p, uid, uid);
  }
}
