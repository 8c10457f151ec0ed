import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LockBusyError } from '../../src/errors.js';
import { acquireRepositoryLock, readPidStartTime, repositoryLockPath } from '../../src/state/lock.js';
import { makeTempDir } from '../helpers/services.js';

const CHILD = join(import.meta.dirname, 'child.ts');
const temps: Array<() => void> = [];
after(() => {
  for (const c of temps) c();
});
function tempState(): string {
  const t = makeTempDir('resticprom-lock-');
  temps.push(t.cleanup);
  return t.dir;
}

/** 10:02 UTC on a fixed day. */
const T0 = Date.UTC(2024, 4, 1, 10, 2, 30);

function startChild(args: string[]): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { stdio: 'pipe' });
}

function waitForLine(child: ChildProcessWithoutNullStreams, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const m = buf.match(pattern);
      if (m) {
        child.stdout.off('data', onData);
        resolve(m[0]);
      }
    };
    child.stdout.on('data', onData);
    child.once('error', reject);
  });
}

function writeLock(file: string, holder: Record<string, unknown>): void {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, `${JSON.stringify(holder)}\n`);
}

describe('repository lock', () => {
  it('names the lock file after the repository hash', () => {
    assert.equal(
      repositoryLockPath('/var/lib/resticprom', '/srv/repo'),
      // sha256('/srv/repo'), first 16 hex digits
      '/var/lib/resticprom/locks/203fce37fbfc82f3.lock',
    );
  });

  it('writes pid, hostname, start time and command; release removes it', async () => {
    const dir = tempState();
    const lock = await acquireRepositoryLock(dir, '/srv/repo', {
      command: 'backup nfs/daily',
      now: () => T0,
    });
    const file = repositoryLockPath(dir, '/srv/repo');
    assert.equal(lock.lockFile, file);
    assert.deepEqual(lock.warnings, []);
    assert.equal(lock.warning, undefined);
    const held = JSON.parse(readFileSync(file, 'utf8'));
    assert.equal(held.pid, process.pid);
    assert.equal(held.hostname, hostname());
    assert.equal(held.startedAt, T0);
    assert.equal(held.command, 'backup nfs/daily');
    assert.equal(held.pidStartTime, await readPidStartTime(process.pid));
    await lock.release();
    assert.equal(existsSync(file), false);
    await lock.release(); // twice is fine
  });

  it('fails at once with LockBusyError and the exact message when waiting is 0', async () => {
    const dir = tempState();
    const held = await acquireRepositoryLock(dir, '/srv/repo', { command: 'backup', now: () => T0 });
    await assert.rejects(
      acquireRepositoryLock(dir, '/srv/repo', { waitMs: 0, timeZone: 'UTC', now: () => T0 + 60_000 }),
      (err: unknown) => {
        assert.ok(err instanceof LockBusyError);
        assert.equal(
          err.message,
          `repository /srv/repo is busy: resticprom backup (pid ${process.pid}) has run since 10:02; waited 0s (set lock.wait to wait longer)`,
        );
        assert.equal(err.holderPid, process.pid);
        assert.equal(err.lockFile, repositoryLockPath(dir, '/srv/repo'));
        return true;
      },
    );
    await held.release();
  });

  it('masks credentials of the repository in the message', async () => {
    const dir = tempState();
    const repo = 'rest:https://ann:s3cret@backup.example/repo';
    const held = await acquireRepositoryLock(dir, repo, { command: 'backup' });
    await assert.rejects(acquireRepositoryLock(dir, repo), (err: Error) => {
      assert.match(err.message, /^repository rest:https:\/\/\*\*\*@backup\.example\/repo is busy/);
      assert.doesNotMatch(err.message, /s3cret/);
      return true;
    });
    await held.release();
  });

  it('a second acquirer waits and gets the lock once the first releases it', async () => {
    const dir = tempState();
    const first = await acquireRepositoryLock(dir, '/srv/repo', { command: 'backup nfs/daily' });
    const waits: string[] = [];
    let isSecondHeld = false;
    const second = acquireRepositoryLock(dir, '/srv/repo', {
      waitMs: 20_000,
      pollMs: 10,
      command: 'forget',
      onWait: (m) => waits.push(m),
    }).then((l) => {
      isSecondHeld = true;
      return l;
    });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(isSecondHeld, false);
    assert.equal(waits.length, 1);
    assert.match(
      waits[0] ?? '',
      new RegExp(
        `^repository /srv/repo is busy: resticprom backup nfs/daily \\(pid ${process.pid}\\) has run since \\d\\d:\\d\\d; waiting up to 20s$`,
      ),
    );
    await first.release();
    const lock = await second;
    assert.equal(JSON.parse(readFileSync(lock.lockFile, 'utf8')).command, 'forget');
    assert.ok(lock.waitedMs > 0);
    await lock.release();
  });

  it('times out waiting with LockBusyError', async () => {
    const dir = tempState();
    const held = await acquireRepositoryLock(dir, '/srv/repo', { command: 'backup' });
    await assert.rejects(acquireRepositoryLock(dir, '/srv/repo', { waitMs: 50, pollMs: 10 }), LockBusyError);
    await held.release();
  });

  it('stops waiting when the signal aborts', async () => {
    const dir = tempState();
    const held = await acquireRepositoryLock(dir, '/srv/repo', { command: 'backup' });
    const ac = new AbortController();
    const p = acquireRepositoryLock(dir, '/srv/repo', { waitMs: 60_000, pollMs: 10, signal: ac.signal });
    setTimeout(() => ac.abort(new Error('stop')), 30);
    await assert.rejects(p, { message: 'stop' });
    await held.release();
  });

  it('recovers the lock of a process killed with SIGKILL, with a warning', async () => {
    const dir = tempState();
    const child = startChild(['hold', dir, '/srv/repo']);
    await waitForLine(child, /held/);
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    const lock = await acquireRepositoryLock(dir, '/srv/repo', { command: 'backup' });
    assert.equal(lock.warnings.length, 1);
    assert.match(
      lock.warning ?? '',
      new RegExp(
        `^took over the stale lock .*\\.lock left by resticprom backup nfs/daily \\(pid ${child.pid}, since .*\\): process ${child.pid} is gone$`,
      ),
    );
    assert.equal(JSON.parse(readFileSync(lock.lockFile, 'utf8')).pid, process.pid);
    await lock.release();
  });

  it('guards against pid reuse: a live pid with another start time is stale', async () => {
    const dir = tempState();
    const file = repositoryLockPath(dir, '/srv/repo');
    const start = await readPidStartTime(process.pid);
    assert.ok(start !== undefined && start !== 'zombie');
    // Same live pid, same start time: really held.
    writeLock(file, {
      pid: process.pid,
      hostname: hostname(),
      startedAt: T0,
      command: 'backup',
      pidStartTime: start,
      token: 'a',
    });
    await assert.rejects(acquireRepositoryLock(dir, '/srv/repo'), LockBusyError);
    // Same pid, but the process that wrote the lock started at another time: the pid was reused.
    writeLock(file, {
      pid: process.pid,
      hostname: hostname(),
      startedAt: T0,
      command: 'backup',
      pidStartTime: String(Number(start) + 1),
      token: 'b',
    });
    const lock = await acquireRepositoryLock(dir, '/srv/repo');
    assert.match(lock.warning ?? '', new RegExp(`: pid ${process.pid} now belongs to another process$`));
    await lock.release();
  });

  it('treats a holder on another host as live and says where it runs', async () => {
    const dir = tempState();
    writeLock(repositoryLockPath(dir, '/srv/repo'), {
      pid: 1,
      hostname: 'other-host',
      startedAt: T0,
      command: 'backup',
      token: 'x',
    });
    await assert.rejects(acquireRepositoryLock(dir, '/srv/repo', { timeZone: 'UTC', now: () => T0 }), {
      message:
        'repository /srv/repo is busy: resticprom backup (pid 1 on other-host) has run since 10:02; waited 0s (set lock.wait to wait longer)',
    });
  });

  it('takes over an unreadable lock file', async () => {
    const dir = tempState();
    writeLock(repositoryLockPath(dir, '/srv/repo'), {});
    writeFileSync(repositoryLockPath(dir, '/srv/repo'), '{"pid":');
    const lock = await acquireRepositoryLock(dir, '/srv/repo');
    assert.match(lock.warning ?? '', /left by an unreadable lock file: the lock file is unreadable$/);
    await lock.release();
  });

  it('release leaves a lock that is no longer ours', async () => {
    const dir = tempState();
    const lock = await acquireRepositoryLock(dir, '/srv/repo');
    const other = { pid: process.pid, hostname: hostname(), startedAt: T0, command: 'x', token: 'other' };
    writeFileSync(lock.lockFile, JSON.stringify(other));
    await lock.release();
    assert.deepEqual(JSON.parse(readFileSync(lock.lockFile, 'utf8')), other);
  });

  it('of several processes racing for a stale lock, exactly one gets it', async () => {
    const dir = tempState();
    const dead = startChild(['hold', dir, '/srv/repo']);
    await waitForLine(dead, /held/);
    const exited = new Promise((r) => dead.once('exit', r));
    dead.kill('SIGKILL');
    await exited;
    const racers = [0, 1, 2].map(() => startChild(['race', dir, '/srv/repo']));
    await Promise.all(racers.map((c) => waitForLine(c, /ready/)));
    const answers = racers.map((c) => waitForLine(c, /(got|busy) \S+/));
    for (const c of racers) c.stdin.write('go\n');
    const results = (await Promise.all(answers)).sort();
    for (const c of racers) c.stdin.end();
    await Promise.all(
      racers.map((c) => new Promise((r) => (c.exitCode === null ? c.once('exit', r) : r(0)))),
    );
    // One holds it (the stale lock's remover or a racer that came in right after); the others find it live.
    assert.deepEqual(results.slice(0, 2), ['busy LockBusyError', 'busy LockBusyError']);
    assert.match(results[2] ?? '', /^got [01]$/);
  });
});
