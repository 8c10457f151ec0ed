/**
 * The outbox entry format: what one file of `<stateDir>/outbox/` holds, how it is written
 * (canonical JSON with a SHA-256 of it) and parsed back, and the id scheme that sorts entries
 * in enqueue order.
 */
import { createHash, randomBytes } from 'node:crypto';
import { isSinkKind } from '../sink.js';
import type { MetricsPayload, Target } from '../types.js';

/** Version tag written in every entry file. */
export const OUTBOX_FORMAT = 'resticprom-outbox/1';

/** The name of an entry file: `<13-digit ms>-<6-digit seq>-<8 hex>.json`. */
export const ENTRY_FILE = /^(\d{13}-\d{6}-[0-9a-f]{8})\.json$/;

/** A secret as stored in an entry: a reference, or a mark that the caller must give it at flush time. */
export type StoredSecret = { file: string } | { env: string } | { fromCaller: true };

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A target as stored in an entry: every setting except secret values. */
export type StoredTarget = DistributiveOmit<Target, 'basicAuth' | 'bearerToken' | 'headers'> & {
  basicAuth?: { username: string; password: StoredSecret };
  bearerToken?: StoredSecret;
  /** Headers without secret-looking ones; those are `fromCaller`. */
  headers?: Record<string, string>;
};

/** One payload waiting for one target. */
export interface OutboxEntry {
  /** File name without `.json`; sorts in enqueue order. */
  id: string;
  /** The target's id (see `describeTarget`): the masked URL or the path. */
  targetId: string;
  target: StoredTarget;
  payload: Required<Pick<MetricsPayload, 'method'>> & MetricsPayload;
  /** Unix ms. */
  enqueuedAt: number;
  /** HTTP attempts made so far (retries included). */
  attempts: number;
  firstError?: string;
  lastError?: string;
  /** Unix ms of the last attempt. */
  lastAttemptAt?: number;
  /** Secrets that were given inline and are not stored; the caller passes them at flush. */
  secretsFromCaller: string[];
  /**
   * The run (history record id) these metrics belong to. Such an entry is written ahead of
   * the run's history record and is sent only once the history holds that record; if the
   * writer ended without recording it (killed in between), the entry is dropped unsent.
   */
  runId?: string;
  /** The pid of the process that wrote an entry with a `runId`. */
  writerPid?: number;
  /**
   * What ran, for an entry with a `runId`: with the payload's job it names the run's scope,
   * under which its delivery is confirmed (`outbox/confirmed.ts`).
   */
  runScope?: RunScopeRef;
  /** True for an entry re-queued from the latest metrics (its first entry was lost). */
  isRequeued?: boolean;
}

/** What ran: the kind, and the profile and tier when it has them (the job is the payload's). */
export interface RunScopeRef {
  /** `backup`, `forget`, `check`, `stats`, `verify` or `run`. */
  kind: string;
  profile?: string;
  tier?: string;
}

/** One entry in a report: which payload, which target, and why. */
export interface OutboxEvent {
  id: string;
  /** The target id (masked URL or path). */
  target: string;
  job: string;
  grouping: Record<string, string>;
  /** Why it is pending, dead, dropped or superseded. */
  reason?: string;
  /** HTTP status of a refusal. */
  status?: number;
}

let sequence = 0;

/** A new entry id for time `ts` (Unix ms): later calls in one process sort after earlier ones. */
export function newEntryId(ts: number): string {
  sequence = (sequence + 1) % 1_000_000;
  return `${String(ts).padStart(13, '0')}-${String(sequence).padStart(6, '0')}-${randomBytes(4).toString('hex')}`;
}

/** The enqueue time (Unix ms) an entry id starts with. */
export function entryIdTime(id: string): number {
  return Number(id.slice(0, 13));
}

/** Serializes an entry with its checksum: `{"format","sha256","entry"}` on one line. */
export function serializeEntry(entry: OutboxEntry): string {
  const body = JSON.stringify(entry);
  const sha256 = createHash('sha256').update(body).digest('hex');
  // The entry is embedded as parsed JSON for people (jq); the checksum covers its canonical text.
  return `{"format":"${OUTBOX_FORMAT}","sha256":"${sha256}","entry":${body}}\n`;
}

/** Parses an entry file; returns why when it is not a whole, valid entry. */
export function parseEntry(raw: Buffer, id: string): OutboxEntry | string {
  let doc: unknown;
  try {
    doc = JSON.parse(raw.toString('utf8'));
  } catch {
    return `not valid JSON (${raw.length} bytes; torn or truncated write)`;
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    return `not an outbox entry (a JSON ${doc === null ? 'null' : Array.isArray(doc) ? 'array' : typeof doc})`;
  }
  const { format, sha256, entry } = doc as { format?: unknown; sha256?: unknown; entry?: unknown };
  if (format !== OUTBOX_FORMAT) return `unknown format ${JSON.stringify(format) ?? 'undefined'}`;
  const body = JSON.stringify(entry) ?? '';
  if (createHash('sha256').update(body).digest('hex') !== sha256) return 'checksum mismatch';
  if (!isEntryShape(entry) || entry.id !== id) return 'entry fields missing or not matching the file name';
  return entry;
}

function isEntryShape(e: unknown): e is OutboxEntry {
  if (typeof e !== 'object' || e === null) return false;
  const v = e as Partial<Record<keyof OutboxEntry, unknown>>;
  const p = v.payload as Partial<Record<string, unknown>> | null | undefined;
  const t = v.target as { kind?: unknown } | null | undefined;
  return (
    typeof v.id === 'string' &&
    typeof v.targetId === 'string' &&
    typeof v.enqueuedAt === 'number' &&
    typeof v.attempts === 'number' &&
    Array.isArray(v.secretsFromCaller) &&
    typeof p === 'object' &&
    p !== null &&
    typeof p.text === 'string' &&
    typeof p.job === 'string' &&
    typeof p.grouping === 'object' &&
    p.grouping !== null &&
    (p.method === 'post' || p.method === 'put' || p.method === 'delete') &&
    typeof t === 'object' &&
    t !== null &&
    typeof t.kind === 'string' &&
    isSinkKind(t.kind)
  );
}

/** The report line of an entry. */
export function entryEvent(e: OutboxEntry, reason?: string): OutboxEvent {
  return {
    id: e.id,
    target: e.targetId,
    job: e.payload.job,
    grouping: e.payload.grouping,
    ...(reason === undefined ? {} : { reason }),
  };
}
