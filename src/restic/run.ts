/**
 * Runs a restic command whose output is read whole (forget, check, stats, snapshots, version),
 * with bounded memory, and classifies how it ended.
 */
import { performance } from 'node:perf_hooks';
import { ResticCommandError } from '../errors.js';
import type { ResticCommandOptions } from './backup.js';
import { commonSpawnOptions } from './backup.js';
import {
  classifyResticExit,
  RESTIC_CRASH_LINE,
  type ResticExitClass,
  stderrForClassification,
} from './exit-codes.js';
import { type SpawnResticResult, spawnRestic } from './spawn.js';
import type { FailureReason } from './types.js';

/** What {@link runResticCommand} collected. */
export interface ResticCommandRun {
  proc: SpawnResticResult;
  /** stdout lines (up to `maxStdoutBytes` in total; the rest is counted in `droppedStdoutLines`). */
  stdout: string[];
  droppedStdoutLines: number;
  /** stderr lines, the last 200. */
  stderr: string[];
  /** The `exit_error` message of restic 0.18+, if printed. */
  exitError?: { code: number; message: string };
  classification: ResticExitClass;
  durationMs: number;
  startedAt: number;
  endedAt: number;
}

const STDERR_KEEP = 200;

/**
 * Runs `restic <args>` and collects its output. A single JSON line may be large (a repository's
 * snapshot list), so lines up to `maxStdoutBytes` are kept. Rejects with `ResticError` only
 * when restic cannot be started.
 */
export async function runResticCommand(
  command: string,
  args: string[],
  opts: ResticCommandOptions,
  limits: {
    maxStdoutBytes?: number;
    /** Receives every stdout line instead of the result keeping it (a listing too large to hold). */
    onStdoutLine?: (line: string) => void;
  } = {},
): Promise<ResticCommandRun> {
  const maxStdout = limits.maxStdoutBytes ?? 256 * 1024 * 1024;
  const now = opts.now ?? Date.now;
  const stdout: string[] = [];
  const stderr: string[] = [];
  let stdoutBytes = 0;
  let dropped = 0;
  let exitError: { code: number; message: string } | undefined;
  let crashLine: string | undefined;
  const startedAt = now();
  const t0 = performance.now();
  const proc = await spawnRestic({
    ...commonSpawnOptions(opts),
    args: [...args, ...(opts.extraArgs ?? [])],
    maxLineBytes: maxStdout,
    onStdoutLine: (l) => {
      if (limits.onStdoutLine) {
        limits.onStdoutLine(l);
        return;
      }
      if (stdoutBytes + l.length > maxStdout) {
        dropped++;
        return;
      }
      stdoutBytes += l.length;
      stdout.push(l);
      opts.onLog?.(l, 'stdout');
    },
    onStderrLine: (l) => {
      if (l.startsWith('{"message_type":"exit_error"')) {
        try {
          const m = JSON.parse(l) as { code?: unknown; message?: unknown };
          exitError = {
            code: typeof m.code === 'number' ? m.code : -1,
            message: typeof m.message === 'string' ? m.message : '',
          };
        } catch {
          // kept as text below
        }
      }
      // spawnRestic has stripped terminal codes already
      if (crashLine === undefined && RESTIC_CRASH_LINE.test(l.trim())) crashLine = l.trim();
      stderr.push(l.length > 4096 ? `${l.slice(0, 4096)}...` : l);
      if (stderr.length > STDERR_KEEP) stderr.shift();
      opts.onLog?.(l, 'stderr');
    },
  });
  const durationMs = performance.now() - t0;
  const classification = classifyResticExit({
    command,
    exitCode: proc.exitCode,
    signal: proc.signal,
    ...(proc.stopReason !== undefined ? { stopReason: proc.stopReason } : {}),
    ...(opts.inactivityTimeoutMs !== undefined ? { inactivityTimeoutMs: opts.inactivityTimeoutMs } : {}),
    stderr: stderrForClassification(stderr.slice(-20), crashLine).join('\n'),
    ...(exitError ? { exitError } : {}),
  });
  return {
    proc,
    stdout,
    droppedStdoutLines: dropped,
    stderr,
    ...(exitError ? { exitError } : {}),
    classification,
    durationMs,
    startedAt,
    endedAt: now(),
  };
}

/** Throws {@link ResticCommandError} unless the run succeeded (for commands whose output is the result). */
export function assertResticSucceeded(command: string, run: ResticCommandRun): void {
  if (run.classification.outcome === 'success') return;
  throw new ResticCommandError(run.classification.message, {
    command,
    reason: run.classification.reason ?? ('other' satisfies FailureReason),
    ...(run.proc.exitCode !== null ? { exitCode: run.proc.exitCode } : {}),
    stderrTail: run.stderr.slice(-20).join('\n'),
  });
}

/** Returns the first stdout line that is a JSON value of the given kind, parsed; undefined if none. */
export function findJsonLine(lines: string[], kind: 'array' | 'object'): unknown {
  const open = kind === 'array' ? '[' : '{';
  for (const l of lines) {
    const t = l.trim();
    if (!t.startsWith(open)) continue;
    try {
      return JSON.parse(t);
    } catch {
      // e.g. 0.19 text progress `[0:00] ...`: not JSON
    }
  }
  return undefined;
}
