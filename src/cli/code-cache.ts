/**
 * V8's code cache of the CLI bundle, one file per command, in a folder only the running user
 * can write (docs/operations.md, "The code cache").
 *
 * A code cache is code that node runs, and V8 does not verify its checksum in release builds,
 * so it is trusted only under the rules a private key would be: the folder and the file are
 * the running user's (or root's), written by nobody else (no group or other write bit), not
 * symbolic links, and the file's CRC-32 and key (node version, the bundle's identity, the
 * command) match. Anything else is ignored and, where the folder is ours, replaced. Nothing
 * here ever fails a run: a cache that cannot be read or written is simply not used.
 *
 * Written for the CLI's entry point, which runs before the bundle is compiled: it uses only
 * `node:fs`, `node:path` and `node:zlib` (a library for this would load more than it saves,
 * and the well-known one, v8-compile-cache, keeps its files in the shared temporary folder).
 */
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  type Stats,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';

/** The file's first bytes; the number is the format's version. */
const MAGIC = Buffer.from('RPV8CC01');
/** magic, CRC-32 (4), flags (4), key length (4). */
const HEADER = MAGIC.length + 12;
/** Larger is not a cache of ours (the bundle's is ~0.5 MiB). */
const MAX_BYTES = 64 * 1024 * 1024;
/** Header flag: written after a run that did not exit 0 (it may lack the usual path's code). */
const FROM_FAILED_RUN = 1;

/** Why the cache is not used, for `RESTICPROM_DEBUG_CODE_CACHE=1`. */
export type CacheNote = (line: string) => void;

/**
 * The folder of the code cache: `$RESTICPROM_CODE_CACHE` (an absolute path; `off` or `0`
 * turns it off), else `code/` in systemd's `$CACHE_DIRECTORY`, in `/var/cache/resticprom`
 * for root, in `$XDG_CACHE_HOME/resticprom` (when absolute), else in
 * `~/.cache/resticprom`; undefined when off or when none applies. (`code/`: the units give
 * restic the same cache directory, whose top level restic lists as its own.)
 */
export function codeCacheDir(env: NodeJS.ProcessEnv, uid: number): string | undefined {
  const own = env.RESTICPROM_CODE_CACHE;
  if (own !== undefined && own !== '') {
    if (/^(off|0|false|no)$/i.test(own)) return undefined;
    return isAbsolute(own) ? own : undefined;
  }
  const systemd = env.CACHE_DIRECTORY?.split(':')[0];
  if (systemd && isAbsolute(systemd)) return join(systemd, 'code');
  if (uid === 0) return '/var/cache/resticprom/code';
  if (env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME))
    return join(env.XDG_CACHE_HOME, 'resticprom', 'code');
  return env.HOME && isAbsolute(env.HOME) ? join(env.HOME, '.cache', 'resticprom', 'code') : undefined;
}

/** The cache file of a command: its first argument when it looks like one, else `other`. */
export function codeCacheFile(dir: string, argv: readonly string[]): string {
  const first = argv.find((a) => !a.startsWith('-'));
  const command = first !== undefined && /^[a-z][a-z-]{0,31}$/.test(first) ? first : 'other';
  return join(dir, `cli-${command}.v8`);
}

/** What identifies a cache as made for this node and this bundle. */
export function codeCacheKey(bundle: Stats, file: string): string {
  return [process.version, process.arch, bundle.size, bundle.mtimeMs, bundle.ino, bundle.dev, file].join(' ');
}

/** Why a folder or file must not be trusted with code, or undefined. */
function untrusted(st: Stats, isDir: boolean, uid: number): string | undefined {
  if (st.isSymbolicLink()) return 'is a symbolic link';
  if (isDir ? !st.isDirectory() : !st.isFile()) return `is not a ${isDir ? 'directory' : 'regular file'}`;
  if (st.uid !== uid && st.uid !== 0) return `is owned by uid ${st.uid}`;
  if (st.mode & 0o022) return `is writable by its group or others (mode ${(st.mode & 0o7777).toString(8)})`;
  return undefined;
}

/**
 * Makes the cache folder (0700) when it is missing and checks it and its parent; returns
 * whether it may be used.
 */
