/**
 * The durable outbox: payloads waiting for a destination, one file per payload and
 * target under `<stateDir>/outbox/`, so a run's metrics survive an outage, a reboot
 * or a `kill -9`.
 *
 * Layout:
 * - `outbox/<13-digit ms>-<6-digit seq>-<8 hex>.json`: one entry; names sort in enqueue order.
 * - `outbox/dead/<id>.json`: a dead letter (the entry plus why: status and body); a corrupt
 *   entry's raw bytes sit beside it as `dead/<id>.corrupt`.
 * - `outbox/.lock`: the pid of the process delivering right now.
 * - `outbox/.<name>.<pid>.<hex>.tmp`: a file being written; ignored, removed once its writer is gone.
 *
 * Invariants: entries of one target and group (job + grouping) go oldest first; a newer
 * PUT or DELETE (or a textfile write) supersedes older entries of its group; an entry is never
 * sent after a newer one of its group succeeded; a refused (non-retryable) entry moves to dead/
 * without blocking later ones; bounds drop the oldest with a warning; unreadable files move to
 * dead/ as corrupt. Nothing is dropped without a line in the returned report.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidMetricsError, LockBusyError, OutboxBusyError, SinkError } from '../errors.js';
import { isProcessAlive, removeDeadTempFiles, writeFileAtomic } from '../state/dir.js';
import { recordedRuns } from '../state/history.js';
import { acquireLockFile, type HeldLock } from '../state/lock.js';
import { describeTarget, type SendOptions, sendToTarget, type Target } from './target.js';
import type { HttpOptions, MetricsPayload, PushMethod, SecretSource } from './types.js';

/** Version tag written in every entry file. */
export const OUTBOX_FORMAT = 'resticprom-outbox/1';

/** Default bound on the number of pending entries. */
export const DEFAULT_MAX_ENTRIES = 1000;
/** Default bound on the total size of pending entries: 50 MiB. */
export const DEFAULT_MAX_BYTES = 50 * 1024 * 1024;

/** A secret as stored in an entry: a reference, or a mark that the caller must give it at flush time. */
export type StoredSecret = { file: string } | { env: string } | { fromCaller: true };

