/**
 * Reading a file of the state directory that only we should have written (a cache, an
 * index): it is used only when it is a regular file (not a symlink, FIFO or folder) owned
 * by the running user, in a folder of ours, and neither is open to others. Anything else
 * is reported as a reason to ignore it, never trusted.
 */
import { constants } from 'node:fs';
import { dirname } from 'node:path';
import { open, stat } from './io.js';

/** A trusted file's content, or why it was not read. */
export type TrustedRead = { content: Buffer } | { reason: string };

/** Options of {@link readTrustedFile}. */
export interface ReadTrustedFileOptions {
  /** Larger files are not read. @default 16777216 (16 MiB) */
  maxBytes?: number;
  /** The running user. @default process.getuid() */
  uid?: number;
}

/**
 * Reads `path` when it and its folder are ours and private: the folder owned by us and not
 * writable by group or others, the file opened without following a symlink (and without
 * blocking on a FIFO), a regular file owned by us with no group or other permission bits.
 * A missing file reads as `{ reason: 'missing' }`.
 */
export async function readTrustedFile(path: string, opts: ReadTrustedFileOptions = {}): Promise<TrustedRead> {
  const uid = opts.uid ?? process.getuid?.() ?? -1;
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    const dir = await stat(dirname(path));
    if (uid >= 0 && dir.uid !== uid) return { reason: `its folder is owned by uid ${dir.uid}` };
    if (dir.mode & 0o022) return { reason: `its folder is writable by others (mode ${octal(dir.mode)})` };
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { reason: 'missing' };
    if (code === 'ELOOP') return { reason: 'it is a symlink' };
    return { reason: `cannot open it (${code ?? String(err)})` };
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { reason: 'it is not a regular file' };
    if (uid >= 0 && st.uid !== uid) return { reason: `it is owned by uid ${st.uid}` };
    if (st.mode & 0o077) return { reason: `it is open to others (mode ${octal(st.mode)})` };
    if (st.size > (opts.maxBytes ?? 16 * 1024 * 1024))
      return { reason: `it is too large (${st.size} bytes)` };
    return { content: await fh.readFile() };
  } catch (err) {
    return { reason: `cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})` };
  } finally {
    await fh.close();
  }
}

function octal(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, '0');
}