export function trustCacheDir(dir: string, uid: number, note: CacheNote): boolean {
  try {
    let st: Stats;
    try {
      st = lstatSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      st = lstatSync(dir);
    }
    const why = untrusted(st, true, uid);
    if (why) {
      note(`${dir} ${why}: not used`);
      return false;
    }
    // A parent others may write could swap the folder, unless its sticky bit stops them.
    const parent = lstatSync(dirname(dir));
    if (parent.mode & 0o022 && !(parent.mode & 0o1000) && parent.uid !== uid) {
      note(`${dirname(dir)} is writable by others without the sticky bit: not used`);
      return false;
    }
    return true;
  } catch (err) {
    note(`${dir}: ${(err as Error).message}: not used`);
    return false;
  }
}

/**
 * crc32 of node:zlib (node 20.15 and later); without it there is no cache. Required when first
 * needed (this module runs in the CLI's CommonJS entry point), so `--version` with the cache
 * off never loads zlib.
 */
function crc32(): ((data: Uint8Array, value?: number) => number) | undefined {
  const zlib = require('node:zlib') as { crc32?: (data: Uint8Array, value?: number) => number };
  return typeof zlib.crc32 === 'function' ? zlib.crc32 : undefined;
}

/** A cache read: its V8 data, and whether a run that did not exit 0 wrote it. */
export interface CachedCode {
  data: Buffer;
  isFromFailedRun: boolean;
}

/** Reads the cache file when it is trusted and made for `key`; undefined otherwise. */
export function readCodeCache(
  file: string,
  key: string,
  uid: number,
  note: CacheNote,
): CachedCode | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') note(`${file}: ${code === 'ELOOP' ? 'is a symbolic link' : code}: not used`);
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    const why = untrusted(st, false, uid);
    if (why) {
      note(`${file} ${why}: not used`);
      return undefined;
    }
    if (st.size < HEADER || st.size > MAX_BYTES) {
      note(`${file}: not a code cache: not used`);
      return undefined;
    }
    const buf = readFileSync(fd);
    const crc = crc32();
    if (!crc) {
      note('node:zlib has no crc32 (node older than 20.15): no code cache');
      return undefined;
    }
    if (buf.length !== st.size || !buf.subarray(0, MAGIC.length).equals(MAGIC)) {
      note(`${file}: not a code cache: not used`);
      return undefined;
    }
    const sum = buf.readUInt32LE(MAGIC.length);
    const flags = buf.readUInt32LE(MAGIC.length + 4);
    const keyLength = buf.readUInt32LE(MAGIC.length + 8);
    if (HEADER + keyLength > buf.length || crc(buf.subarray(MAGIC.length + 4)) !== sum) {
      note(`${file}: damaged (checksum): not used`);
      return undefined;
    }
    if (buf.toString('utf8', HEADER, HEADER + keyLength) !== key) {
      note(`${file}: made for another build or node: not used`);
      return undefined;
    }
    return { data: buf.subarray(HEADER + keyLength), isFromFailedRun: (flags & FROM_FAILED_RUN) !== 0 };
  } catch (err) {
    note(`${file}: ${(err as Error).message}: not used`);
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Writes the cache file atomically (a temporary file renamed over it), 0600. */
export function writeCodeCache(
  file: string,
  key: string,
  data: Buffer,
  isFromFailedRun: boolean,
  note: CacheNote,
): void {
  const crc = crc32();
  if (!crc) {
    note('node:zlib has no crc32 (node older than 20.15): no code cache');
    return;
  }
  const keyBytes = Buffer.from(key);
  const head = Buffer.alloc(HEADER);
  MAGIC.copy(head);
  head.writeUInt32LE(isFromFailedRun ? FROM_FAILED_RUN : 0, MAGIC.length + 4);
  head.writeUInt32LE(keyBytes.length, MAGIC.length + 8);
  const sum = crc(data, crc(keyBytes, crc(head.subarray(MAGIC.length + 4))));
  head.writeUInt32LE(sum, MAGIC.length);
  const tmp = join(dirname(file), `.${process.pid}.${Date.now()}.tmp`);
  try {
    // 'wx': created anew (O_EXCL), so never through a link planted under the temporary name.
    writeFileSync(tmp, Buffer.concat([head, keyBytes, data]), { flag: 'wx', mode: 0o600 });
    renameSync(tmp, file);
    note(`${file}: written (${data.length} bytes)`);
  } catch (err) {
    note(`${file}: ${(err as Error).message}: not written`);
    try {
      unlinkSync(tmp);
    } catch {}
  }
}
