/**
 * What `config validate` checks beyond the file itself, so a mistake shows before the
 * first run instead of as a failed backup: every file a profile names (password-file,
 * exclude-file, files-from, env-file) exists and is readable, secret files are not
 * readable by others, and `restic-args` are flags the installed restic's `backup` takes.
 * With `isRepositoryCheck`, each repository is opened with its password (`restic cat config`).
 */
import { readFile } from 'node:fs/promises';
import type { RawProblem } from '../config/checks.js';
import { readEnvFile, secretModeWarning } from '../config/env-file.js';
import { locateProblems } from '../config/load.js';
import { checkReadableFile } from '../config/readable-file.js';
import { suggest } from '../config/suggest.js';
import type { LoadedConfig, ProfileConfig } from '../config/types.js';
import type { ConfigProblem } from '../errors.js';
import { ConfigError, errorText, ResticError } from '../errors.js';
import type { ResticCommandOptions } from '../restic/backup.js';
import { openRepository, type ResticFlags, resticBackupFlags } from '../restic/repository.js';
import { getResticVersion } from '../restic/version.js';
import { profileResticOptions } from './repository-run.js';

/** Options of {@link preflightConfig}. */
export interface PreflightOptions {
  /** Environment restic runs with. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Also open every repository with its password. @default false */
  isRepositoryCheck?: boolean;
}

/** One profile's repository, opened. */
export interface RepositoryCheck {
  profile: string;
  /** `ok`, `missing`, `wrong-password`, or `error` (another failure). */
  state: 'ok' | 'missing' | 'wrong-password' | 'error';
  /** One line: what restic said, or the hint to create it. */
  message: string;
}

/** What {@link preflightConfig} found. */
export interface PreflightReport {
  /** Things that will make runs fail, with file and line. */
  problems: ConfigProblem[];
  /** Things to fix that do not stop a run (a password file others can read). */
  warnings: ConfigProblem[];
  /** What was checked, one phrase each, for the `ok` line. */
  checked: string[];
  /** The installed restic's version, when it could be asked. */
  resticVersion?: string;
  /** With `isRepositoryCheck`: one per profile. */
  repositories: RepositoryCheck[];
}

type Check = { problems: RawProblem[]; warnings: RawProblem[] };

async function checkFile(
  path: (string | number)[],
  file: string,
  what: string,
  into: Check,
  isSecret: boolean,
): Promise<void> {
  const r = await checkReadableFile(file);
  if (!r.isReadable) {
    into.problems.push({ path, message: `${what} ${file} ${r.reason}` });
    return;
  }
  if (isSecret) {
    const w = secretModeWarning(file, r.mode, what);
    if (w) into.warnings.push({ path, message: w });
  }
}

/** Checks one profile's `restic-args` against the flags restic's backup takes. */
function checkResticArgs(
  name: string,
  profile: ProfileConfig,
  flags: ResticFlags,
  version: string,
  into: Check,
) {
  profile.resticArgs.forEach((arg, i) => {
    const path = ['profiles', name, 'restic-args', i];
    if (arg.startsWith('--')) {
      const flag = arg.slice(2).split('=')[0] ?? '';
      if (flag !== '' && !flags.long.has(flag)) {
        const near = suggest(flag, [...flags.long]);
        into.problems.push({
          path,
          message: `restic ${version} backup has no flag --${flag}${near ? ` (did you mean --${near}?)` : ''}`,
        });
      }
    } else if (/^-[A-Za-z0-9]/.test(arg)) {
      const letter = arg[1] ?? '';
      if (!flags.short.has(letter)) {
        into.problems.push({ path, message: `restic ${version} backup has no flag -${letter}` });
      }
    }
  });
}

/**
 * Checks what a loaded config refers to. Never throws for what it finds: every
 * finding is in the report, with the file and line of its key.
 */
