/**
 * Writes the starter configuration file for `resticprom config init`.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { StateError, UsageError } from '../errors.js';
import { renderStarterConfig } from './starter.js';

/** Options of {@link writeStarterFile}. */
export interface WriteStarterOptions {
  /** Replace an existing file. @default false */
  force?: boolean;
  /** Folder a relative `path` is taken from. @default process.cwd() */
  cwd?: string;
}

/**
 * Writes `text` (default: {@link renderStarterConfig}) to `path` with mode 0600,
 * creating its folder; returns the absolute path.
 * @throws UsageError when the file exists and `force` is not set; StateError when it cannot be written.
 */
export async function writeStarterFile(
  path: string,
  text: string = renderStarterConfig(),
  opts: WriteStarterOptions = {},
): Promise<string> {
  const file = resolve(opts.cwd ?? process.cwd(), path);
  try {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, text, { mode: 0o600, flag: opts.force ? 'w' : 'wx' });
    // An overwritten file keeps its old mode; the starter may get secrets later.
    await chmod(file, 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST')
      throw new UsageError(`${file} exists; pass --force to overwrite it`, { cause: err });
    throw new StateError(`cannot write ${file}: ${code ?? String(err)}`, file, { cause: err });
  }
  return file;
}
