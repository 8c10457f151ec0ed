/**
 * The daemon's own metrics on `/metrics` (beside the latest metrics of every run):
 * that it is up, when it started, whether the last reload worked, per tier the next
 * run, whether it runs and how many runs were skipped, and the process's memory and
 * event loop delay. Rendered from the metric table (names.ts) by the renderer the
 * jobs use.
 */
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { renderSamples, type Sample } from '../metrics/build.js';
import { DAEMON_METRICS } from '../metrics/names.js';

/** One tier's scheduling facts. */
export interface DaemonTierFacts {
  profile: string;
  tier: string;
  /** Next scheduled run, Unix ms; null when the schedule never runs again. */
  nextRun: number | null;
  isRunning: boolean;
  /** Scheduled runs skipped because the previous one had not finished. */
  skippedRuns: number;
}

/** The process's own figures. */
export interface DaemonProcessFacts {
  residentBytes: number;
  heapUsedBytes: number;
  /** Event loop delay over the last window, seconds. */
  loopDelayP99Seconds: number;
  loopDelayMaxSeconds: number;
}

/** What {@link renderDaemonMetrics} exposes. */
export interface DaemonMetricsInput {
  /** When the daemon started, Unix ms. */
  startedAt: number;
  isLastReloadOk: boolean;
  /** Backup tiers only: the families' `tier` label would mistake a check or stats run for a tier. */
  tiers: readonly DaemonTierFacts[];
  /** Left out when absent. */
  process?: DaemonProcessFacts;
}

/** Renders the daemon's own metrics as text exposition format 0.0.4. */
export function renderDaemonMetrics(input: DaemonMetricsInput): string {
  const D = DAEMON_METRICS;
  const samples: Sample[] = [
    { def: D.up, value: 1 },
    { def: D.startTime, value: input.startedAt / 1000 },
    { def: D.configReloadSuccessful, value: input.isLastReloadOk ? 1 : 0 },
  ];
  for (const t of input.tiers) {
    const labels = { profile: t.profile, tier: t.tier };
    if (t.nextRun !== null) samples.push({ def: D.nextRun, labels, value: t.nextRun / 1000 });
    samples.push({ def: D.running, labels, value: t.isRunning ? 1 : 0 });
    samples.push({ def: D.skippedRuns, labels, value: t.skippedRuns });
  }
  const p = input.process;
  if (p) {
    samples.push(
      { def: D.residentMemory, value: p.residentBytes },
      { def: D.heapUsed, value: p.heapUsedBytes },
      { def: D.eventLoopDelayP99, value: p.loopDelayP99Seconds },
      { def: D.eventLoopDelayMax, value: p.loopDelayMaxSeconds },
    );
  }
  return renderSamples(samples, {});
}

/** Watches the event loop's delay; see {@link watchEventLoop}. */
export interface EventLoopWatch {
  /** The figures of the last complete window (of the current one before the first ends). */
  read(): { p99Seconds: number; maxSeconds: number };
  stop(): void;
}

/**
 * Measures the event loop's delay (node's monitorEventLoopDelay) in windows of
 * `windowMs`, so that `/metrics` shows the last minute rather than the worst delay
 * since the start, whoever scrapes and how often.
 * @param windowMs @default 60000
 */
export function watchEventLoop(windowMs = 60_000): EventLoopWatch {
  const h: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });
  h.enable();
  let last: { p99Seconds: number; maxSeconds: number } | undefined;
  const figures = () => ({ p99Seconds: h.percentile(99) / 1e9, maxSeconds: h.max / 1e9 });
  const timer = setInterval(() => {
    last = figures();
    h.reset();
  }, windowMs);
  timer.unref();
  return {
    read: () => last ?? figures(),
    stop() {
      clearInterval(timer);
      h.disable();
    },
  };
}
