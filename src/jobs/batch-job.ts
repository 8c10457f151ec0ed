/**
 * Any short-lived batch job, as the seed's introduction asks: run a command,
 * pass its output and exit code through, and push what happened.
 */
import { spawn } from 'node:child_process';
import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { RunStatus } from '../metrics/names.js';
import { JOB_METRICS } from '../metrics/names.js';
import type { SendOptions } from '../sinks/target.js';
import { childEnv, secretVariablesOf } from '../util/child-env.js';
import { oneLine } from '../util/escape.js';
import { getVersion } from '../version.js';
import { type FinishRunResult, finishRun, type HistoryOutcome, type MetricsTarget } from './finish-run.js';
import { buildInfoSample, runSamples } from './run-metrics.js';

export interface BatchJobOptions {
  command: string;
  args: string[];
  target: MetricsTarget;
  stateDir: string;
  env?: NodeJS.ProcessEnv;
  /** Forwarded to the child (SIGINT/SIGTERM/SIGHUP); the run is still reported. */
  signal?: AbortSignal;
  sendOptions?: SendOptions;
  now?: () => number;
}

export interface BatchJobResult {
  /** The child's exit code; 128+n when killed by signal n; 127 when it could not start. */
  exitCode: number;
  signal?: NodeJS.Signals;
  status: RunStatus;
  durationMs: number;
  startedAt: number;
  endedAt: number;
  /** Why the command could not start, if it could not. */
  spawnError?: string;
  finish: FinishRunResult;
}

const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGKILL: 9,
  SIGTERM: 15,
};

/** Runs the command with inherited stdio, then records and delivers its metrics. */
export async function runBatchJob(opts: BatchJobOptions): Promise<BatchJobResult> {
  const now = opts.now ?? Date.now;
  const startedAt = now();
  const t0 = performance.now();
  const outcome = await new Promise<{ code: number; signal?: NodeJS.Signals; spawnError?: string }>(
    (resolve) => {
      // No secret of ours, nor one the destinations refer to, reaches the command.
      const env = childEnv(opts.env ?? process.env, secretVariablesOf(opts.target.destinations));
      const child = spawn(opts.command, opts.args, { stdio: 'inherit', env });
      const onAbort = () => child.kill((opts.signal?.reason as NodeJS.Signals | undefined) ?? 'SIGTERM');
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      child.once('error', (err) => {
        opts.signal?.removeEventListener('abort', onAbort);
        resolve({ code: 127, spawnError: err.message });
      });
      child.once('exit', (code, signal) => {
        opts.signal?.removeEventListener('abort', onAbort);
        if (signal) resolve({ code: 128 + (SIGNAL_NUMBERS[signal] ?? 0), signal });
        else resolve({ code: code ?? 1 });
      });
    },
  );
  const durationMs = performance.now() - t0;
  const endedAt = startedAt + Math.round(durationMs);
  const status: RunStatus = outcome.code === 0 ? 'success' : 'failed';
  const historyOutcome: HistoryOutcome =
    outcome.signal === 'SIGINT' || outcome.signal === 'SIGTERM' || outcome.signal === 'SIGHUP'
      ? 'interrupted'
      : status === 'success'
        ? 'success'
        : 'failed';
  const finish = await finishRun({
    stateDir: opts.stateDir,
    kind: 'run',
    startedAt,
    endedAt,
    outcome: historyOutcome,
    exitCode: outcome.code,
    ...(outcome.spawnError ? { reason: outcome.spawnError } : {}),
    ...(status === 'success' ? {} : { error: oneLine(describeFailure(opts.command, outcome)) }),
    target: opts.target,
    samples: (counters) => [
      ...runSamples(JOB_METRICS, { status, exitCode: outcome.code, durationMs, endedAt, counters }),
      buildInfoSample(getVersion(), undefined),
    ],
    ...(opts.sendOptions ? { sendOptions: opts.sendOptions } : {}),
  });
  return {
    exitCode: outcome.code,
    ...(outcome.signal ? { signal: outcome.signal } : {}),
    status,
    durationMs,
    startedAt,
    endedAt,
    ...(outcome.spawnError ? { spawnError: outcome.spawnError } : {}),
    finish,
  };
}

/** `db-dump exited with code 2`: how the command failed, naming the program only (its arguments may hold secrets). */
function describeFailure(
  command: string,
  outcome: { code: number; signal?: NodeJS.Signals; spawnError?: string },
) {
  const name = basename(command);
  if (outcome.spawnError) return `${name} could not be started: ${outcome.spawnError}`;
  if (outcome.signal) return `${name} was killed by ${outcome.signal}`;
  return `${name} exited with code ${outcome.code}`;
}
