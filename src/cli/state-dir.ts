/**
 * The state directory of the commands that work without a config file (push, flush, run):
 * the same precedence as every other command (`--state-dir`, `$RESTICPROM_STATE_DIR`, the
 * config file's `state-dir`, the default), so that `flush` finds what `backup` queued.
 */
import { resolveStateDir } from '../state/dir.js';

/** Resolves the state directory; loads the config file only when it decides. */
export async function commandStateDir(flags: { stateDir?: string; config?: string }): Promise<string> {
  if (flags.stateDir || process.env.RESTICPROM_STATE_DIR) return resolveStateDir({ flag: flags.stateDir });
  const [{ hasConfigFile }, { loadConfigCached }] = await Promise.all([
    import('../config/find.js'),
    import('../config/cache.js'),
  ]);
  const where = flags.config ? { file: flags.config } : {};
  if (!(await hasConfigFile(where))) return resolveStateDir();
  return (await loadConfigCached(where)).config.stateDir;
}
