/**
 * Error classes of resticprom. Every error has a stable `code`; subclasses carry
 * the data a caller needs (file and line, URL and status, restic's exit code),
 * not only text. Secrets never reach a message: URLs are masked with {@link maskUrl}.
 */

/** Base class of every error resticprom throws on purpose. */
export class ResticpromError extends Error {
  /** A stable, machine-readable code, e.g. `CONFIG_INVALID`. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Wrong command-line usage: an unknown flag, a missing argument, a bad value. */
export class UsageError extends ResticpromError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('USAGE', message, options);
  }
}

/** One problem found in a configuration file. */
export interface ConfigProblem {
  /** The file the problem is in. */
  file: string;
  /** 1-based line, when known. */
  line?: number;
  /** The key path, e.g. `profiles.nfs.tiers.daily.schedule`. */
  path: string;
  /** What is wrong. */
  message: string;
}

/** A configuration file that cannot be used; lists every problem found. */
export class ConfigError extends ResticpromError {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[], options?: { cause?: unknown }) {
    super('CONFIG_INVALID', problems.map(formatConfigProblem).join('\n'), options);
    this.problems = problems;
  }
}

/** Formats a config problem as `file:line: path: message`. */
export function formatConfigProblem(p: ConfigProblem): string {
  const where = p.line === undefined ? p.file : `${p.file}:${p.line}`;
  return p.path ? `${where}: ${p.path}: ${p.message}` : `${where}: ${p.message}`;
}

/** Metrics input that is not valid (exposition text, grouping labels, a name). */
export class InvalidMetricsError extends ResticpromError {
  /** 1-based line of the exposition text, when the problem is on a line. */
  readonly line: number | undefined;
  constructor(message: string, line?: number, options?: { cause?: unknown }) {
    super('METRICS_INVALID', line === undefined ? message : `line ${line}: ${message}`, options);
    this.line = line;
  }
}

/** A destination refused or could not take a delivery. */
export class SinkError extends ResticpromError {
  /** The destination URL or path, credentials masked. */
  readonly url: string;
  /** HTTP status, when the server answered. */
  readonly status: number | undefined;
  /** The server's answer (trimmed), when it answered. */
  readonly body: string | undefined;
  /** True when trying again later may succeed (network error, 5xx, 429). */
  readonly isRetryable: boolean;
  constructor(
    message: string,
    data: { url: string; status?: number; body?: string; isRetryable: boolean },
    options?: { cause?: unknown },
  ) {
    super('SINK_FAILED', message, options);
    this.url = data.url;
    this.status = data.status;
    this.body = data.body;
    this.isRetryable = data.isRetryable;
  }
}

/** restic could not be started or ended in a way that gives no result. */
export class ResticError extends ResticpromError {
  /** The restic subcommand, e.g. `backup`. */
  readonly command: string;
  /** restic's exit code, or undefined when it did not exit on its own. */
  readonly exitCode: number | undefined;
  /** The last lines restic wrote to stderr. */
  readonly stderrTail: string;
  constructor(
    message: string,
    data: { command: string; exitCode?: number; stderrTail?: string },
    options?: { cause?: unknown },
  ) {
    super('RESTIC_FAILED', message, options);
    this.command = data.command;
    this.exitCode = data.exitCode;
    this.stderrTail = data.stderrTail ?? '';
  }
}

/**
 * A restic command whose output is the result (stats, snapshots, version) failed; `reason`
 * classifies why (`wrong-password`, `repository-missing`, `repository-locked`, ...).
 */
export class ResticCommandError extends ResticError {
  /** Why restic failed, as in `FailureReason` of src/restic/types.ts. */
  readonly reason: string;
  constructor(
    message: string,
    data: { command: string; reason: string; exitCode?: number; stderrTail?: string },
    options?: { cause?: unknown },
  ) {
    super(message, data, options);
    this.reason = data.reason;
  }
}

/** Another run holds the repository's lock and waiting was not allowed or timed out. */
export class LockBusyError extends ResticpromError {
  readonly lockFile: string;
  readonly holderPid: number | undefined;
  constructor(message: string, data: { lockFile: string; holderPid?: number }) {
    super('LOCK_BUSY', message);
    this.lockFile = data.lockFile;
    this.holderPid = data.holderPid;
  }
}

/** The state directory (outbox, history, locks) cannot be used. */
export class StateError extends ResticpromError {
  readonly path: string;
  constructor(message: string, path: string, options?: { cause?: unknown }) {
    super('STATE_UNUSABLE', message, options);
    this.path = path;
  }
}

/** Another resticprom process holds the outbox lock longer than we may wait. */
export class OutboxBusyError extends StateError {
  /** The pid written in the lock file, when readable. */
  readonly holderPid: number | undefined;
  constructor(message: string, path: string, holderPid?: number) {
    super(message, path);
    this.holderPid = holderPid;
  }
}

/** Returns the URL with any user info and secret-looking query values replaced by `***`. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username) u.username = '***';
    if (u.password) u.password = '***';
    for (const key of [...u.searchParams.keys()]) {
      if (/token|secret|pass|key|auth/i.test(key)) u.searchParams.set(key, '***');
    }
    return u.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//***@');
  }
}
