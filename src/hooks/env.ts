/**
 * The environment a hook runs with, built from scratch: a few basics of our own
 * environment (PATH, HOME, the locale, the time zone) and the documented
 * `RESTICPROM_*` variables describing the run. Nothing else is passed, so no
 * repository password, gateway credential or variable a secret reference names can
 * reach a hook, whatever else our environment holds.
 */
import type { RunFacts } from '../jobs/run-facts.js';
import { oneLine } from '../util/escape.js';

/** Variables taken from our own environment when set. */
const BASICS = ['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR'] as const;

/** The stage a hook runs in, as written in the config. */
export type HookStage = 'run-before' | 'run-after' | 'run-after-fail' | 'run-finally';

/**
 * Builds a hook's environment. `RESTICPROM_*` variables of facts not known yet (a
 * run-before hook has no outcome) are set to the empty string, so a script can use
 * `set -u`.
 */
export function buildHookEnv(facts: RunFacts, stage: HookStage, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of BASICS) {
    const v = base[name];
    if (v !== undefined) env[name] = v;
  }
  for (const [name, v] of Object.entries(base)) {
    if (name.startsWith('LC_') && v !== undefined) env[name] = v;
  }
  if (env.PATH === undefined) env.PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  const num = (v: number | null | undefined) => (v === undefined || v === null ? '' : String(v));
  const vars: Record<string, string> = {
    RESTICPROM_HOOK: stage,
    RESTICPROM_RUN_ID: facts.runId,
    RESTICPROM_PROFILE: facts.profile,
    RESTICPROM_TIER: facts.tier ?? '',
    RESTICPROM_KIND: facts.kind,
    RESTICPROM_HOST: facts.host,
    RESTICPROM_OUTCOME: facts.outcome ?? '',
    RESTICPROM_EXIT_CODE: num(facts.exitCode),
    RESTICPROM_REASON: facts.reason ?? '',
    RESTICPROM_ERROR: facts.error === undefined ? '' : oneLine(facts.error),
    RESTICPROM_SNAPSHOT_ID: facts.snapshotId ?? '',
    RESTICPROM_DURATION_SECONDS:
      facts.durationMs === undefined ? '' : (Math.round(facts.durationMs) / 1000).toFixed(3),
    RESTICPROM_FILES_NEW: num(facts.filesNew),
    RESTICPROM_FILES_CHANGED: num(facts.filesChanged),
    RESTICPROM_BYTES_ADDED: num(facts.bytesAdded),
    RESTICPROM_BYTES_PROCESSED: num(facts.bytesProcessed),
    RESTICPROM_CONFIG: facts.configFile,
  };
  return { ...env, ...vars };
}