/** A target as stored in an entry: every setting except secret values. */
export type StoredTarget = DistributiveOmit<Target, 'basicAuth' | 'bearerToken' | 'headers'> & {
  basicAuth?: { username: string; password: StoredSecret };
  bearerToken?: StoredSecret;
  /** Headers without secret-looking ones (see {@link isSecretHeader}); those are `fromCaller`. */
  headers?: Record<string, string>;
};

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** One payload waiting for one target. */
export interface OutboxEntry {
  /** File name without `.json`; sorts in enqueue order. */
  id: string;
  /** {@link describeTarget} of the target: the masked URL or the path. */
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
  /** Secrets that were given inline and are not stored; the caller passes them to {@link Outbox.flush}. */
  secretsFromCaller: string[];
  /**
   * The run (history record id) these metrics belong to. Such an entry is written ahead of
   * the run's history record and is sent only once the history holds that record; if the
   * writer ended without recording it (killed in between), the entry is dropped unsent.
   */
  runId?: string;
  /** The pid of the process that wrote an entry with a `runId`. */
  writerPid?: number;
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

/** A payload that will not be sent again, kept in `dead/` for inspection. */
export interface DeadLetter {
  id: string;
  /** The dead letter's JSON file. */
  file: string;
  reason: string;
  status?: number;
  body?: string;
  /** Unix ms. */
  deadAt: number;
  /** The entry; absent for a corrupt file (its bytes are in `rawFile`). */
  entry?: OutboxEntry;
  rawFile?: string;
}

/** What a flush did. Every entry it touched is in exactly one list. */
export interface FlushReport {
  delivered: OutboxEvent[];
  /** Still waiting (target down, credentials missing, interrupted). */
  pending: OutboxEvent[];
  /** Refused by the destination as invalid; moved to dead/. */
  deadLettered: OutboxEvent[];
  /** Replaced by a newer PUT/DELETE/textfile entry of the same group; removed unsent. */
  superseded: OutboxEvent[];
  /** Unreadable files moved to dead/. */
  corrupt: { file: string; reason: string }[];
  /** Entries left in the outbox afterwards. */
  remaining: number;
}

/** What an enqueue did. */
export interface EnqueueResult {
  entries: OutboxEntry[];
  superseded: OutboxEvent[];
  /** Oldest entries dropped to stay within the bounds. */
  dropped: OutboxEvent[];
  /** Unreadable files found on the way, moved to dead/. */
  corrupt: { file: string; reason: string }[];
  /** One line per drop or corrupt file, for people. */
  warnings: string[];
}

/** Options of {@link Outbox}. */
export interface OutboxOptions {
  /** The state directory; the outbox is its `outbox/` folder. */
  stateDir: string;
  /** Most entries kept; past it the oldest are dropped (reported). @default 1000 */
  maxEntries?: number;
  /** Most bytes of entry files kept; past it the oldest are dropped (reported). @default 52428800 (50 MiB) */
  maxBytes?: number;
  /** How long to wait for another process's lock, ms. @default 60000 */
  lockTimeoutMs?: number;
  /** Clock, Unix ms. @default Date.now */
  now?: () => number;
}

/** Sends one payload to one target; {@link sendToTarget} unless a test swaps it. */
export type SendFunction = (payload: MetricsPayload, target: Target, opts: SendOptions) => Promise<void>;

/** Options of {@link Outbox.flush}. */
export interface FlushOptions {
  /** Passed to every send (fetch, env, sleep, onRetry...). */
  sendOptions?: SendOptions;
  /** Credentials for a target id, for secrets that were given inline and not stored. */
  credentials?: (targetId: string) => Partial<HttpOptions> | undefined;
  /** Stops after the entry in flight; the rest stays pending. */
  signal?: AbortSignal;
  /** The sender. @default sendToTarget */
  send?: SendFunction;
}

/** The part of an entry's settings that may carry a secret, by header name. */
export function isSecretHeader(name: string): boolean {
  return /auth|token|secret|key|pass|cookie|session|credential/i.test(name);
}

let sequence = 0;
/** Runs of this process whose entries are stored and whose history record is being written. */
const runsInFlight = new Set<string>();

/**
 * Marks a run of this process as being recorded (`true`) or done (`false`): while marked,
 * a flush in this process keeps its entries waiting instead of judging them unrecorded.
 */
export function setRunInFlight(runId: string, isInFlight: boolean): void {
  if (isInFlight) runsInFlight.add(runId);
  else runsInFlight.delete(runId);
}
const lockContext = new AsyncLocalStorage<Outbox>();
const ENTRY_FILE = /^(\d{13}-\d{6}-[0-9a-f]{8})\.json$/;

/**
 * The durable queue under `<stateDir>/outbox/`. Methods take the outbox lock
 * (`outbox/.lock`, released on return; a dead holder's lock is taken over).
 * @example
 * const outbox = new Outbox({ stateDir: '/var/lib/resticprom' });
 * const report = await outbox.flush({});
 */
export class Outbox {
  /** `<stateDir>/outbox`. */
  readonly dir: string;
  /** `<stateDir>/outbox/dead`. */
  readonly deadDir: string;
  readonly maxEntries: number;
  readonly maxBytes: number;
  private readonly stateDir: string;
  private readonly lockTimeoutMs: number;
  private readonly now: () => number;
  private isPrepared = false;

