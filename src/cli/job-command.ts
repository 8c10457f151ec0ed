/**
 * What every command that runs restic from the config does first: a logger, the
 * config (warnings printed), and SIGINT/SIGTERM/SIGHUP turned into an abort that stops
 * restic and still reports the run.
 */
import { loadConfigCached } from '../config/cache.js';
import type { LoadedConfig } from '../config/types.js';
import type { RepositoryRunOptions } from '../jobs/repository-run.js';
import type { RunContext } from '../jobs/run-description.js';
import type { CommonOptions } from './commands/common.js';
import { onInterrupt } from './interrupt.js';
import { createLogger, type Logger } from './output.js';

export interface JobCommand {
  log: Logger;
  loaded: LoadedConfig;
  /** Aborted by the first SIGINT, SIGTERM or SIGHUP, with the signal's name as reason. */
  signal: AbortSignal;
  /**
   * Resolves to undefined, after one clear line, when a signal stopped `job` before
   * restic started (while waiting for the repository lock): nothing ran or was recorded.
   */
  unlessInterrupted: <T>(command: string, job: Promise<T>) => Promise<T | undefined>;
  /** Removes the signal handlers. */
  done: () => void;
}

/**
 * Sets up logging, config and signals for a job command. The config comes from the
 * validated config cache when the file is unchanged (`config validate` always validates).
 */
export async function startJobCommand(flags: CommonOptions): Promise<JobCommand> {
  const loaded = await loadConfigCached({
    ...(flags.config ? { file: flags.config } : {}),
    stateDir: flags.stateDir,
  });
  const log = createLogger({
    format: flags.logFormat ?? loaded.config.logFormat,
    quiet: Boolean(flags.quiet),
    verbose: Boolean(flags.verbose),
  });
  for (const w of loaded.warnings) log.warn(w);
  const controller = new AbortController();
  let interruptedBy: string | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interruptedBy) return;
    interruptedBy = sig;
    log.warn(`${sig} received: stopping restic and reporting the run`);
    controller.abort(sig);
  };
  const stopListening = onInterrupt(onSignal);
  return {
    log,
    loaded,
    signal: controller.signal,
    unlessInterrupted: (command, job) =>
      job.catch((err: unknown) => {
        if (!controller.signal.aborted || err !== controller.signal.reason) throw err;
        log.error(
          `${command} interrupted by ${interruptedBy} before restic started; nothing was run or recorded`,
        );
        return undefined;
      }),
    done: stopListening,
  };
}

/**
 * The context every run of a job command runs in ({@link runDescribed}): the config,
 * `--state-dir`, the abort signal, and restic's lines and lock waits logged.
 */
export function jobRunContext(
  cmd: Pick<JobCommand, 'log' | 'loaded' | 'signal'>,
  flags: CommonOptions,
): RunContext {
  const { log } = cmd;
  return {
    loaded: cmd.loaded,
    ...(flags.stateDir ? { stateDir: flags.stateDir } : {}),
    signal: cmd.signal,
    onLog: (line, stream) =>
      stream === 'stderr' ? log.info(`restic: ${line}`) : log.debug(`restic: ${line}`),
    onWait: (m) => log.info(m),
  };
}

/**
 * The options every repository command passes to its job: {@link jobRunContext} and `--profile`.
 */
export function repositoryJobOptions(
  cmd: Pick<JobCommand, 'log' | 'loaded' | 'signal'>,
  flags: CommonOptions & { profile?: string },
): RepositoryRunOptions {
  return { ...jobRunContext(cmd, flags), ...(flags.profile ? { profile: flags.profile } : {}) };
}
