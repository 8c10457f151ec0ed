/**
 * Which state directory a job uses.
 */
import type { Config } from '../config/index.js';

/**
 * The state directory of a job: `--state-dir`, else `$RESTICPROM_STATE_DIR`, else the
 * config's `state-dir` (which defaults by user, see the README).
 */
export function resolveJobStateDir(
  config: Config,
  override: string | undefined,
  env: NodeJS.ProcessEnv,
): string {
  return override ?? env.RESTICPROM_STATE_DIR ?? config.stateDir;
}
