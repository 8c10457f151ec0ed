/**
 * Starts restic and streams its output line by line with flat memory: stdin is
 * closed (restic can never wait for a password), the repository and password
 * travel in the child's environment only, and an AbortSignal or an inactivity
 * timeout stops it gracefully (SIGINT, then SIGKILL after a grace period).
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { setPriority } from 'node:os';
import { delimiter, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ResticError } from '../errors.js';
import type { ResticPassword } from './types.js';

/** Which stream a line came from. */
export type ResticStream = 'stdout' | 'stderr';

/** Why resticprom stopped restic itself, if it did. */
export type StopReason = 'interrupted' | 'inactivity-timeout';

/** Options of {@link spawnRestic}. */
export interface SpawnResticOptions {
  /** restic's arguments, e.g. `['backup', '--json', '/data']`. Never put a secret here. */
  args: string[];
  /**
   * The restic executable (a name looked up on PATH, or a path).
   * @default 'restic'
   */
  resticBinary?: string;
  /** The repository; passed as `RESTIC_REPOSITORY` in the child's environment. */
  repository?: string;
  /** The repository password; passed through the child's environment only. */
  password?: ResticPassword;
  /**
   * The environment restic starts from. When omitted, `process.env` is used minus any
   * `RESTIC_PASSWORD*` variables (so a stray parent password cannot leak in); when given, it is used as is.
   * Either way a `password` option replaces every `RESTIC_PASSWORD*` variable.
   * @default process.env (without RESTIC_PASSWORD, RESTIC_PASSWORD_FILE, RESTIC_PASSWORD_COMMAND)
   */
  env?: NodeJS.ProcessEnv;
  /** Limits restic's CPU use by setting `GOMAXPROCS` to this number of cores. */
  cpuLimit?: number;
  /**
   * Runs restic as `nice -n N` (plus `ionice -c2 -n7` when ionice is installed), lowering its priority.
   */
  nice?: number;
  /** Stops restic: sends `killSignal`, waits `killGraceMs`, then SIGKILL. */
  signal?: AbortSignal;
  /**
   * The signal sent to stop restic. restic handles SIGINT in every version (it removes its lock
   * and exits 130); restic 0.14 dies on SIGTERM without removing its lock.
   * @default 'SIGINT'
   */
  killSignal?: NodeJS.Signals;
  /**
   * How long restic may take to exit after `killSignal` before it gets SIGKILL, ms.
   * @default 10000
   */
  killGraceMs?: number;
  /** Stops restic when it prints nothing on stdout or stderr for this long, ms. Off when omitted. */
  inactivityTimeoutMs?: number;
  /** Called for every stdout line (without the line break). */
  onStdoutLine?: (line: string) => void;
  /**
   * Sees every stdout line as bytes (`buf[start..end)`, without the line break) before it is
   * decoded; returning true means the line is handled and `onStdoutLine` is not called for it.
   * Lets a caller count the millions of lines it does not need to read (restic's `-vv` items)
   * without turning each into a string. Lines cut at `maxLineBytes` always go to `onStdoutLine`.
   */
  onStdoutBytes?: (buf: Buffer, start: number, end: number) => boolean;
  /** Called for every stderr line (without the line break). */
  onStderrLine?: (line: string) => void;
  /**
   * Called once restic is started, while it runs: work the caller needs afterwards and can do
   * meanwhile (a job loads the modules its delivery needs) keeps off the time after restic.
   */
  onStarted?: () => void;
  /**
   * Longest line kept, in bytes; the rest of a longer line is dropped (and counted).
   * @default 65536
   */
  maxLineBytes?: number;
  /** Working directory of restic. @default process.cwd() */
  cwd?: string;
  /** Runs restic as this user id (needs root). */
  uid?: number;
  /** Runs restic as this group id (needs root). */
  gid?: number;
}

/** How a restic process ended. */
export interface SpawnResticResult {
  /** restic's exit code; null when a signal ended it. */
  exitCode: number | null;
  /** The signal that ended restic, if any. */
  signal: NodeJS.Signals | null;
  /** Set when resticprom stopped restic (abort signal or inactivity timeout). */
  stopReason?: StopReason;
  /** True when restic needed SIGKILL after the grace period. */
  isForceKilled: boolean;
  /** The process id restic ran as. */
  pid: number;
  /** Number of lines read from stdout and stderr. */
  stdoutLines: number;
  stderrLines: number;
  /** Lines longer than `maxLineBytes`, cut short. */
  truncatedLines: number;
  /** Wall time from spawn to exit, ms (sub-ms precision). */
  durationMs: number;
  /** Unix ms at spawn and at exit. */
  startedAt: number;
  endedAt: number;
}

