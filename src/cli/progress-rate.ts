/**
 * Speed and time left for the live progress line: the speed over a moving window of recent
 * reports (restic's own `bytes_done / seconds_elapsed` is an average since the start over
 * whole seconds, slow to follow a change of pace), and an ETA that counts down between
 * estimates and eases towards each new one instead of jumping.
 */
import type { BackupProgress } from '../restic/types.js';

/** Options of {@link createProgressEstimator}. */
export interface ProgressEstimatorOptions {
  /** How far back the speed looks, ms. @default 10000 */
  windowMs?: number;
  /** The shortest span of reports a speed is computed from, ms. @default 1000 */
  minSpanMs?: number;
  /** How quickly the ETA follows a new estimate: the time constant of the easing, ms. @default 3000 */
  etaEasingMs?: number;
  /** The clock, ms. @default Date.now */
  now?: () => number;
}

/** What {@link ProgressEstimator.observe} tells after a report. */
export interface ProgressEstimate {
  /** Bytes a second over the window; undefined until the window spans `minSpanMs`. */
  bytesPerSecond?: number;
  /** Seconds left; undefined until first known, then always a number (never back to unknown). */
  secondsRemaining?: number;
}

/** Turns successive progress reports into a smoothed speed and ETA. */
export interface ProgressEstimator {
  /** Takes one report (at the clock's current time) and returns the estimate. */
  observe(p: BackupProgress): ProgressEstimate;
}

interface Sample {
  t: number;
  bytes: number;
}

/**
 * Creates an estimator. The speed is the bytes done between the oldest and the newest report
 * of the window divided by the time between them. The ETA is the bytes left at that speed
 * (restic's own `seconds_remaining` until the window has enough reports); once known it is
 * carried forward: each report first counts the previous ETA down by the time passed, then
 * moves it part of the way towards the new estimate (exponential easing by time, so the
 * result does not depend on how often restic reports). At a steady rate the estimate and the
 * count-down agree, so the ETA falls steadily; when restic stalls (no speed, no estimate) the
 * last ETA is kept rather than shown as unknown.
 * @example
 * const eta = createProgressEstimator({ now: () => performance.now() });
 * const { bytesPerSecond, secondsRemaining } = eta.observe(progress);
 */
export function createProgressEstimator(opts: ProgressEstimatorOptions = {}): ProgressEstimator {
  const windowMs = opts.windowMs ?? 10_000;
  const minSpanMs = opts.minSpanMs ?? 1000;
  const easingMs = opts.etaEasingMs ?? 3000;
  const now = opts.now ?? Date.now;
  let samples: Sample[] = [];
  let eta: { seconds: number; at: number } | undefined;
  return {
    observe(p) {
      const t = now();
      const last = samples.at(-1);
      // A report going backwards (a new run's numbers) starts the window again.
      if (last && (p.bytesDone < last.bytes || t < last.t)) samples = [];
      samples.push({ t, bytes: p.bytesDone });
      // Keep one report at or before the window's start, so the window spans all of windowMs.
      while (samples.length > 2 && (samples[1] as Sample).t <= t - windowMs) samples.shift();
      const first = samples[0] as Sample;
      const span = t - first.t;
      const bytesPerSecond = span >= minSpanMs ? ((p.bytesDone - first.bytes) * 1000) / span : undefined;

      let estimate: number | undefined;
      if (p.totalBytes > 0 && p.bytesDone >= p.totalBytes) estimate = 0;
      else if (p.totalBytes > 0 && bytesPerSecond !== undefined && bytesPerSecond > 0)
        estimate = (p.totalBytes - p.bytesDone) / bytesPerSecond;
      else if (bytesPerSecond === undefined) estimate = p.secondsRemaining;

      if (eta === undefined) {
        if (estimate !== undefined) eta = { seconds: estimate, at: t };
      } else {
        const dt = Math.max(0, t - eta.at);
        const counted = Math.max(0, eta.seconds - dt / 1000);
        const seconds =
          estimate === undefined
            ? // Stalled: hold the ETA instead of counting down to a promise nobody keeps.
              eta.seconds
            : counted + (estimate - counted) * (1 - Math.exp(-dt / easingMs));
        eta = { seconds, at: t };
      }
      return {
        ...(bytesPerSecond !== undefined ? { bytesPerSecond } : {}),
        ...(eta !== undefined ? { secondsRemaining: eta.seconds } : {}),
      };
    },
  };
}
