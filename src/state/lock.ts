/**
 * One lock per restic repository, so two resticprom runs never work on the
 * same repository at once (restic's own lock would make the second one fail).
 *
 * The lock is a file `<stateDir>/locks/<sha256(repository), 16 hex>.lock`
 * holding `{pid, hostname, startedAt, command, pidStartTime, token}`. It is
 * created atomically with its content (written to a temporary file, then
 * hard-linked into place: `link(2)` fails when the name exists). A lock whose
 * holder is gone (crashed, `kill -9`, or its pid now belongs to another
 * process) is stale and is removed under a short take-over lock, so two
 * waiters never both remove it and both believe they hold it.
 * resticprom never runs `restic unlock`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { errorText, LockBusyError, maskCredentials, StateError } from '../errors.js';
import { formatDuration } from '../util/duration.js';
import { formatClockTime } from '../util/table.js';
import { link, mkdir, open, readFile, stat, unlink } from './io.js';

/** What a lock file holds. */
export interface LockHolder {
  /** Process id of the holder. */
  pid: number;
  /** Host the holder runs on; liveness can be checked only on the same host. */
  hostname: string;
  /** When the holder took the lock, Unix ms. */
  startedAt: number;
  /** What the holder does, e.g. `backup nfs/daily`. */
  command: string;
  /** Start time of the holder's process (field 22 of /proc/<pid>/stat), to detect a reused pid. */
  pidStartTime?: string;
  /** Random value identifying this acquisition; release removes the file only when it still holds it. */
  token: string;
}

/** Options of {@link acquireRepositoryLock} and {@link acquireLockFile}. */
export interface AcquireLockOptions {
  /** How long to wait for a live holder, ms. 0 fails at once. @default 0 */
  waitMs?: number;
  /** How often to look again while waiting, ms. @default 250 */
  pollMs?: number;
  /** Aborts waiting; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** What this run does, shown to whoever finds the lock busy. @default 'resticprom' */
  command?: string;
  /** Called once, when the lock is busy and waiting begins, with a sentence for people. */
  onWait?: (message: string) => void;
  /** Time zone of the "has run since" clock time in messages. @default the process's local time zone */
  timeZone?: string;
  /** Clock, Unix ms (tests). @default Date.now */
  now?: () => number;
}

/** A held lock. */
export interface HeldLock {
  /** The lock file. */
  lockFile: string;
  /** Set when a stale lock (holder dead) was taken over; say it to the user. */
  warning?: string;
  /** Every warning of the acquisition (today at most the take-over one). */
  warnings: string[];
  /** How long acquiring waited for another holder, ms. */
  waitedMs: number;
  /** Removes the lock file if it is still this acquisition's. Safe to call twice. */
  release(): Promise<void>;
}

/**
 * The identity of a repository for locking: a local one (a path, or `local:PATH`) as its real
 * absolute path, so `/srv/repo`, `/srv//repo/` and a symbolic link to it are one repository;
 * any other (`sftp:`, `s3:`, `rest:`...) as written, a trailing `/` removed.
 * @example repositoryIdentity('/srv//repo/') // '/srv/repo'
 */