/** Terminal control sequences (CSI, e.g. the `ESC[2K` restic 0.14 puts before a message even off a terminal). */
const TERMINAL_CODES = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;

/**
 * Removes terminal control from a line of restic's stderr, so logs and classification see
 * text: CSI sequences, and carriage returns (restic 0.19 writes `\rsignal interrupt received,
 * cleaning up ` over its status line), keeping what a terminal would show: the text after the
 * last carriage return, without trailing blanks.
 */
export function stripTerminalCodes(line: string): string {
  let text = line.includes('\x1b') ? line.replace(TERMINAL_CODES, '') : line;
  if (text.includes('\r')) {
    const parts = text.split('\r').filter((p) => p.trim() !== '');
    text = parts.at(-1) ?? '';
  }
  return text.trimEnd();
}

const PASSWORD_VARS = ['RESTIC_PASSWORD', 'RESTIC_PASSWORD_FILE', 'RESTIC_PASSWORD_COMMAND'] as const;

/**
 * Builds the environment restic runs with: the base environment, the repository, the password
 * (as a file, a command or a value, never argv) and `GOMAXPROCS`.
 */
export function buildResticEnv(
  opts: Pick<SpawnResticOptions, 'env' | 'repository' | 'password' | 'cpuLimit'>,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...(opts.env ?? process.env) };
  if (opts.env === undefined || opts.password !== undefined) {
    for (const name of PASSWORD_VARS) delete env[name];
  }
  if (opts.repository !== undefined) env.RESTIC_REPOSITORY = opts.repository;
  const pw = opts.password;
  if (pw !== undefined) {
    if ('file' in pw) env.RESTIC_PASSWORD_FILE = pw.file;
    else if ('command' in pw) env.RESTIC_PASSWORD_COMMAND = pw.command;
    else env.RESTIC_PASSWORD = pw.value;
  }
  if (opts.cpuLimit !== undefined) {
    if (!Number.isInteger(opts.cpuLimit) || opts.cpuLimit < 1) {
      throw new RangeError(`cpuLimit must be a whole number of cores >= 1, got ${opts.cpuLimit}`);
    }
    env.GOMAXPROCS = String(opts.cpuLimit);
  }
  return env;
}

const whichCache = new Map<string, string | undefined>();

/** Finds an executable on PATH; cached. */
function findOnPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  const key = `${env.PATH ?? ''}\0${name}`;
  if (whichCache.has(key)) return whichCache.get(key);
  let found: string | undefined;
  for (const dir of (env.PATH ?? '/usr/bin:/bin').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      found = p;
      break;
    } catch {
      // not here
    }
  }
  whichCache.set(key, found);
  return found;
}