export async function preflightConfig(
  loaded: LoadedConfig,
  opts: PreflightOptions = {},
): Promise<PreflightReport> {
  const env = opts.env ?? process.env;
  const found: Check = { problems: [], warnings: [] };
  const checked: string[] = [];
  const profiles = Object.entries(loaded.config.profiles);
  let files = 0;
  for (const [name, p] of profiles) {
    const at = ['profiles', name];
    if ('file' in p.password) {
      files++;
      // Its mode is warned about by every load of the config (file-trust), not twice here.
      await checkFile([...at, 'password-file'], p.password.file, 'password-file', found, false);
    }
    for (const [i, f] of p.excludeFile.entries()) {
      files++;
      await checkFile(
        [...at, 'exclude-file', ...(p.excludeFile.length > 1 ? [i] : [])],
        f,
        'exclude-file',
        found,
        false,
      );
    }
    const filesFrom = p.filesFrom ?? [];
    for (const [i, f] of filesFrom.entries()) {
      files++;
      await checkFile(
        [...at, 'files-from', ...(filesFrom.length > 1 ? [i] : [])],
        f,
        'files-from',
        found,
        false,
      );
    }
    if (p.envFile) {
      files++;
      try {
        const read = await readEnvFile(p.envFile);
        for (const w of read.warnings) found.warnings.push({ path: [...at, 'env-file'], message: w });
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        for (const e of err.problems) {
          const where = e.line === undefined ? e.file : `${e.file}:${e.line}`;
          found.problems.push({ path: [...at, 'env-file'], message: `${where}: ${e.message}` });
        }
      }
    }
  }
  checked.push(`${files} referenced file${files === 1 ? '' : 's'}`);

  let resticVersion: string | undefined;
  const bin = loaded.config.resticBinary;
  try {
    resticVersion = (await getResticVersion({ resticBinary: bin, env })).version;
  } catch (err) {
    const why = errorText(err);
    found.problems.push({ path: ['restic-binary'], message: `cannot run restic (${bin}): ${why}` });
  }
  const withArgs = profiles.filter(([, p]) => p.resticArgs.length > 0);
  if (resticVersion !== undefined && withArgs.length > 0) {
    try {
      const flags = await resticBackupFlags({ resticBinary: bin, env });
      for (const [name, p] of withArgs) checkResticArgs(name, p, flags, resticVersion, found);
      checked.push(`restic-args against restic ${resticVersion} backup --help`);
    } catch (err) {
      if (!(err instanceof ResticError)) throw err;
      found.warnings.push({ path: ['restic-binary'], message: `restic-args not checked: ${err.message}` });
    }
  }
  checked.push('check.read-data-subset syntax');

  const repositories: RepositoryCheck[] = [];
  if (opts.isRepositoryCheck && resticVersion !== undefined) {
    for (const [name, p] of profiles) {
      let restic: ResticCommandOptions;
      try {
        restic = (await profileResticOptions(loaded.config, p, env)).restic;
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        repositories.push({ profile: name, state: 'error', message: err.message.split('\n')[0] ?? '' });
        continue;
      }
      const r = await openRepository(restic);
      if (r.outcome === 'success') {
        repositories.push({
          profile: name,
          state: 'ok',
          message: `opened ${p.repository} with its password (restic ${resticVersion})`,
        });
      } else if (r.reason === 'repository-missing') {
        repositories.push({
          profile: name,
          state: 'missing',
          message: `${p.repository} does not exist; create it with: resticprom init --profile ${name}`,
        });
      } else if (r.reason === 'wrong-password') {
        repositories.push({
          profile: name,
          state: 'wrong-password',
          message: `${p.repository}: ${r.message}`,
        });
      } else {
        repositories.push({ profile: name, state: 'error', message: `${p.repository}: ${r.message}` });
      }
    }
    checked.push(`${repositories.length} repositor${repositories.length === 1 ? 'y' : 'ies'} opened`);
  }

  const text = await readFile(loaded.file, 'utf8').catch(() => '');
  return {
    problems: locateProblems(text, loaded.file, found.problems),
    warnings: locateProblems(text, loaded.file, found.warnings),
    checked,
    ...(resticVersion !== undefined ? { resticVersion } : {}),
    repositories,
  };
}