export function repositoryIdentity(repository: string, cwd: string = process.cwd()): string {
  const local = /^local:/.exec(repository) ? repository.slice(6) : repository;
  // restic reads `name:rest` as a backend when name is one of its schemes; a path has none.
  const isRemote = local === repository && /^[a-z][a-z0-9+.-]*:/i.test(repository);
  if (isRemote) return repository.replace(/\/+$/, '');
  const path = resolve(cwd, local);
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** Returns the lock file of a repository: `<stateDir>/locks/<first 16 hex of sha256(identity)>.lock` ({@link repositoryIdentity}). */
export function repositoryLockPath(stateDir: string, repository: string): string {
  const id = createHash('sha256').update(repositoryIdentity(repository)).digest('hex').slice(0, 16);
  return join(stateDir, 'locks', `${id}.lock`);
}

/**
 * Takes the lock of a restic repository, waiting up to `waitMs` for a live holder.
 * A stale lock (holder dead or its pid reused) is taken over with a warning.
 * @throws LockBusyError when a live holder still has it after `waitMs`, e.g.
 *   `repository /srv/repo is busy: resticprom backup (pid 1234) has run since 10:02; waited 0s (set lock.wait to wait longer)`.
 * @throws StateError when the lock directory cannot be written.
 * @example
 * const lock = await acquireRepositoryLock(stateDir, '/srv/repo', { waitMs: 60_000, command: 'backup' });
 * try { ... } finally { await lock.release(); }
 */
export async function acquireRepositoryLock(
  stateDir: string,
  repository: string,
  options: AcquireLockOptions = {},
): Promise<HeldLock> {
  const file = repositoryLockPath(stateDir, repository);
  const shown = maskCredentials(repository);
  return acquireLockFile(file, {
    ...options,
    describeBusy: (holder, waitedMs, now) =>
      `repository ${shown} is busy: ${describeHolder(holder, now, options.timeZone)}; waited ${formatWait(waitedMs)} (set lock.wait to wait longer)`,
    describeWait: (holder, now) =>
      `repository ${shown} is busy: ${describeHolder(holder, now, options.timeZone)}; waiting up to ${formatWait(options.waitMs ?? 0)}`,
  });
}

/** Options of {@link acquireLockFile} beyond {@link AcquireLockOptions}. */
export interface LockFileOptions extends AcquireLockOptions {
  /** The LockBusyError message. */
  describeBusy?: (holder: LockHolder, waitedMs: number, now: number) => string;
  /** The `onWait` message. */
  describeWait?: (holder: LockHolder, now: number) => string;
}

/**
 * Takes an exclusive lock file (the mechanism behind {@link acquireRepositoryLock},
 * also used for the run history). Creates the folder (mode 0700) when missing.
 */
export async function acquireLockFile(file: string, options: LockFileOptions = {}): Promise<HeldLock> {
  const now = options.now ?? Date.now;
  const waitMs = options.waitMs ?? 0;
  const pollMs = Math.max(1, options.pollMs ?? 250);
  const startedWaiting = now();
  const warnings: string[] = [];
  const me: LockHolder = {
    pid: process.pid,
    hostname: osHostname(),
    startedAt: now(),
    command: options.command ?? 'resticprom',
    token: randomBytes(12).toString('hex'),
  };
  const myStart = await readPidStartTime(process.pid);
  if (myStart !== undefined) me.pidStartTime = myStart;
  const content = `${JSON.stringify(me)}\n`;

  try {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new StateError(`cannot create the lock folder ${dirname(file)}: ${errorText(err)}`, dirname(file), {
      cause: err,
    });
  }

  let hasToldWait = false;
  for (;;) {
    options.signal?.throwIfAborted();
    if (await tryCreate(file, content)) {
      const result: HeldLock = {
        lockFile: file,
        warnings,
        waitedMs: now() - startedWaiting,
        release: makeRelease(file, me.token),
      };
      if (warnings[0] !== undefined) result.warning = warnings[0];
      return result;
    }
    const found = await readLockFile(file);
    if (found === undefined) continue; // released between our attempt and the read: try again
    const verdict = await judgeHolder(found.holder);
    if (verdict !== 'live') {
      if (await removeStale(file, found.raw)) {
        const who = found.holder
          ? `resticprom ${found.holder.command} (pid ${found.holder.pid}, since ${formatClock(found.holder.startedAt, now(), options.timeZone)})`
          : 'an unreadable lock file';
        warnings.push(`took over the stale lock ${file} left by ${who}: ${verdict}`);
      } else {
        await sleep(Math.min(pollMs, 20), options.signal);
      }
      continue;
    }
    const holder = found.holder as LockHolder;
    const t = now();
    const waited = t - startedWaiting;
    if (waited >= waitMs) {
      const message = options.describeBusy
        ? options.describeBusy(holder, waited, t)
        : `${file} is busy: ${describeHolder(holder, t, options.timeZone)}; waited ${formatWait(waited)}`;
      throw new LockBusyError(message, { lockFile: file, holderPid: holder.pid });
    }
    if (!hasToldWait) {
      hasToldWait = true;
      options.onWait?.(
        options.describeWait
          ? options.describeWait(holder, t)
          : `${file} is busy: ${describeHolder(holder, t, options.timeZone)}; waiting`,
      );
    }
    await sleep(Math.min(pollMs, Math.max(1, waitMs - waited)), options.signal);
  }
}

/** Reads a lock file's holder; `undefined` when there is no lock, `holder: undefined` when it is unreadable. */
export async function readLockFile(
  file: string,
): Promise<{ raw: string; holder: LockHolder | undefined } | undefined> {
  let raw: string;
  try {
    raw = await readFile(file, 'utf8');
  } catch (err) {
    if (isCode(err, 'ENOENT')) return undefined;
    throw new StateError(`cannot read the lock file ${file}: ${errorText(err)}`, file, { cause: err });
  }
  return { raw, holder: parseHolder(raw) };
}

/**
 * Says whether a lock holder still runs: `'live'`, or why it is stale. A holder on
 * another host cannot be checked and counts as live.
 */
export async function judgeHolder(holder: LockHolder | undefined): Promise<'live' | string> {
  if (holder === undefined) return 'the lock file is unreadable';
  if (holder.hostname !== osHostname()) return 'live';
  if (!isProcessAlive(holder.pid)) return `process ${holder.pid} is gone`;
  const current = await readPidStartTime(holder.pid);
  if (current === 'zombie') return `process ${holder.pid} has exited`;
  if (holder.pidStartTime !== undefined && current !== undefined && current !== holder.pidStartTime) {
    return `pid ${holder.pid} now belongs to another process`;
  }
  return 'live';
}

/**
 * Reads a process's start time (clock ticks since boot, field 22 of `/proc/<pid>/stat`);
 * `'zombie'` for an exited, unreaped process; `undefined` where /proc is not available.
 */
export async function readPidStartTime(pid: number): Promise<string | undefined> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (rest[0] === 'Z' || rest[0] === 'X') return 'zombie';
  return rest[19];
}

