/**
 * The metrics every kind of run pushes (backup, forget, check, stats, any batch job).
 */
import type { Sample } from '../metrics/build.js';
import { BUILD_INFO, type MetricDef, type RunStatus, STATUS_VALUE } from '../metrics/names.js';
import type { HistoryOutcome } from '../state/history.js';
import { msToSeconds } from '../util/duration.js';

/** Runs recorded so far by outcome, this run included (from the history, so they survive restarts). */
export type RunCounters = Partial<Record<HistoryOutcome, number>>;

/** The table entries of one kind of run (see `runMetrics` in names.ts). */
export interface RunMetricDefs {
  durationSeconds: MetricDef;
  endTimestamp: MetricDef;
  lastSuccessTimestamp: MetricDef;
  exitCode: MetricDef;
  status: MetricDef;
  runsTotal: MetricDef;
}

export interface RunFacts {
  status: RunStatus;
  exitCode: number;
  durationMs: number;
  /** Unix ms. */
  endedAt: number;
  counters: RunCounters;
}

/** Duration, end time, exit code, status, run counters, and the last success time on success only. */
export function runSamples(defs: RunMetricDefs, facts: RunFacts): Sample[] {
  const samples: Sample[] = [
    { def: defs.durationSeconds, value: msToSeconds(facts.durationMs) },
    { def: defs.endTimestamp, value: facts.endedAt / 1000 },
    { def: defs.exitCode, value: facts.exitCode },
    { def: defs.status, value: STATUS_VALUE[facts.status] },
  ];
  if (facts.status === 'success')
    samples.push({ def: defs.lastSuccessTimestamp, value: facts.endedAt / 1000 });
  for (const outcome of ['success', 'warning', 'failed', 'interrupted'] as const) {
    samples.push({ def: defs.runsTotal, value: facts.counters[outcome] ?? 0, labels: { outcome } });
  }
  return samples;
}

/** `resticprom_build_info{version, restic_version} 1`. */
export function buildInfoSample(resticprom: string, restic: string | undefined): Sample {
  return { def: BUILD_INFO, value: 1, labels: { version: resticprom, restic_version: restic ?? 'unknown' } };
}
