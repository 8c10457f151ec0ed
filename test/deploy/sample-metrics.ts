/**
 * The metric families of each run kind, with the exact names of
 * src/metrics/names.ts, for tests that check the dashboard covers them.
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