  constructor(opts: OutboxOptions) {
    this.stateDir = opts.stateDir;
    this.dir = join(opts.stateDir, 'outbox');
    this.deadDir = join(this.dir, 'dead');
    this.maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
    this.lockTimeoutMs = opts.lockTimeoutMs ?? 60_000;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Runs `fn` holding the outbox lock; calls nested inside `fn` do not lock again.
   * @throws {OutboxBusyError} when another live process holds it past `lockTimeoutMs`.
   */
  async withLock<T>(fn: () => Promise<T>): Promise<T> {
    if (lockContext.getStore() === this) return fn();
    await this.prepare();
    let lock: HeldLock;
    try {
      lock = await acquireLockFile(join(this.dir, '.lock'), {
        waitMs: this.lockTimeoutMs,
        pollMs: 100,
        command: 'outbox delivery',
        now: this.now,
      });
    } catch (err) {
      if (!(err instanceof LockBusyError)) throw err;
      throw new OutboxBusyError(`outbox ${this.dir} is busy: ${err.message}`, this.dir, err.holderPid);
    }
    try {
      return await lockContext.run(this, async () => {
        await this.cleanTempFiles();
        return fn();
      });
    } finally {
      await lock.release();
    }
  }

  /**
   * Stores `payload` for each target, one entry per target, fsynced, mode 0600. Older entries
   * of a group that the new one replaces (PUT, DELETE, textfile) are removed as superseded; past
   * the bounds the oldest other entries are dropped. Inline secrets are never written: such an
   * entry lists them in `secretsFromCaller`. With `run.runId` the entries belong to a run
   * whose history record is written next (see {@link OutboxEntry.runId}); they replace
   * nothing until then (the next flush supersedes).
   */
  async enqueue(
    payload: MetricsPayload,
    targets: Target[],
    failure?: { error: string; attempts: number },
    run?: { runId: string },
  ): Promise<EnqueueResult> {
    return this.withLock(async () => {
      const existing = await this.readEntries(true);
      let ts = this.now();
      for (const e of existing.entries) ts = Math.max(ts, Number(e.id.slice(0, 13)));
      const result: EnqueueResult = {
        entries: [],
        superseded: [],
        dropped: [],
        corrupt: existing.corrupt,
        warnings: existing.corrupt.map((c) => `moved ${c.file} to ${this.deadDir}: ${c.reason}`),
      };
      for (const target of targets) {
        const entry = this.makeEntry(payload, target, ts, failure, run);
        await writeEntry(join(this.dir, `${entry.id}.json`), entry);
        result.entries.push(entry);
      }
      const all = [...existing.entries, ...result.entries];
      // Entries of a run not yet recorded must not remove recorded ones: if the run never
      // gets recorded they are dropped, and the older entries would be lost with them.
      const kept = run ? all : await this.supersede(all, result.superseded);
      await this.enforceBounds(kept, new Set(result.entries.map((e) => e.id)), result);
      return result;
    });
  }

  /**
   * Writes one entry per target WITHOUT the lock: no superseding, no bounds (the next
   * flush applies superseding, the next enqueue the bounds). For when another process
   * holds the lock too long; the entries sort after everything already stored.
   */
  async store(payload: MetricsPayload, targets: Target[], run?: { runId: string }): Promise<OutboxEntry[]> {
    await this.prepare();
    let ts = this.now();
    for (const name of await this.entryNames()) ts = Math.max(ts, Number(name.slice(0, 13)));
    const out: OutboxEntry[] = [];
    for (const target of targets) {
      const entry = this.makeEntry(payload, target, ts, undefined, run);
      await writeEntry(join(this.dir, `${entry.id}.json`), entry);
      out.push(entry);
    }
    return out;
  }

  /** Number of entries waiting (files, not validated). */
  async count(): Promise<number> {
    return (await this.entryNames()).length;
  }

  /**
   * Lists pending entries, oldest first. Unreadable files are skipped here; the next
   * {@link enqueue} or {@link flush} moves them to dead/ and reports them.
   */
  async pending(): Promise<OutboxEntry[]> {
    return this.withLock(async () => (await this.readEntries(false)).entries);
  }

  /** Lists dead letters, oldest first. */
  async deadLetters(): Promise<DeadLetter[]> {
    await this.prepare();
    const names = (await readdir(this.deadDir)).filter((n) => ENTRY_FILE.test(n)).sort();
    const out: DeadLetter[] = [];
    for (const name of names) {
      const file = join(this.deadDir, name);
      try {
        const doc = JSON.parse(await readFile(file, 'utf8')) as {
          entry?: OutboxEntry;
          dead: Omit<DeadLetter, 'id' | 'file' | 'entry'>;
        };
        out.push({ id: name.slice(0, -5), file, ...doc.dead, ...(doc.entry ? { entry: doc.entry } : {}) });
      } catch {
        out.push({ id: name.slice(0, -5), file, reason: 'unreadable dead letter', deadAt: 0 });
      }
    }
    return out;
  }

  /**
   * Stores `payload` for `target` straight in dead/ with the refusal's reason
   * (a payload the destination refused as invalid).
   */
  async deadLetter(
    payload: MetricsPayload,
    target: Target,
    why: { reason: string; status?: number; body?: string },
  ): Promise<DeadLetter> {
    return this.withLock(async () => {
      const entry = this.makeEntry(payload, target, this.now(), { error: why.reason, attempts: 1 });
      return this.moveToDead(entry, why);
    });
  }

  /**
   * Sends pending entries: per target oldest first, targets in parallel. A retryable failure
   * stops that target (later entries wait, so order holds); a refusal moves the entry to dead/
   * and the next one goes. Entries whose inline secrets the caller does not give wait.
   */
  async flush(opts: FlushOptions = {}): Promise<FlushReport> {
    return this.withLock(async () => {
      const report: FlushReport = {
        delivered: [],
        pending: [],
        deadLettered: [],
        superseded: [],
        corrupt: [],
        remaining: 0,
      };
      const read = await this.readEntries(true);
      report.corrupt.push(...read.corrupt);
      const { kept, waiting } = await this.checkRuns(read.entries, report);
      const entries = await this.supersede(kept, report.superseded);
      const byTarget = new Map<string, OutboxEntry[]>();
      for (const e of entries) {
        const list = byTarget.get(e.targetId) ?? [];
        list.push(e);
        byTarget.set(e.targetId, list);
      }
      await Promise.all([...byTarget.values()].map((list) => this.flushTarget(list, opts, report, waiting)));
      report.remaining = (await this.entryNames()).length;
      return report;
    });
  }

  /**
   * Sorts out entries written ahead of their run's history record: recorded ones (and
   * entries without a run) go on; one whose writer still runs waits; one whose writer ended
   * without recording the run is removed unsent and reported with the superseded.
   */
  private async checkRuns(
    entries: OutboxEntry[],
    report: FlushReport,
  ): Promise<{ kept: OutboxEntry[]; waiting: Map<string, string> }> {
    const waiting = new Map<string, string>();
    if (!entries.some((e) => e.runId !== undefined)) return { kept: entries, waiting };
    const recorded = await recordedRuns(
      this.stateDir,
      entries.flatMap((e) => (e.runId === undefined ? [] : [e.runId])),
    );
    const kept: OutboxEntry[] = [];
    for (const e of entries) {
      const runId = e.runId;
      // A rotation may have folded an old record into counts: an entry older than it is trusted.
      const isRotatedAway = recorded.rotatedAt !== undefined && e.enqueuedAt <= recorded.rotatedAt;
      if (runId === undefined || recorded.ids.has(runId) || isRotatedAway) {
        kept.push(e);
        continue;
      }
      const pid = e.writerPid;
      const isWriterAt =
        pid === process.pid ? runsInFlight.has(runId) : pid !== undefined && isProcessAlive(pid);
      if (isWriterAt) {
        waiting.set(e.id, `waits for process ${pid} to record run ${runId} in the history`);
        kept.push(e);
        continue;
      }
      await rm(join(this.dir, `${e.id}.json`), { force: true });
      report.superseded.push(
        event(
          e,
          `dropped unsent: its run ${runId} was never recorded in the history (the process ended between storing the metrics and recording the run)`,
        ),
      );
    }
    return { kept, waiting };
  }

  private async flushTarget(
    list: OutboxEntry[],
    opts: FlushOptions,
    report: FlushReport,
    waiting: ReadonlyMap<string, string>,
  ): Promise<void> {
    const send = opts.send ?? sendToTarget;
    const env = opts.sendOptions?.env ?? process.env;
    let blocked: string | undefined;
    for (const entry of list) {
      if (opts.signal?.aborted) {
        report.pending.push(event(entry, 'interrupted before sending'));
        continue;
      }
      if (blocked !== undefined) {
        report.pending.push(event(entry, blocked));
        continue;
      }
      const waitsFor = waiting.get(entry.id);
      if (waitsFor !== undefined) {
        blocked = `${targetLabel(entry)}: an earlier entry ${waitsFor}`;
        report.pending.push(event(entry, waitsFor));
        continue;
      }
      const resolved = await resolveTarget(entry, opts.credentials?.(entry.targetId), env);
      if (typeof resolved === 'string') {
        blocked = `${targetLabel(entry)} ${resolved}`;
        report.pending.push(event(entry, blocked));
        continue;
      }
      let retries = 0;
      const userOnRetry = opts.sendOptions?.onRetry;
      const sendOptions: SendOptions = {
        ...opts.sendOptions,
        ...(opts.signal ? { signal: opts.signal } : {}),
        onRetry: (info) => {
          retries++;
          userOnRetry?.(info);
        },
      };
      const at = this.now();
      try {
        await send(entry.payload, resolved, sendOptions);
        await rm(join(this.dir, `${entry.id}.json`), { force: true });
        report.delivered.push(event(entry));
      } catch (err) {
        const attempts = retries + 1;
        const reason = describeFailure(entry, err, attempts);
        if (isRefusal(err)) {
          const why = { reason, ...refusalData(err) };
          await this.moveToDead({ ...entry, attempts: entry.attempts + attempts, lastError: reason }, why);
          await rm(join(this.dir, `${entry.id}.json`), { force: true });
          report.deadLettered.push({ ...event(entry, reason), ...statusOf(err) });
          continue;
        }
        const updated: OutboxEntry = {
          ...entry,
          attempts: entry.attempts + attempts,
          firstError: entry.firstError ?? reason,
          lastError: reason,
          lastAttemptAt: at,
        };
        // Bookkeeping only (attempts, last error): if the rewrite fails, the original entry stays
        // whole and pending, and the reason is still reported below.
        await writeEntry(join(this.dir, `${entry.id}.json`), updated).catch(() => {});
        report.pending.push(event(entry, reason));
        blocked = reason;
      }
    }
  }

  /** Creates the folders (0700) once. */
  private async prepare(): Promise<void> {
    if (this.isPrepared) return;
    await mkdir(this.deadDir, { recursive: true, mode: 0o700 });
    this.isPrepared = true;
  }

  private makeEntry(
    payload: MetricsPayload,
    target: Target,
    ts: number,
    failure?: { error: string; attempts: number },
    run?: { runId: string },
  ): OutboxEntry {
    sequence = (sequence + 1) % 1_000_000;
    const id = `${String(ts).padStart(13, '0')}-${String(sequence).padStart(6, '0')}-${randomBytes(4).toString('hex')}`;
    const { target: stored, secretsFromCaller } = storeTarget(target);
    return {
      id,
      targetId: describeTarget(target),
      target: stored,
      payload: {
        text: payload.text,
        job: payload.job,
        grouping: { ...payload.grouping },
        method: payload.method ?? 'post',
        measuredAt: payload.measuredAt,
      },
      enqueuedAt: this.now(),
      attempts: failure?.attempts ?? 0,
      ...(failure ? { firstError: failure.error, lastError: failure.error, lastAttemptAt: this.now() } : {}),
      secretsFromCaller,
      ...(run ? { runId: run.runId, writerPid: process.pid } : {}),
    };
  }

  private async entryNames(): Promise<string[]> {
    await this.prepare();
    return (await readdir(this.dir)).filter((n) => ENTRY_FILE.test(n)).sort();
  }

  /** Reads every entry; moves unreadable ones to dead/ as corrupt when `moveCorrupt`. */
  private async readEntries(
    moveCorrupt: boolean,
  ): Promise<{ entries: OutboxEntry[]; corrupt: FlushReport['corrupt'] }> {
    const entries: OutboxEntry[] = [];
    const corrupt: FlushReport['corrupt'] = [];
    for (const name of await this.entryNames()) {
      const file = join(this.dir, name);
      let raw: Buffer;
      try {
        raw = await readFile(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      const parsed = parseEntry(raw, name.slice(0, -5));
      if (typeof parsed !== 'string') {
        entries.push(parsed);
        continue;
      }
      if (!moveCorrupt) continue;
      const id = name.slice(0, -5);
      const reason = `corrupt: ${parsed}`;
      await rename(file, join(this.deadDir, `${id}.corrupt`));
      await writeFileAtomic(
        join(this.deadDir, `${id}.json`),
        `${JSON.stringify({ format: OUTBOX_FORMAT, dead: { reason, deadAt: this.now(), rawFile: join(this.deadDir, `${id}.corrupt`) } }, null, 1)}\n`,
      );
      corrupt.push({ file, reason });
    }
    return { entries, corrupt };
  }

  /** Removes entries a newer PUT/DELETE/textfile entry of the same group replaces; returns the rest. */
  private async supersede(entries: OutboxEntry[], out: OutboxEvent[]): Promise<OutboxEntry[]> {
    const latestReplacing = new Map<string, OutboxEntry>();
    for (const e of entries) if (replacesGroup(e)) latestReplacing.set(groupKey(e), e);
    const kept: OutboxEntry[] = [];
    for (const e of entries) {
      const by = latestReplacing.get(groupKey(e));
      if (by && e.id < by.id) {
        await rm(join(this.dir, `${e.id}.json`), { force: true });
        out.push(event(e, `superseded by newer ${by.payload.method.toUpperCase()} entry ${by.id}`));
      } else kept.push(e);
    }
    return kept;
  }

  /** Drops the oldest entries (never those in `protect`) until the bounds hold. */
  private async enforceBounds(entries: OutboxEntry[], protect: Set<string>, result: EnqueueResult) {
    const sizes = new Map<string, number>();
    let bytes = 0;
    for (const e of entries) {
      const size = await stat(join(this.dir, `${e.id}.json`)).then(
        (s) => s.size,
        () => 0,
      );
      sizes.set(e.id, size);
      bytes += size;
    }
    let count = entries.length;
    for (const e of entries) {
      if (count <= this.maxEntries && bytes <= this.maxBytes) break;
      if (protect.has(e.id)) continue;
      const limit = count > this.maxEntries ? `${this.maxEntries} entries` : `${this.maxBytes} bytes`;
      await rm(join(this.dir, `${e.id}.json`), { force: true });
      count--;
      bytes -= sizes.get(e.id) ?? 0;
      const reason = `outbox full (limit ${limit}): dropped the oldest entry ${e.id} for ${e.targetId}, job ${e.payload.job}, enqueued ${new Date(e.enqueuedAt).toISOString()}`;
      result.dropped.push(event(e, reason));
      result.warnings.push(reason);
    }
    if (count > this.maxEntries || bytes > this.maxBytes) {
      result.warnings.push(
        `outbox over its limit (${count} entries, ${bytes} bytes) with only this run's entries; kept them`,
      );
    }
  }

  private async moveToDead(
    entry: OutboxEntry,
    why: { reason: string; status?: number; body?: string },
  ): Promise<DeadLetter> {
    const file = join(this.deadDir, `${entry.id}.json`);
    const dead = { ...why, deadAt: this.now() };
    await writeFileAtomic(file, `${JSON.stringify({ format: OUTBOX_FORMAT, dead, entry }, null, 1)}\n`);
    return { id: entry.id, file, ...dead, entry };
  }

  /**
   * Removes temp files whose writer is no longer running (a crash mid-write): in the outbox,
   * and in the state directory's own folders (history, locks, latest metrics, fallback textfiles).
   */
  private async cleanTempFiles(): Promise<void> {
    const s = this.stateDir;
    await removeDeadTempFiles([
      this.dir,
      this.deadDir,
      s,
      join(s, 'locks'),
      join(s, 'latest'),
      join(s, 'metrics'),
    ]);
  }
}

/** Serializes an entry with its checksum and writes it atomically (0600). */
async function writeEntry(file: string, entry: OutboxEntry): Promise<void> {
  const body = JSON.stringify(entry);
  const sha256 = createHash('sha256').update(body).digest('hex');
  // The entry is embedded as parsed JSON for people (jq); the checksum covers its canonical text.
  await writeFileAtomic(file, `{"format":"${OUTBOX_FORMAT}","sha256":"${sha256}","entry":${body}}\n`);
}

/** Parses an entry file; returns why when it is not a whole, valid entry. */
function parseEntry(raw: Buffer, id: string): OutboxEntry | string {
  let doc: { format?: unknown; sha256?: unknown; entry?: unknown };
  try {
    doc = JSON.parse(raw.toString('utf8')) as typeof doc;
  } catch {
    return `not valid JSON (${raw.length} bytes; torn or truncated write)`;
  }
  if (doc.format !== OUTBOX_FORMAT) return `unknown format ${JSON.stringify(doc.format)}`;
  const body = JSON.stringify(doc.entry);
  if (
    createHash('sha256')
      .update(body ?? '')
      .digest('hex') !== doc.sha256
  )
    return 'checksum mismatch';
  const e = doc.entry as OutboxEntry;
  if (e.id !== id || typeof e.payload?.text !== 'string' || typeof e.targetId !== 'string') {
    return 'entry fields missing or not matching the file name';
  }
  return e;
}

/** Copies a target without secret values; lists the secrets the caller must pass at flush. */
function storeTarget(target: Target): { target: StoredTarget; secretsFromCaller: string[] } {
  const secretsFromCaller: string[] = [];
  const { basicAuth, bearerToken, headers, ...rest } = target as Target & {
    basicAuth?: { username: string; password: SecretSource };
    bearerToken?: SecretSource;
    headers?: Record<string, string>;
  };
  const stored = { ...rest } as StoredTarget;
  const ref = (s: SecretSource, name: string): StoredSecret => {
    if ('file' in s) return { file: s.file };
    if ('env' in s) return { env: s.env };
    secretsFromCaller.push(name);
    return { fromCaller: true };
  };
  if (basicAuth) {
    stored.basicAuth = {
      username: basicAuth.username,
      password: ref(basicAuth.password, 'basicAuth.password'),
    };
  }
  if (bearerToken) stored.bearerToken = ref(bearerToken, 'bearerToken');
  if (headers) {
    const kept: Record<string, string> = {};
    for (const [k, v] of Object.entries(headers)) {
      if (isSecretHeader(k)) secretsFromCaller.push(`headers.${k}`);
      else kept[k] = v;
    }
    stored.headers = kept;
  }
  return { target: stored, secretsFromCaller };
}

/**
 * Rebuilds a sendable target from an entry and the caller's credentials; returns
 * why not when a secret is neither stored as a reference nor given by the caller.
 */
async function resolveTarget(
  entry: OutboxEntry,
  creds: Partial<HttpOptions> | undefined,
  env: NodeJS.ProcessEnv,
): Promise<Target | string> {
  const t = { ...entry.target } as Record<string, unknown> & StoredTarget;
  if (t.kind === 'textfile') return t as Target;
  const merged = t as unknown as Record<string, unknown>;
  if (creds?.basicAuth) merged.basicAuth = creds.basicAuth;
  if (creds?.bearerToken) merged.bearerToken = creds.bearerToken;
  const headers = { ...(t.headers ?? {}), ...(creds?.headers ?? {}) };
  if (Object.keys(headers).length > 0 || t.headers) merged.headers = headers;
  for (const name of entry.secretsFromCaller) {
    if (name.startsWith('headers.') && !(name.slice(8) in headers)) {
      return `needs header ${name.slice(8)} from the caller (it was given inline and is not stored)`;
    }
  }
  const secrets: [string, StoredSecret | SecretSource | undefined][] = [
    ['basic auth password', (merged.basicAuth as { password?: StoredSecret } | undefined)?.password],
    ['bearer token', merged.bearerToken as StoredSecret | undefined],
  ];
  for (const [what, s] of secrets) {
    if (!s) continue;
    if ('fromCaller' in s) return `needs the ${what} from the caller (it was given inline and is not stored)`;
    if ('env' in s && !env[s.env]) return `needs the ${what}: environment variable ${s.env} is not set`;
    if ('file' in s) {
      const ok = await access(s.file, constants.R_OK).then(
        () => true,
        () => false,
      );
      if (!ok) return `needs the ${what}: cannot read ${s.file}`;
    }
  }
  return merged as unknown as Target;
}

function groupKey(e: OutboxEntry): string {
  if (e.target.kind === 'textfile') return e.targetId;
  const grouping = Object.entries(e.payload.grouping).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${e.targetId}\u0000${e.payload.job}\u0000${JSON.stringify(grouping)}`;
}

/** True when sending this entry makes every older entry of its group irrelevant. */
function replacesGroup(e: OutboxEntry): boolean {
  if (e.target.kind === 'textfile') return true;
  // Samples are history: all of them go, in order.
  if (e.target.kind === 'remote-write' || e.target.kind === 'otlp') return false;
  const m: PushMethod = e.payload.method;
  return m === 'put' || m === 'delete';
}

function event(e: OutboxEntry, reason?: string): OutboxEvent {
  return {
    id: e.id,
    target: e.targetId,
    job: e.payload.job,
    grouping: e.payload.grouping,
    ...(reason === undefined ? {} : { reason }),
  };
}

/** A failure that retrying will not fix: a non-retryable refusal or invalid metrics. */
function isRefusal(err: unknown): boolean {
  if (err instanceof SinkError) return !err.isRetryable;
  return err instanceof InvalidMetricsError;
}

function refusalData(err: unknown): { status?: number; body?: string } {
  if (!(err instanceof SinkError)) return {};
  return {
    ...(err.status === undefined ? {} : { status: err.status }),
    ...(err.body === undefined ? {} : { body: err.body }),
  };
}

function statusOf(err: unknown): { status?: number } {
  return err instanceof SinkError && err.status !== undefined ? { status: err.status } : {};
}

/** A target for people: `gateway http://gw:9091`, `remote write https://...`, `textfile /path`. */
export function targetLabel(e: Pick<OutboxEntry, 'target' | 'targetId'>): string {
  const prefix = `${e.target.kind} `;
  const where = e.targetId.startsWith(prefix) ? e.targetId.slice(prefix.length) : e.targetId;
  return `${targetNoun(e.target)} ${where}`;
}

/** What people call a target kind in messages: `gateway`, `remote write`, `otlp`, `textfile`. */
export function targetNoun(t: { kind: string }): string {
  if (t.kind === 'pushgateway') return 'gateway';
  if (t.kind === 'remote-write') return 'remote write';
  return t.kind;
}

/** One line saying why sending an entry failed, naming the target; never a secret. */
export function describeFailure(
  entry: Pick<OutboxEntry, 'target' | 'targetId'>,
  err: unknown,
  attempts: number,
) {
  const who = targetLabel(entry);
  if (err instanceof SinkError && err.status !== undefined) {
    const body = (err.body ?? '').replace(/\s+/g, ' ').trim().slice(0, 300);
    return `${who} answered ${err.status}${body ? `: ${body}` : ''}${attempts > 1 ? ` after ${attempts} attempts` : ''}`;
  }
  if (err instanceof InvalidMetricsError) return `${who} refused: ${err.message}`;
  if (entry.target.kind === 'textfile') return `${who} not written: ${rootMessage(err)}`;
  if (!(err instanceof SinkError)) return `${who}: delivery failed (${rootMessage(err)})`;
  if (!err.message.startsWith('network error')) {
    // Timeouts, TLS trust, unreadable secrets: the sender's message says it best.
    return `${who}: ${err.message.replace(/ \(after \d+ attempts\)$/, '')}${attempts > 1 ? ` (after ${attempts} attempts)` : ''}`;
  }
  return `${who} unreachable after ${attempts} attempt${attempts === 1 ? '' : 's'} (${rootMessage(err)})`;
}

/** The innermost cause's message (e.g. `connect ECONNREFUSED 127.0.0.1:9`), secrets masked by the sender. */
function rootMessage(err: unknown): string {
  let e: unknown = err;
  for (let i = 0; i < 5; i++) {
    const c = (e as { cause?: unknown } | undefined)?.cause;
    if (c === undefined || c === null) break;
    e = c;
  }
  if (e instanceof AggregateError && e.errors[0] instanceof Error) e = e.errors[0];
  // Node says "socket hang up" for a connection closed before the answer.
  if ((e as { code?: unknown } | undefined)?.code === 'ECONNRESET') return 'the server closed the connection';
  const msg = e instanceof Error ? e.message : String(e);
  return msg.replace(/\/\/[^/@\s]*@/g, '//***@');
}
