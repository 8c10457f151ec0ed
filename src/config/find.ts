/**
 * Finding and reading the configuration file, and putting the command line's
 * `--state-dir` over it: kept apart from the validation (yaml, zod) so that a run
 * served from the validated config cache loads neither.
 */
import { constants } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { unreadableReason } from './readable-file.js';
import type { LoadedConfig } from './types.js';

/** The config file looked for when neither `file` nor `$RESTICPROM_CONFIG` is given, in order. */
export const DEFAULT_CONFIG_PATHS = ['resticprom.yaml', '/etc/resticprom/resticprom.yaml'] as const;

/** A configuration file as read: its absolute path, text and file mode. */
export interface ConfigFileText {
  /** Absolute path. */
  file: string;
  text: string;
  /** Permission bits (`st_mode & 0o7777`). */
  mode: number;
}

/**
 * Returns the config file to read: `file`, else `$RESTICPROM_CONFIG`, else the first of
 * {@link DEFAULT_CONFIG_PATHS} that exists, resolved against `cwd`.
 * @throws ConfigError naming the places looked at when there is no file.
 */
export async function findConfigFile(
  file: string | undefined,
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<string> {
  if (file) return resolve(cwd, file);
  if (env.RESTICPROM_CONFIG) return resolve(cwd, env.RESTICPROM_CONFIG);
  const candidates = DEFAULT_CONFIG_PATHS.map((p) => resolve(cwd, p));
  for (const c of candidates) if (await isFile(c)) return c;
  throw new ConfigError([
    {
      file: 'resticprom.yaml',
      path: '',
      message: `no configuration file found (looked at ${candidates.join(', ')}); pass --config FILE, set RESTICPROM_CONFIG, or create one with: resticprom config init`,
    },
  ]);
}

/**
 * Whether a configuration file would be found (`file`, `$RESTICPROM_CONFIG`, the default
 * places), for commands that work without one (push, flush, run) but honour its `state-dir`.
 */
export async function hasConfigFile(
  opts: { file?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<boolean> {
  try {
    await findConfigFile(opts.file, opts.env ?? process.env, opts.cwd ?? process.cwd());
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads the config file's text and mode through one descriptor (so both are of the same file).
 * @throws ConfigError with one line saying why it cannot be read.
 */
export async function readConfigFile(file: string): Promise<ConfigFileText> {
  const refuse = (why: string, cause?: unknown) =>
    new ConfigError([{ file, path: '', message: `the configuration file ${why}` }], { cause });
  let fh: FileHandle;
  try {
    // O_NONBLOCK: a FIFO put in the config's place is refused below instead of blocking the open.
    fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw refuse(unreadableReason(err), err);
  }
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw refuse('is a directory');
    if (!st.isFile()) throw refuse('is not a regular file');
    return { file, text: await fh.readFile('utf8'), mode: st.mode & 0o7777 };
  } catch (err) {
    throw err instanceof ConfigError ? err : refuse(unreadableReason(err), err);
  } finally {
    await fh.close();
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The loaded config with `--state-dir` (relative to `cwd`) over the file's state directory. */
export function withStateDirFlag<T extends LoadedConfig>(
  loaded: T,
  flag: string | undefined,
  cwd: string,
): T {
  return flag ? { ...loaded, config: { ...loaded.config, stateDir: resolve(cwd, flag) } } : loaded;
}
