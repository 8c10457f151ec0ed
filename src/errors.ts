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

/**
 * Why a delivery failed, as data: `status` the server answered outside 2xx; `network` the
 * connection failed or closed; `timeout` an attempt timed out; `tls` the TLS handshake failed;
 * `secret` a credential could not be read; `setup` the destination's settings are not usable
 * (a bad URL, a missing key file); `aborted` the run was stopped; `file` a textfile could not
 * be written or read.
 */
export type SinkErrorKind =
  | 'status'
  | 'network'
  | 'timeout'
  | 'tls'
  | 'secret'
  | 'setup'
  | 'aborted'
  | 'file';

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
  /** What kind of failure this is. */
  readonly kind: SinkErrorKind;
  /** Attempts made before giving up (retries included). @default 1 */
  readonly attempts: number;
  /** The failure in one line without the attempt count (the message adds it). */
  readonly detail: string;
  constructor(
    message: string,
    data: {
      url: string;
      status?: number;
      body?: string;
      isRetryable: boolean;
      kind: SinkErrorKind;
      attempts?: number;
      /** Said after the attempt count, e.g. `(the server asks to retry after 60 s)`. */
      note?: string;
    },
    options?: { cause?: unknown },
  ) {
    const attempts = data.attempts ?? 1;
    const suffix = `${attempts > 1 ? ` (after ${attempts} attempts)` : ''}${data.note ? ` ${data.note}` : ''}`;
    super('SINK_FAILED', `${message}${suffix}`, options);
    this.url = data.url;
    this.status = data.status;
    this.body = data.body;
    this.isRetryable = data.isRetryable;
    this.kind = data.kind;
    this.attempts = attempts;
    this.detail = message;
    this.data = data;
  }
  private readonly data: ConstructorParameters<typeof SinkError>[1];

  /** The same failure after `attempts` attempts, with an optional note. */
  withAttempts(attempts: number, note?: string): SinkError {
    return new SinkError(
      this.detail,
      { ...this.data, attempts, ...(note === undefined ? {} : { note }) },
      { cause: this.cause },
    );
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

/**
 * Replaces the user info of every URL in `text` (`scheme://user:pass@host`) with `***`, up to
 * the last `@` before the host, so a password holding `@` is hidden whole.
 * @example maskCredentials('rest:http://u:p@ss@host/') // 'rest:http://***@host/'
 */
export function maskCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/?#\s]*@/gi, '$1***@');
}

/** Query parameter names whose values are taken for secrets. */
const SECRET_QUERY_KEY = /token|secret|pass|key|auth/i;

/**
 * Names the credentials a URL carries, or undefined: `user info` for `https://u:p@host`, or
 * `query parameter api_key` for `?api_key=...`. Such a URL would put the secret in the outbox,
 * in argv and in messages, so config and flags refuse it.
 */
export function findUrlCredentials(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.username || u.password) return 'user info';
  const key = [...u.searchParams.keys()].find((k) => SECRET_QUERY_KEY.test(k));
  return key === undefined ? undefined : `query parameter ${key}`;
}

/** Returns the URL with any user info and secret-looking query values replaced by `***`. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username) u.username = '***';
    if (u.password) u.password = '***';
    for (const key of [...u.searchParams.keys()]) {
      if (SECRET_QUERY_KEY.test(key)) u.searchParams.set(key, '***');
    }
    // A URL inside an opaque one (`rest:http://user:pass@host/`) keeps its user info in the path.
    return u.username || u.password ? u.toString() : maskCredentials(u.toString());
  } catch {
    return maskCredentials(url);
  }
}

/** The message of a thrown value, for one line of text: an Error's message, anything else as a string. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
