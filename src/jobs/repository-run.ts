/**
 * What every run on a repository does around its restic command: the state
 * directory, the profile, resticprom's repository lock, `unlock-stale-locks`, the
 * restic options from the profile, and restic's version for the build info metric.
 */
import { join } from 'node:path';
import { configuredDestinations, requeueRoutes, resolveProfile } from '../config/destinations.js';
import { readEnvFile } from '../config/env-file.js';
import type { Config, LoadedConfig, ProfileConfig } from '../config/index.js';
import type { ResticCommandOptions } from '../restic/backup.js';
import { getResticVersionCached } from '../restic/version.js';
import { preloadDelivery } from '../sinks/http.js';
import type { SendOptions } from '../sinks/target.js';
import { ensureStateDir } from '../state/dir.js';
import { configTierKeys, noteTiersSeen } from '../state/first-seen.js';
import { acquireRepositoryLock } from '../state/lock.js';
import { childEnv, secretVariablesOf } from '../util/child-env.js';
import { unlockIfAsked } from './unlock.js';

/** Options every job on a repository takes. */
export interface RepositoryRunOptions {
  loaded: LoadedConfig;
  /** Profile name; may be omitted when the config has one profile. */
  profile?: string;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** Overrides the config's state directory. */
  stateDir?: string;
  onLog?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Called while waiting for another run's lock. */
  onWait?: (message: string) => void;
}

/** What a job gets to run its restic command with, the repository lock held. */
export interface RepositoryRun {
  /** The config, its state directory resolved. */
  config: Config;
  profileName: string;
  profile: ProfileConfig;
  stateDir: string;
  env: NodeJS.ProcessEnv;
  /** restic's binary, repository, password, environment, CPU and priority limits, signal, log. */
  restic: ResticCommandOptions;
  /** restic's version (remembered per binary), asked alongside the run. */
  resticVersion: Promise<string | undefined>;
  /** The lock take-over and unlock warnings. */
  warnings: string[];
}

/**
 * Resolves the profile, calls `check` (which may throw a usage error before anything
 * is created), takes the repository lock (`command` names the run to whoever finds it
 * busy), runs `restic unlock` when the profile asks, then `fn`; the lock is released
 * whatever happens.
 */
export async function withRepository<T>(
  opts: RepositoryRunOptions,
  command: string,
  fn: (run: RepositoryRun) => Promise<T>,
  check?: (config: Config, profileName: string) => void,
): Promise<T> {
  const env = opts.env ?? process.env;
  // The config's stateDir already follows the one precedence (flag, environment, file, default).
  const stateDir = opts.stateDir ?? opts.loaded.config.stateDir;
  const config = { ...opts.loaded.config, stateDir };
  const [profileName, profile] = resolveProfile(config, opts.profile);
  check?.(config, profileName);
  await ensureStateDir(stateDir);
  // `status` tells a tier whose first run is not due yet (WAITING) from one that never ran (NEVER).
  await noteTiersSeen(stateDir, configTierKeys(config));
  const lock = await acquireRepositoryLock(stateDir, profile.repository, {
    waitMs: config.lock.waitMs,
    command: command.replace('{profile}', profileName),
    timeZone: config.timezone,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onWait ? { onWait: opts.onWait } : {}),
  });
  try {
    // No secret of ours, nor one the config refers to, reaches restic.
    const destinations = configuredDestinations(config);
    const resticEnv = childEnv(env, secretVariablesOf(destinations));
    const { restic: base, warnings: envWarnings } = await profileResticOptions(config, profile, resticEnv);
    const restic: ResticCommandOptions = {
      ...base,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onLog ? { onLog: opts.onLog } : {}),
      // While restic runs, the HTTP client the metrics go out with gets ready (sinks/http.ts).
      onStarted: () => preloadDelivery(destinations),
    };
    const unlockWarning = await unlockIfAsked(profile, restic);
    // Remembered per binary in the state directory and asked alongside the run, not
    // before it: it is only needed for the build info metric.
    const resticVersion = getResticVersionCached({
      resticBinary: config.resticBinary,
      env: resticEnv,
      cacheFile: join(stateDir, 'restic-version.json'),
    })
      .then((v) => v.version)
      .catch(() => undefined);
    return await fn({
      config,
      profileName,
      profile,
      stateDir,
      env,
      restic,
      resticVersion,
      warnings: [...lock.warnings, ...envWarnings, ...(unlockWarning ? [unlockWarning] : [])],
    });
  } finally {
    await lock.release();
  }
}

/**
 * restic's options for a profile: binary, repository, password, environment (the process's,
 * then the profile's `env-file`, read now since credentials rotate, then its `env`), CPU,
 * priority and inactivity limits. Returns the env-file's mode warning too.
 * @throws ConfigError when the env-file cannot be read or has a bad line.
 */
export async function profileResticOptions(
  config: Pick<Config, 'resticBinary'>,
  profile: ProfileConfig,
  env: NodeJS.ProcessEnv,
): Promise<{ restic: ResticCommandOptions; warnings: string[] }> {
  const envFile = profile.envFile ? await readEnvFile(profile.envFile) : { vars: {}, warnings: [] };
  const restic: ResticCommandOptions = {
    resticBinary: config.resticBinary,
    repository: profile.repository,
    password: profile.password,
    env: { ...env, ...envFile.vars, ...profile.env },
    ...(profile.cpuLimit !== undefined ? { cpuLimit: profile.cpuLimit } : {}),
    ...(profile.nice !== undefined ? { nice: profile.nice } : {}),
    ...(profile.inactivityTimeoutMs !== undefined
      ? { inactivityTimeoutMs: profile.inactivityTimeoutMs }
      : {}),
  };
  return { restic, warnings: envFile.warnings };
}

/** The fields of `finishRun` every job on a repository fills the same way. */
export function finishRunFields(run: RepositoryRun, sendOptions: SendOptions | undefined) {
  return {
    stateDir: run.stateDir,
    profile: run.profileName,
    host: run.config.hostname,
    outbox: run.config.outbox,
    requeue: requeueRoutes(run.config),
    ...(sendOptions ? { sendOptions } : {}),
  };
}
