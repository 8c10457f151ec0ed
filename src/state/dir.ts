/**
 * The state directory (outbox, run history, locks): where it is, creating it
 * private (0700), and writing files in it atomically so a crash never leaves a
 * half-written file under its final name.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { StateError } from '../errors.js';
import { access, chmod, lstat, mkdir, open, readdir, rename, rm, stat } from './io.js';

/** Options of {@link resolveStateDir}. */
export interface ResolveStateDirOptions {
  /** `--state-dir` of the command line: wins over everything. */
  flag?: string | undefined;
  /** The config file's `state-dir`, already absolute. */
  configured?: string | undefined;
  /** Environment to read `RESTICPROM_STATE_DIR`, `XDG_STATE_HOME`, `HOME` from. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Effective user id; 0 selects the system-wide directory. @default process.getuid() */
  uid?: number;
}

/**
 * Returns the state directory to use, the one precedence every command follows:
 * `--state-dir` (`flag`), else `$RESTICPROM_STATE_DIR`, else the config's `state-dir`
 * (`configured`), else `/var/lib/resticprom` for root, else `$XDG_STATE_HOME/resticprom`
 * (when absolute), falling back to `~/.local/state/resticprom`.
 * @example resolveStateDir({ env: { HOME: '/home/ann' }, uid: 1000 }) // '/home/ann/.local/state/resticprom'
 */
export function resolveStateDir(opts: ResolveStateDirOptions = {}): string {
  const env = opts.env ?? process.env;
  if (opts.flag) return resolve(opts.flag);
  if (env.RESTICPROM_STATE_DIR) return resolve(env.RESTICPROM_STATE_DIR);
  if (opts.configured) return opts.configured;
  const uid = opts.uid ?? process.getuid?.() ?? -1;
  if (uid === 0) return '/var/lib/resticprom';
  if (env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME)) return join(env.XDG_STATE_HOME, 'resticprom');
  return join(env.HOME || homedir(), '.local', 'state', 'resticprom');
}

/** The folders and files of a state directory that resticprom acts on. */
export const STATE_ENTRIES: readonly { name: string; isDir: boolean }[] = [
  { name: 'outbox', isDir: true },
  { name: 'outbox/dead', isDir: true },
  { name: 'latest', isDir: true },
  { name: 'locks', isDir: true },
  { name: 'metrics', isDir: true },
  { name: 'cache', isDir: true },
  { name: 'history.jsonl', isDir: false },
  { name: 'history.lock', isDir: false },
];

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/**
 * Why a folder or file of the state directory must not be trusted, or undefined when it may.
 * Trusted: not a symbolic link; the expected type; owned by the running user or by root (a
 * volume root prepared by the system, e.g. Kubernetes with `fsGroup`); not writable by others;
 * writable by its group only when that group is one of the running process's groups (the
 * `fsGroup` a pod runs with). Root trusts only root's groups, so a folder another user's group
 * may write is refused.
 */
export function untrustedReason(
  st: import('node:fs').Stats,
  isDir: boolean,
  ids: { uid: number; groups: readonly number[] } = processIds(),
): string | undefined {
  if (st.isSymbolicLink()) return 'is a symbolic link';
  if (isDir ? !st.isDirectory() : !st.isFile())
    return `is ${describeFileType(st)}, not ${isDir ? 'a directory' : 'a regular file'}`;
  if (st.uid !== ids.uid && st.uid !== 0) return `is owned by uid ${st.uid}, not by uid ${ids.uid}`;
  if (st.mode & 0o002) return `is writable by others (mode ${octal(st.mode)})`;
  if (st.mode & 0o020 && !ids.groups.includes(st.gid)) {
    return `is writable by group ${st.gid}, which uid ${ids.uid} is not in (mode ${octal(st.mode)})`;
  }
  return undefined;
}

function processIds(): { uid: number; groups: number[] } {
  const uid = process.getuid?.() ?? -1;
  const groups = [...(process.getgroups?.() ?? []), process.getegid?.() ?? -1];
  return { uid, groups };
}

/**
 * Creates `dir` (and its parents) private to the user, mode 0700; tightens the mode of
 * an existing looser directory of ours, checks it is writable, and checks that it and its
 * folders and files are ours to trust ({@link untrustedReason}). Returns `dir`.
 * @throws {StateError} when it cannot be created or written, or when it or one of its
 *   folders is not to be trusted: one line naming the path, its owner and mode, and the fix.
 */
export async function ensureStateDir(dir: string): Promise<string> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const st = await stat(dir);
    if (!st.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    if ((st.mode & 0o077) !== 0 && st.uid === process.getuid?.()) await chmod(dir, 0o700);
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new StateError(
      `state directory ${dir} is not usable (${code}); choose another with --state-dir or RESTICPROM_STATE_DIR`,
      dir,
      { cause: err },
    );
  }
  await checkStateTrust(dir);
  return dir;
}

/**
 * Refuses a state directory, or a folder or file in it, that another user could have
 * planted or may change (see {@link untrustedReason}).
 * @throws {StateError} naming the path, its owner and mode, and how to fix it
 */
