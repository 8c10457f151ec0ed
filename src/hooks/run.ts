/**
 * Runs hook commands: stdin closed, the environment of {@link buildHookEnv}, each
 * output line handed to the caller, a timeout per command, and the whole process
 * group stopped (SIGTERM, then SIGKILL) on timeout or abort, so a shell's children
 * go too.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import type { HookCommand } from '../config/types.js';
import type { RunFacts } from '../jobs/run-facts.js';
import { LineSplitter } from '../restic/spawn.js';
import { oneLine } from '../util/escape.js';
import { parseHookCommand } from './command.js';
import { buildHookEnv, type HookStage } from './env.js';

/** Default time a hook command may take, ms (1h). */
export const DEFAULT_HOOK_TIMEOUT_MS = 3_600_000;
/** How long a stopped hook gets between SIGTERM and SIGKILL, ms. */
const KILL_GRACE_MS = 5_000;
/** Lines of a hook's output kept for its failure message. */
const TAIL_LINES = 3;

/** One command of a stage, with its timeout. */
export interface PlannedHook {
  command: HookCommand;
  timeoutMs: number;
}

/** How one hook command ended. */
export interface HookResult {
  stage: HookStage;
  /** Position in the stage (profile's first, then the tier's), from 0. */
  index: number;
  /** The program (or `sh -c "..."`), for messages. */
  label: string;
  /** Exit code; null when a signal ended it or it did not start. */
  exitCode: number | null;
  signal?: string;
  isTimedOut: boolean;
  isOk: boolean;
  durationMs: number;
  /** One line: why it failed (exit code, signal, timeout, not started) and its last output. */
  error?: string;
}

/** Options of {@link runHookStage}. */
export interface RunHookOptions {
  /** Our environment, the source of PATH, HOME and the locale. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Stops the running hook (SIGTERM to its process group). */
  signal?: AbortSignal;
  /** Each output line, without its line break; escape it before printing. */
  onLine?: (hook: { stage: HookStage; index: number; label: string }, line: string) => void;
}

/** What a stage did. */
export interface HookStageResult {
  results: HookResult[];
  /** The first failure (for run-before: the one that stopped the stage). */
  failed?: HookResult;
  durationMs: number;
}

/**
 * Runs the commands of one stage in order. `run-before` stops at the first failure;
 * the other stages run every command whatever the earlier ones did.
 */
export async function runHookStage(
  stage: HookStage,
  hooks: readonly PlannedHook[],
  facts: RunFacts,
  opts: RunHookOptions = {},
): Promise<HookStageResult> {
  const results: HookResult[] = [];
  const t0 = performance.now();
  let failed: HookResult | undefined;
  for (const [index, hook] of hooks.entries()) {
    if (opts.signal?.aborted) break;
    const r = await runHook(stage, index, hook, facts, opts);
    results.push(r);
    if (!r.isOk) {
      failed ??= r;
      if (stage === 'run-before') break;
    }
  }
  return { results, ...(failed ? { failed } : {}), durationMs: performance.now() - t0 };
}

async function runHook(
  stage: HookStage,
  index: number,
  hook: PlannedHook,
  facts: RunFacts,
  opts: RunHookOptions,
): Promise<HookResult> {
  const cmd = parseHookCommand(hook.command);
  const who = { stage, index, label: cmd.label };
  const env = buildHookEnv(facts, stage, opts.env ?? process.env);
  const tail: string[] = [];
  const onLine = (line: string) => {
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
    opts.onLine?.(who, line);
  };
  const t0 = performance.now();
  const ended = await new Promise<{
    code: number | null;
    signal?: string;
    isTimedOut: boolean;
    spawnError?: string;
  }>((resolve) => {
    let isTimedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const child = spawn(cmd.file, cmd.args, {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a timeout stops what a shell started too.
      detached: true,
    });
    const stop = () => {
      if (child.pid === undefined || child.exitCode !== null) return;
      const kill = (sig: NodeJS.Signals) => {
        try {
          process.kill(-(child.pid as number), sig);
        } catch {
          // already gone
        }
      };
      kill('SIGTERM');
      killTimer = setTimeout(() => kill('SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
    };
    const timer = setTimeout(() => {
      isTimedOut = true;
      stop();
    }, hook.timeoutMs);
    opts.signal?.addEventListener('abort', stop, { once: true });
    const out = new LineSplitter(65_536, onLine);
    const err = new LineSplitter(65_536, onLine);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const finish = (r: { code: number | null; signal?: string; spawnError?: string }) => {
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      opts.signal?.removeEventListener('abort', stop);
      out.end();
      err.end();
      resolve({ ...r, isTimedOut });
    };
    child.once('error', (e) => finish({ code: null, spawnError: e.message }));
    child.once('close', (code, signal) => finish({ code, ...(signal ? { signal } : {}) }));
  });
  const durationMs = performance.now() - t0;
  const isOk = ended.code === 0 && !ended.isTimedOut;
  const result: HookResult = {
    ...who,
    exitCode: ended.code,
    ...(ended.signal ? { signal: ended.signal } : {}),
    isTimedOut: ended.isTimedOut,
    isOk,
    durationMs,
  };
  if (!isOk) {
    const what = ended.spawnError
      ? `could not start (${ended.spawnError})`
      : ended.isTimedOut
        ? `timed out after ${Math.round(hook.timeoutMs / 1000)}s`
        : ended.signal
          ? `was killed by ${ended.signal}`
          : `exited ${ended.code}`;
    const last = tail.length > 0 ? `: ${tail.join(' | ')}` : '';
    result.error = oneLine(`${stage} hook ${index + 1} (${cmd.label}) ${what}${last}`);
  }
  return result;
}