function isExecutable(bin: string, env: NodeJS.ProcessEnv): boolean {
  if (!bin.includes('/')) return findOnPath(bin, env) !== undefined;
  try {
    accessSync(bin, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Returns the command and argv that start restic, wrapped in `setpriv --pdeathsig INT`
 * (when util-linux's setpriv is there) and in `nice -n N` and `ionice -c2 -n7`
 * when `nice` is set and those tools exist. `usesSetPriority` is true when nice is missing and the
 * priority must be set after spawn instead.
 */
export function buildResticCommand(
  opts: Pick<SpawnResticOptions, 'resticBinary' | 'args' | 'nice'>,
  env: NodeJS.ProcessEnv,
): { file: string; argv: string[]; usesSetPriority: boolean } {
  const cmd = buildNicedCommand(opts, env);
  // restic gets SIGINT (it then removes its lock) when resticprom dies without a word
  // (kill -9, the OOM killer); otherwise it would run on until its next write to the
  // closed pipe. `setpriv` is util-linux's, on every Debian; without it restic runs as is.
  // Only around a restic that exists, so that a missing binary stays a spawn error.
  const setprivPath = findOnPath('setpriv', env);
  if (!setprivPath || !isExecutable(opts.resticBinary ?? 'restic', env)) return cmd;
  return { ...cmd, file: setprivPath, argv: ['--pdeathsig', 'INT', '--', cmd.file, ...cmd.argv] };
}

function buildNicedCommand(
  opts: Pick<SpawnResticOptions, 'resticBinary' | 'args' | 'nice'>,
  env: NodeJS.ProcessEnv,
): { file: string; argv: string[]; usesSetPriority: boolean } {
  const restic = opts.resticBinary ?? 'restic';
  if (opts.nice === undefined) return { file: restic, argv: opts.args, usesSetPriority: false };
  if (!Number.isInteger(opts.nice) || opts.nice < -20 || opts.nice > 19) {
    throw new RangeError(`nice must be a whole number from -20 to 19, got ${opts.nice}`);
  }
  const nicePath = findOnPath('nice', env);
  const ionicePath = findOnPath('ionice', env);
  const inner = ionicePath ? [ionicePath, '-c2', '-n7', restic, ...opts.args] : [restic, ...opts.args];
  if (!nicePath) {
    const [file, ...argv] = inner as [string, ...string[]];
    return { file, argv, usesSetPriority: true };
  }
  return { file: nicePath, argv: ['-n', String(opts.nice), ...inner], usesSetPriority: false };
}

/**
 * Splits a byte stream into lines with bounded memory: a line longer than `max` bytes is cut at
 * `max` bytes and the rest is discarded as it arrives. Invalid UTF-8 becomes U+FFFD. An optional
 * `take` sees each complete line's bytes first; when it returns true the line is counted but
 * neither decoded nor emitted (decoding is most of the cost of a line that is only counted).
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private partLen = 0;
  private isOverflowing = false;
  /** Number of lines cut short. */
  truncated = 0;
  /** Number of lines emitted. */
  count = 0;

  constructor(
    private readonly max: number,
    private readonly emit: (line: string) => void,
    private readonly take?: (buf: Buffer, start: number, end: number) => boolean,
  ) {}

  /** Feeds a chunk; emits every complete line in it. */
  push(chunk: Buffer): void {
    let start = 0;
    const len = chunk.length;
    while (start < len) {
      const nl = chunk.indexOf(10, start);
      if (nl === -1) {
        this.keep(chunk, start, len);
        return;
      }
      if (this.partLen === 0 && !this.isOverflowing) {
        let end = nl;
        if (end > start && chunk[end - 1] === 13) end--;
        this.count++;
        if (end - start > this.max) {
          this.truncated++;
          end = start + this.max;
        } else if (this.take?.(chunk, start, end)) {
          start = nl + 1;
          continue;
        }
        this.emit(chunk.toString('utf8', start, end));
      } else {
        this.keep(chunk, start, nl);
        this.flush();
      }
      start = nl + 1;
    }
  }

  /** Emits what is left as a last line (a stream that does not end with a line break). */
  end(): void {
    if (this.partLen > 0 || this.isOverflowing) this.flush();
  }

  private keep(chunk: Buffer, start: number, end: number): void {
    if (this.isOverflowing) return;
    const room = this.max - this.partLen;
    const n = end - start;
    if (n > room) {
      if (room > 0) this.parts.push(Buffer.from(chunk.subarray(start, start + room)));
      this.partLen = this.max;
      this.isOverflowing = true;
      return;
    }
    // copy: the chunk's memory is reused by the stream
    this.parts.push(Buffer.from(chunk.subarray(start, end)));
    this.partLen += n;
  }

  private flush(): void {
    let buf = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts, this.partLen);
    if (!this.isOverflowing && buf.length > 0 && buf[buf.length - 1] === 13) buf = buf.subarray(0, -1);
    const isCut = this.isOverflowing;
    if (isCut) this.truncated++;
    this.parts = [];
    this.partLen = 0;
    this.isOverflowing = false;
    this.count++;
    if (!isCut && this.take?.(buf, 0, buf.length)) return;
    this.emit(buf.toString('utf8'));
  }
}

/**
 * Runs restic and resolves when it has exited and both its streams are drained. Resolves for
 * every exit, also when it was stopped; rejects with {@link ResticError} only when restic
 * cannot be started (binary missing, not executable).
 *
 * @example
 * const r = await spawnRestic({ args: ['snapshots', '--json'], repository: '/srv/repo',
 *   password: { file: '/etc/restic/pw' }, onStdoutLine: (l) => lines.push(l) });
 */
export async function spawnRestic(opts: SpawnResticOptions): Promise<SpawnResticResult> {
  const env = buildResticEnv(opts);
  const cmd = buildResticCommand(opts, env);
  const maxLine = opts.maxLineBytes ?? 65_536;
  const graceMs = opts.killGraceMs ?? 10_000;
  const killSignal = opts.killSignal ?? 'SIGINT';
  const subcommand = opts.args.find((a) => !a.startsWith('-')) ?? '';

  const startedAt = Date.now();
  const t0 = performance.now();
  const child = spawn(cmd.file, cmd.argv, {
    env,
    // Its own session: a hangup of our terminal (SIGHUP to the foreground group) does not kill
    // restic uncleanly; we stop it with SIGINT, which makes it remove its lock.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
    ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
  });

  return await new Promise<SpawnResticResult>((resolve, reject) => {
    let stopReason: StopReason | undefined;
    let isForceKilled = false;
    let killTimer: NodeJS.Timeout | undefined;
    let idleTimer: NodeJS.Timeout | undefined;
    let lastActivity = performance.now();
    let spawnError: Error | undefined;

    const outSplit = new LineSplitter(maxLine, opts.onStdoutLine ?? (() => {}), opts.onStdoutBytes);
    const onStderrLine = opts.onStderrLine;
    const errSplit = new LineSplitter(
      maxLine,
      onStderrLine ? (line) => onStderrLine(stripTerminalCodes(line)) : () => {},
    );

    const stop = (reason: StopReason): void => {
      if (stopReason !== undefined || child.exitCode !== null || child.signalCode !== null) return;
      stopReason = reason;
      if (idleTimer) clearTimeout(idleTimer);
      child.kill(killSignal);
      killTimer = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) {
          isForceKilled = true;
          child.kill('SIGKILL');
        }
      }, graceMs);
    };
    const onAbort = (): void => stop('interrupted');

    const timeoutMs = opts.inactivityTimeoutMs;
    const armIdle = (delay: number): void => {
      idleTimer = setTimeout(() => {
        const idle = performance.now() - lastActivity;
        if (timeoutMs !== undefined && idle >= timeoutMs) stop('inactivity-timeout');
        else if (timeoutMs !== undefined) armIdle(timeoutMs - idle);
      }, delay);
    };
    // Timers are not reset per chunk (millions of lines); the timer re-checks when it fires.
    if (timeoutMs !== undefined && timeoutMs > 0) armIdle(timeoutMs);

    child.stdout.on('data', (chunk: Buffer) => {
      lastActivity = performance.now();
      outSplit.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      lastActivity = performance.now();
      errSplit.push(chunk);
    });

    child.on('error', (err) => {
      spawnError = err;
    });

    if (child.pid !== undefined) {
      if (cmd.usesSetPriority && opts.nice !== undefined) {
        try {
          setPriority(child.pid, opts.nice);
        } catch {
          // lowering priority is best effort
        }
      }
      if (opts.signal) {
        if (opts.signal.aborted) onAbort();
        else opts.signal.addEventListener('abort', onAbort, { once: true });
      }
      opts.onStarted?.();
    }

    child.on('close', (code, sig) => {
      if (killTimer) clearTimeout(killTimer);
      if (idleTimer) clearTimeout(idleTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      outSplit.end();
      errSplit.end();
      if (spawnError !== undefined || child.pid === undefined) {
        const e = spawnError as NodeJS.ErrnoException | undefined;
        const why = e?.code === 'ENOENT' ? 'not found' : (e?.message ?? 'unknown error');
        reject(
          new ResticError(
            `cannot start restic ${subcommand} (${opts.resticBinary ?? 'restic'}): ${why}`,
            { command: subcommand },
            { cause: spawnError },
          ),
        );
        return;
      }
      const endedAt = Date.now();
      resolve({
        exitCode: code,
        signal: sig,
        ...(stopReason !== undefined ? { stopReason } : {}),
        isForceKilled,
        pid: child.pid,
        stdoutLines: outSplit.count,
        stderrLines: errSplit.count,
        truncatedLines: outSplit.truncated + errSplit.truncated,
        durationMs: performance.now() - t0,
        startedAt,
        endedAt,
      });
    });
  });
}
