/**
 * Classifies how a restic command ended, from its exit code and, for restic versions that
 * exit 1 for everything (0.14 to 0.16), from its `Fatal:` message.
 *
 * Upstream exit codes: https://restic.readthedocs.io/en/stable/075_scripting.html#exit-codes
 */
import { maskCredentials } from '../errors.js';
import type { StopReason } from './spawn.js';
import type { FailureReason, RunOutcome } from './types.js';

/** restic's documented exit codes. */
export const ResticExitCode = {
  OK: 0,
  FATAL: 1,
  GO_RUNTIME: 2,
  /** backup: a snapshot was written but some source data could not be read. */
  INCOMPLETE: 3,
  /** 0.17+ */
  REPOSITORY_MISSING: 10,
  /** 0.17+ */
  LOCK_FAILED: 11,
  /** 0.17.1+ */
  WRONG_PASSWORD: 12,
  /** 0.17+ (0.14 also exits 130 after SIGINT) */
  INTERRUPTED: 130,
} as const;

/** What {@link classifyResticExit} needs to know about a finished run. */
export interface ResticExitInfo {
  /** The restic subcommand, for the message, e.g. `backup`. */
  command: string;
  exitCode: number | null;
  signal?: string | null;
  /** Set when resticprom stopped restic. */
  stopReason?: StopReason;
  /** The inactivity timeout in force, for the message. */
  inactivityTimeoutMs?: number;
  /** restic's stderr text (the tail is enough). */
  stderr?: string;
  /** restic 0.18+'s `exit_error` message. */
  exitError?: { code: number; message: string };
  /** backup: unreadable items, for the message of an incomplete run. */
  errorCount?: number;
  /** backup: the snapshot written, for the message. */
  snapshotId?: string;
}

/** How a restic run ended, for people and for code. */
export interface ResticExitClass {
  outcome: RunOutcome;
  /** Set when `outcome` is `failed`. */
  reason?: FailureReason;
  /** One line for people; no secrets. */
  message: string;
}

// First match wins. An HTTP 401 comes first: restic words it "unable to open config file ...
// Is there a repository at the following location?", which would otherwise read as missing.
const PATTERNS: Array<[RegExp, FailureReason]> = [
  [/unexpected HTTP response \(401\)|\b401 Unauthorized\b/i, 'authentication-failed'],
  [/wrong password or no key found|no key found|an empty password is not a password/i, 'wrong-password'],
  [
    /unable to open config file|Is there a repository at the following location\?|repository does not exist/i,
    'repository-missing',
  ],
  [/unable to create lock|repository is already locked|failed to lock repository/i, 'repository-locked'],
];

/**
 * The first line of restic's own explanation: its exit_error, or the first `Fatal:`/error line,
 * without `Fatal: ` (credentials not yet masked: see {@link maskCredentials}).
 */
/** The first line of a crash of restic itself: a Go panic or a runtime fatal error. */
export const RESTIC_CRASH_LINE = /^(panic: |fatal error: )/;

/**
 * The stderr lines to classify a run by: the last `n`, and before them the first line of a
 * crash when it scrolled out of them (a goroutine dump is hundreds of lines long).
 */
export function stderrForClassification(tail: readonly string[], crashLine: string | undefined): string[] {
  return crashLine !== undefined && !tail.includes(crashLine) ? [crashLine, ...tail] : [...tail];
}

export function resticSays(info: Pick<ResticExitInfo, 'exitError' | 'stderr'>): string | undefined {
  if (info.exitError?.message) return info.exitError.message.split('\n')[0]?.replace(/^Fatal: /, '');
  const lines = (info.stderr ?? '').split('\n').map((l) => l.trim());
  const fatal = lines.find((l) => l.startsWith('Fatal: '));
  if (fatal) return fatal.slice(7);
  const named = lines.find((l) => /unable to create lock|already locked/i.test(l));
  if (named) return named;
  // A crash of restic itself (a Go panic or runtime fatal error) ends with a goroutine dump
  // whose last line names a source file: the first line of the crash is what happened.
  const crash = lines.find((l) => RESTIC_CRASH_LINE.test(l));
  if (crash) return `crashed: ${crash}`;
  return lines.filter((l) => l !== '').at(-1);
}

function reasonFromText(text: string): FailureReason | undefined {
  for (const [re, reason] of PATTERNS) if (re.test(text)) return reason;
  return undefined;
}

const REASON_TEXT: Record<FailureReason, string> = {
  'repository-missing': 'the repository does not exist or cannot be opened',
  'repository-locked': 'the repository is locked by another restic process',
  'wrong-password': 'wrong repository password',
  'authentication-failed': 'the repository server refused the credentials (HTTP 401 Unauthorized)',
  interrupted: 'interrupted',
  'inactivity-timeout': 'stopped after printing nothing',
  'spawn-failed': 'could not be started',
  'hook-failed': 'did not run: a run-before hook failed',
  other: 'failed',
};

/**
 * Classifies a restic run: 0 success; 3 incomplete (snapshot written, some files unreadable);
 * 10/11/12 repository missing/locked/wrong password (0.17+), 1 with the matching `Fatal:` text
 * for older versions; 130 or a stop by resticprom's abort signal interrupted; a stop by the
 * inactivity timeout inactivity-timeout; anything else failed `other`.
 */
export function classifyResticExit(info: ResticExitInfo): ResticExitClass {
  const cmd = `restic ${info.command}`;
  const says = resticSays(info);
  const detail = says ? `; restic: ${maskCredentials(says)}` : '';
  const code = info.exitCode;

  if (code === ResticExitCode.OK) return { outcome: 'success', message: `${cmd} succeeded` };
  if (code === ResticExitCode.INCOMPLETE) {
    const n = info.errorCount ?? 0;
    const what = n === 1 ? '1 item' : `${n} items`;
    const snap = info.snapshotId ? ` (snapshot ${info.snapshotId})` : '';
    return {
      outcome: 'incomplete',
      message: `${cmd} wrote a snapshot${snap} but ${what} could not be read`,
    };
  }

  if (info.stopReason === 'inactivity-timeout') {
    const secs = info.inactivityTimeoutMs !== undefined ? ` for ${info.inactivityTimeoutMs / 1000}s` : '';
    return {
      outcome: 'failed',
      reason: 'inactivity-timeout',
      message: `${cmd} was stopped: it printed nothing${secs}`,
    };
  }
  if (info.stopReason === 'interrupted') {
    return { outcome: 'failed', reason: 'interrupted', message: `${cmd} was interrupted` };
  }

  let reason: FailureReason;
  switch (code) {
    case ResticExitCode.REPOSITORY_MISSING:
      reason = 'repository-missing';
      break;
    case ResticExitCode.LOCK_FAILED:
      reason = 'repository-locked';
      break;
    case ResticExitCode.WRONG_PASSWORD:
      reason = 'wrong-password';
      break;
    case ResticExitCode.INTERRUPTED:
      reason = 'interrupted';
      break;
    case ResticExitCode.FATAL:
      reason = reasonFromText(`${info.exitError?.message ?? ''}\n${info.stderr ?? ''}`) ?? 'other';
      break;
    default:
      reason =
        code === null && (info.signal === 'SIGINT' || info.signal === 'SIGTERM') ? 'interrupted' : 'other';
  }
  const how = code === null ? `killed by ${info.signal ?? 'a signal'}` : `exit ${code}`;
  const base = reason === 'other' ? `${cmd} failed` : `${cmd} failed: ${REASON_TEXT[reason]}`;
  return { outcome: 'failed', reason, message: `${base} (${how}${detail})` };
}