export async function checkStateTrust(dir: string): Promise<void> {
  const ids = processIds();
  const items = [
    { path: dir, isDir: true },
    ...STATE_ENTRIES.map((e) => ({ path: join(dir, e.name), isDir: e.isDir })),
  ];
  // All at once (a run checks twice; one after the other they cost ~1 ms more each time),
  // judged in order, so the first untrusted one is the one named.
  const stats = await Promise.all(
    items.map(({ path }, i) =>
      // The directory itself may be a link an administrator made; what it points to is checked.
      (i === 0 ? stat(path) : lstat(path)).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
        throw err;
      }),
    ),
  );
  for (const [i, { path, isDir }] of items.entries()) {
    const st = stats[i];
    if (!st) continue;
    const why = untrustedReason(st, isDir, ids);
    if (why === undefined) continue;
    const fix =
      st.isSymbolicLink() || !(isDir ? st.isDirectory() : st.isFile())
        ? `remove it (rm ${isDir ? '-r ' : ''}${path})`
        : `chown ${ids.uid} ${path} && chmod ${isDir ? '700' : '600'} ${path}`;
    throw new StateError(
      `state directory ${dir} is not safe to use: ${path} ${why} (owner uid ${st.uid}, group ${st.gid}, mode ${octal(st.mode)}); ${fix}, or choose another with --state-dir or RESTICPROM_STATE_DIR`,
      path,
    );
  }
}

/** Options of {@link writeFileAtomic}. */
export interface WriteFileAtomicOptions {
  /** File mode of the new file. @default 0o600 */
  mode?: number;
  /**
   * fsync the file and its directory, so the new content survives a power loss. A file that
   * can be derived again (a cache, the daemon's copy of the latest metrics) passes false: it
   * is still replaced atomically, and after a power loss it may hold the old content.
   * @default true
   */
  isDurable?: boolean;
}

/**
 * Writes `data` to `path` atomically: a temp file in the same directory
 * (`.<name>.<pid>.<random>.tmp`), fsync, rename over `path`, fsync of the directory
 * (the two fsyncs only with `isDurable`, the default).
 * A crash leaves either the old file or the new one, never a mix; the temp file is
 * removed when writing fails. Temp names carry the writer's pid so a later run can
 * tell a dead writer's leftovers from a live one's ({@link tempFileOwner}).
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  opts: WriteFileAtomicOptions = {},
): Promise<void> {
  const dir = dirname(path);
  const isDurable = opts.isDurable ?? true;
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let isRenamed = false;
  try {
    const fh = await open(tmp, 'wx', opts.mode ?? 0o600);
    try {
      await fh.writeFile(data);
      // The umask may have narrowed the mode at creation (a textfile must stay readable).
      if (opts.mode !== undefined) await fh.chmod(opts.mode);
      if (isDurable) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    isRenamed = true;
    if (isDurable) await syncDir(dir);
  } catch (err) {
    if (!isRenamed) await rm(tmp, { force: true }).catch(() => {});
    throw err;
  }
}

/** fsyncs a directory so a rename or unlink in it survives a power loss. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch (err) {
    // Some file systems refuse fsync on a directory; the rename is still atomic there.
    if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
  } finally {
    await fh.close();
  }
}

/**
 * Returns the pid of the process that wrote a temp file named by {@link writeFileAtomic}
 * (`.<name>.<pid>.<hex>.tmp`), or by the lock files and the history rotation
 * (`<name>.<pid>.<hex>.tmp`), or undefined when `name` is not such a temp file.
 */
export function tempFileOwner(name: string): number | undefined {
  const m = /^.+\.(\d+)\.[0-9a-f]+\.tmp$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/**
 * Removes, from each folder of `dirs`, the temp files whose writer is gone (a crash or
 * `kill -9` mid-write); a live writer's, and this process's, stay. Folders that do not
 * exist are skipped. Returns the paths removed.
 */
export async function removeDeadTempFiles(dirs: string[]): Promise<string[]> {
  const removed: string[] = [];
  const listed = await Promise.all(dirs.map((dir) => readdir(dir).catch(() => undefined)));
  for (const [i, dir] of dirs.entries()) {
    const names = listed[i];
    if (!names) continue;
    for (const name of names) {
      const pid = tempFileOwner(name);
      if (pid === undefined || pid === process.pid || isProcessAlive(pid)) continue;
      await rm(join(dir, name), { force: true });
      removed.push(join(dir, name));
    }
  }
  return removed;
}

/** What kind of file a stat says it is, in words: `a directory`, `a FIFO`, `a symbolic link`. */
export function describeFileType(st: {
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
  isBlockDevice(): boolean;
  isCharacterDevice(): boolean;
  isFile(): boolean;
}): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isBlockDevice() || st.isCharacterDevice()) return 'a device';
  return 'not a regular file';
}

/**
 * Reads a file of the state directory without following a symbolic link and without
 * blocking on a FIFO (`O_NOFOLLOW | O_NONBLOCK`); returns the bytes, `undefined` when the
 * file does not exist, or why it is not used when it is not a regular file owned by the
 * running user (`{ refused: 'a FIFO' }`).
 */
export async function readStateFile(path: string): Promise<Buffer | undefined | { refused: string }> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') return { refused: 'a symbolic link' };
    throw err;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { refused: describeFileType(st) };
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) return { refused: `owned by uid ${st.uid}, not by uid ${uid}` };
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

/** True when a process with this pid exists (it may belong to another user). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