function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return isCode(err, 'EPERM'); // exists, owned by another user
  }
}

function parseHolder(raw: string): LockHolder | undefined {
  try {
    const v = JSON.parse(raw) as Partial<LockHolder>;
    if (
      typeof v.pid === 'number' &&
      typeof v.hostname === 'string' &&
      typeof v.startedAt === 'number' &&
      typeof v.command === 'string'
    ) {
      return { ...v, token: typeof v.token === 'string' ? v.token : '' } as LockHolder;
    }
  } catch {
    // unreadable: judged stale below
  }
  return undefined;
}

/** Creates `file` with `content` atomically; false when it exists. */
async function tryCreate(file: string, content: string): Promise<boolean> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeNew(tmp, content);
  } catch (err) {
    // A full disk fails the write after the create: do not leave the empty temp file behind.
    await unlink(tmp).catch(() => {});
    throw new StateError(`cannot write the lock file ${file}: ${errorText(err)}`, file, { cause: err });
  }
  try {
    await link(tmp, file);
    return true;
  } catch (err) {
    if (isCode(err, 'EEXIST')) return false;
    if (isCode(err, 'EPERM') || isCode(err, 'ENOTSUP') || isCode(err, 'EOPNOTSUPP')) {
      // No hard links on this file system: O_EXCL create (a reader may briefly see it empty).
      try {
        await writeNew(file, content);
        return true;
      } catch (err2) {
        if (isCode(err2, 'EEXIST')) return false;
        throw new StateError(`cannot create the lock file ${file}: ${errorText(err2)}`, file, {
          cause: err2,
        });
      }
    }
    throw new StateError(`cannot create the lock file ${file}: ${errorText(err)}`, file, { cause: err });
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

async function writeNew(path: string, content: string): Promise<void> {
  const fh = await open(path, 'wx', 0o600);
  try {
    await fh.writeFile(content);
  } finally {
    await fh.close();
  }
}

/** A take-over lock older than this is left by a process that died inside the take-over; ms. */
const TAKEOVER_STALE_MS = 10_000;

/**
 * Removes a stale lock file, if it still holds `staleRaw`, under `<file>.takeover`
 * so that two waiters cannot both remove it (the second would remove the lock the
 * first one created meanwhile). Returns true when this call removed it.
 */
async function removeStale(file: string, staleRaw: string): Promise<boolean> {
  const guard = `${file}.takeover`;
  try {
    await writeNew(guard, `${process.pid}\n`);
  } catch (err) {
    if (!isCode(err, 'EEXIST')) {
      throw new StateError(`cannot write ${guard}: ${errorText(err)}`, guard, { cause: err });
    }
    const st = await stat(guard).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > TAKEOVER_STALE_MS) await unlink(guard).catch(() => {});
    return false;
  }
  try {
    const now = await readFile(file, 'utf8').catch(() => undefined);
    if (now !== staleRaw) return false; // someone else removed it and maybe took the lock
    await unlink(file);
    return true;
  } finally {
    await unlink(guard).catch(() => {});
  }
}

function makeRelease(file: string, token: string): () => Promise<void> {
  let isReleased = false;
  return async () => {
    if (isReleased) return;
    isReleased = true;
    const found = await readLockFile(file).catch(() => undefined);
    if (found?.holder?.token === token) await unlink(file).catch(() => {});
  };
}

function describeHolder(holder: LockHolder, now: number, timeZone: string | undefined): string {
  const where = holder.hostname === osHostname() ? '' : ` on ${holder.hostname}`;
  return `resticprom ${holder.command} (pid ${holder.pid}${where}) has run since ${formatClock(holder.startedAt, now, timeZone)}`;
}

/** `10:02` for today, `2024-05-01 10:02` for an older day. */
function formatClock(ms: number, now: number, timeZone: string | undefined): string {
  const then = formatClockTime(ms, timeZone);
  return then.slice(0, 10) === formatClockTime(now, timeZone).slice(0, 10) ? then.slice(11) : then;
}

function formatWait(ms: number): string {
  return ms < 60_000 ? `${Math.round(ms / 1000)}s` : formatDuration(ms);
}

function isCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
