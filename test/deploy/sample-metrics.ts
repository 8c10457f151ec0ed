/**
 * Realistic metrics with the exact names, types and labels of src/metrics/names.ts,
 * for tests that need data in a Pushgateway when no real run produced it.
 */
import {
  BACKUP_METRICS,
  CHECK_METRICS,
  FORGET_METRICS,
  type MetricDef,
  SEED_METRICS,
  STATS_METRICS,
} from '../../src/metrics/names.js';

/** The families a backup run pushes (the seed's nine and the backup table). */
export const BACKUP_FAMILIES: MetricDef[] = [
  ...Object.values(SEED_METRICS),
  ...Object.values(BACKUP_METRICS),
];
/** The families of the forget, check and stats jobs. */
export const REPOSITORY_FAMILIES: MetricDef[] = [
  ...Object.values(FORGET_METRICS),
  ...Object.values(CHECK_METRICS),
  ...Object.values(STATS_METRICS),
];

function valueFor(def: MetricDef, nowSeconds: number): number {
  const n = def.name;
  if (n.endsWith('_last_success_timestamp_seconds')) return nowSeconds - 3600;
  if (n.endsWith('_timestamp_seconds')) return nowSeconds - 600;
  if (n.endsWith('_status')) return 2;
  if (n.endsWith('_exit_code') || n.endsWith('_errors') || n.endsWith('_unreadable_files')) return 0;
  if (n.endsWith('_bytes')) return 5_368_709_120;
  if (n.endsWith('_seconds') || n === 'restic_backup_time') return 812.5;
  return 42;
}

const EXTRA_LABELS: Record<string, Record<string, string>> = {
  outcome: { outcome: 'success' },
  snapshot_id: { snapshot_id: '1a2b3c4d' },
  tag: { tag: 'daily' },
};

/**
 * Exposition text (format 0.0.4) of `defs` with the series labels a run pushes
 * (profile, tier, host; `instance` and `job` come from the push's grouping).
 */
export function sampleExposition(
  defs: MetricDef[],
  labels: { profile: string; tier: string; host: string },
  nowSeconds: number,
): string {
  let out = '';
  for (const def of defs) {
    const all: Record<string, string> = { ...labels };
    for (const l of def.labels ?? []) Object.assign(all, EXTRA_LABELS[l] ?? { [l]: 'x' });
    const text = Object.entries(all)
      .map(([k, v]) => `${k}="${v}"`)
      .join(',');
    out += `# HELP ${def.name} ${def.help}\n# TYPE ${def.name} ${def.type}\n`;
    out += `${def.name}{${text}} ${valueFor(def, nowSeconds)}\n`;
  }
  return out;
}
