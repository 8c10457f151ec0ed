/**
 * A profile's `env-file`: systemd's `EnvironmentFile=` format, one `KEY=VALUE` a line,
 * `#` and `;` comments, blank lines ignored, a value in matching single or double quotes
 * taken without them. Read at each run (credentials rotate), never logged.
 * Format: https://www.freedesktop.org/software/systemd/man/latest/systemd.exec.html#EnvironmentFile=
 *
 * Own code rather than a dotenv library: dotenv's syntax (export, `${}` expansion,
 * multi-line values) is not systemd's, and the units we install read the same file.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import { checkReadableFile, unreadableReason } from './readable-file.js';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Returns a warning when a secret file (password file, env-file) can be read by its group
 * or by others, else undefined.
 * @example secretModeWarning('/etc/resticprom/nfs.pass', 0o644) // '... (mode 0644): chmod 600 ...'
 */
export function secretModeWarning(path: string, mode: number, what: string): string | undefined {
  if ((mode & 0o044) === 0) return undefined;
  const octal = (mode & 0o777).toString(8).padStart(4, '0');
  return `${what} ${path} is readable by others (mode ${octal}): chmod 600 ${path}`;
}

/** The variables of an env-file, and a warning about its mode. */
export interface EnvFileRead {
  vars: Record<string, string>;
  warnings: string[];
}

/**
 * Reads and parses an env-file.
 * @throws ConfigError naming the file and line of a line that is not `KEY=VALUE`
 * (the value is never quoted in the message), or that the file cannot be read.
 */
export async function readEnvFile(path: string): Promise<EnvFileRead> {
  const fail = (why: string, cause?: unknown) =>
    new ConfigError([{ file: path, path: '', message: `the env-file ${why}` }], { cause });
  // Checked first so that a FIFO or a directory is refused instead of read (or waited on).
  const readable = await checkReadableFile(path);
  if (!readable.isReadable) throw fail(readable.reason);
  const mode = readable.mode;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw fail(unreadableReason(err), err);
  }
  const vars: Record<string, string> = {};
  const problems: ConstructorParameters<typeof ConfigError>[0] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const eq = line.indexOf('=');
    const key = eq > 0 ? line.slice(0, eq).trim() : '';
    if (!ENV_NAME.test(key)) {
      problems.push({
        file: path,
        line: i + 1,
        path: '',
        message: 'expected KEY=VALUE (a variable name, then =)',
      });
      return;
    }
    if (/^RESTIC_(REPOSITORY|PASSWORD)/.test(key)) {
      problems.push({
        file: path,
        line: i + 1,
        path: '',
        message: `${key} is set by resticprom; use the profile's repository and password-* keys`,
      });
      return;
    }
    let value = line.slice(eq + 1).trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.at(-1) === value[0]) {
      value = value.slice(1, -1);
    }
    vars[key] = value;
  });
  if (problems.length > 0) throw new ConfigError(problems);
  const warning = secretModeWarning(path, mode, 'env-file');
  return { vars, warnings: warning ? [warning] : [] };
}
