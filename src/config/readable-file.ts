/**
 * Whether a file the config names can be read, and why not, in one wording for every
 * caller: the config file itself, `config validate`'s checks of the files a profile names
 * (password-file, exclude-file, files-from, env-file), and the env-file read at each run.
 */
import { constants } from 'node:fs';
import { access, stat } from '../state/io.js';

/**
 * Why a file could not be opened or read, as the end of a sentence whose subject is the file.
 * @example `password-file /etc/x.pass ${unreadableReason(err)}` // '... does not exist'
 */
export function unreadableReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'does not exist';
  if (code === 'EACCES' || code === 'EPERM') return 'is not readable';
  if (code === 'EISDIR') return 'is a directory';
  if (code === 'ENOTDIR') return 'does not exist (a folder on its path is a file)';
  return `cannot be read (${code ?? String(err)})`;
}

/** What {@link checkReadableFile} found. */
export type FileReadability =
  | { isReadable: true /** `st_mode` of the file. */; mode: number }
  | { isReadable: false /** See {@link unreadableReason}. */; reason: string };

/**
 * Checks that `file` is a regular file (after symlinks) this process may read, without
 * reading it.
 * @example
 * const r = await checkReadableFile('/etc/resticprom/nfs.pass');
 * if (!r.isReadable) problems.push(`password-file /etc/resticprom/nfs.pass ${r.reason}`);
 */
export async function checkReadableFile(file: string): Promise<FileReadability> {
  try {
    const st = await stat(file);
    if (st.isDirectory()) return { isReadable: false, reason: 'is a directory' };
    if (!st.isFile()) return { isReadable: false, reason: 'is not a regular file' };
    await access(file, constants.R_OK);
    return { isReadable: true, mode: st.mode };
  } catch (err) {
    return { isReadable: false, reason: unreadableReason(err) };
  }
}
