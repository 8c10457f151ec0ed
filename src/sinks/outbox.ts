/**
 * The durable outbox: payloads waiting for a destination, one file per payload and
 * target under `<stateDir>/outbox/`, so a run's metrics survive an outage, a reboot
 * or a `kill -9`.
 *
 * Layout:
 * - `outbox/<13-digit ms>-<6-digit seq>-<8 hex>.json`: one entry; names sort in enqueue order.
 * - `outbox/dead/<id>.json`: a dead letter (the entry plus why: status and body); a corrupt
 *   entry's bytes, or anything else that was found in the outbox, sit beside it as `dead/<id>.corrupt`.
 * - `outbox/.lock`: the pid of the process delivering right now.
 * - `outbox/.<name>.<pid>.<hex>.tmp`: a file being written; ignored, removed once its writer is gone.
 * - `<stateDir>/delivered.json`: per destination and run scope, the last run confirmed delivered
 *   (`outbox/confirmed.ts`); a recorded run without one and without an entry is re-queued from
 *   the latest metrics (`outbox/requeue.ts`).
 *
 * Invariants: entries of one target and group (job + grouping) go oldest first; a newer
 * PUT or DELETE (or a textfile write) supersedes older entries of its group; an entry is never
 * sent after a newer one of its group succeeded; a refused (non-retryable) entry moves to dead/
 * without blocking later ones; bounds drop the oldest with a warning; anything that is not a
 * regular, well-formed entry moves to dead/ with a warning. Nothing is dropped without a line
 * in the returned report.
 *
 * The parts: `outbox/entry.ts` (the file format), `outbox/store.ts` (the files),
 * `outbox/policy.ts` (superseding, bounds), `outbox/secrets.ts` (what is stored of a target,
 * what is re-resolved at flush), `outbox/run-commit.ts` (the store-record-send protocol of a
 * run), `outbox/confirmed.ts` and `outbox/requeue.ts` (what was delivered, and re-queuing what
 * was lost), `outbox/wording.ts` (failure lines); this class puts them together under the lock.
 */
import { join } from 'node:path';
import { errorText, InvalidMetricsError, LockBusyError, OutboxBusyError, SinkError } from '../errors.js';
import type { ParsedFamily } from '../metrics/exposition.js';
import { removeDeadTempFiles } from '../state/dir.js';
import { lastRecordedRuns } from '../state/history.js';
import { readLatestEntries } from '../state/latest.js';
import { acquireLockFile, type HeldLock } from '../state/lock.js';
import { toBatch } from './batch.js';
import { confirm, readConfirmations, writeConfirmations } from './outbox/confirmed.js';
import {
  entryEvent,
  entryIdTime,
  newEntryId,
  type OutboxEntry,
  type OutboxEvent,
  type RunScopeRef,
} from './outbox/entry.js';
import { findOverflow, findSuperseded, groupKey } from './outbox/policy.js';
import { planRequeues, type RequeueSource } from './outbox/requeue.js';
import { judgeRuns } from './outbox/run-commit.js';
import { type CurrentSettings, resolveTarget, storeTarget } from './outbox/secrets.js';
import { type CorruptFile, type DeadLetter, OutboxStore } from './outbox/store.js';
import { describeFailure, targetLabel } from './outbox/wording.js';
import { sinkFor } from './sink.js';
import { describeTarget } from './target.js';
import type { HttpOptions, MetricsPayload, SendOptions, Target } from './types.js';

export {
  OUTBOX_FORMAT,
  type OutboxEntry,
  type OutboxEvent,
  type RunScopeRef,
  type StoredSecret,
  type StoredTarget,
} from './outbox/entry.js';
export type { RequeueRoute, RequeueSource } from './outbox/requeue.js';
export { withRunInFlight } from './outbox/run-commit.js';
export { isSecretHeader } from './outbox/secrets.js';
export type { CorruptFile, DeadLetter } from './outbox/store.js';
export { describeFailure, targetLabel, targetNoun } from './outbox/wording.js';

/** Default bound on the number of pending entries. */
export const DEFAULT_MAX_ENTRIES = 1000;
/** Default bound on the total size of pending entries: 50 MiB. */
export const DEFAULT_MAX_BYTES = 50 * 1024 * 1024;

/** What a flush did. Every entry it touched is in exactly one list. */
export interface FlushReport {
  delivered: OutboxEvent[];
  /** Still waiting (target down, credentials missing, interrupted). */
  pending: OutboxEvent[];
  /** Refused by the destination as invalid; moved to dead/. */
  deadLettered: OutboxEvent[];
  /** Replaced by a newer PUT/DELETE/textfile entry of the same group; removed unsent. */
  superseded: OutboxEvent[];
  /** Files that were not usable entries, moved to dead/. */
  corrupt: CorruptFile[];
  /** Recorded runs re-queued from the latest metrics (their entry was lost), before sending. */
  requeued: OutboxEvent[];
  /** Lines about what could not be re-queued or read, for people. */
  warnings: string[];
  /** Entries left in the outbox afterwards. */
  remaining: number;
}

/** What {@link Outbox.requeue} did. */
export interface RequeueReport {
  requeued: OutboxEvent[];
  /** Files found on the way that were not usable entries, moved to dead/. */
  corrupt: CorruptFile[];
  warnings: string[];
}

/** A run an entry belongs to: its id, and what ran (for the delivery confirmation). */
export interface EntryRun {
  runId: string;
  runScope?: RunScopeRef;
}

/** A report of a flush that did nothing. */
export function emptyFlushReport(): FlushReport {
  return {
    delivered: [],
    pending: [],
    deadLettered: [],
    superseded: [],
    corrupt: [],
    requeued: [],
    warnings: [],
    remaining: 0,
  };
}

/** What an enqueue did. */
export interface EnqueueResult {
  entries: OutboxEntry[];
  superseded: OutboxEvent[];
  /** Oldest entries dropped to stay within the bounds. */
  dropped: OutboxEvent[];
  /** Files found on the way that were not usable entries, moved to dead/. */
  corrupt: CorruptFile[];
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

/** Sends one payload to one target; `sendToTarget` unless a test swaps it. */
export type SendFunction = (payload: MetricsPayload, target: Target, opts: SendOptions) => Promise<void>;

/** Options of {@link Outbox.flush}. */
export interface FlushOptions {
  /** Passed to every send (fetch, env, sleep, onRetry...). */
  sendOptions?: SendOptions;
  /**
   * The flushing process's own targets (from its config or flags): an entry for one of them is
   * sent with these settings instead of the stored ones. @default none
   */
  targets?: Target[];
  /** Credentials for a target id, for secrets that were given inline and not stored. */
  credentials?: (targetId: string) => Partial<HttpOptions> | undefined;
  /** Stops after the entry in flight; the rest stays pending. */
  signal?: AbortSignal;
  /** The sender. @default the destination's sink */
  send?: SendFunction;
  /** Families already parsed for a payload text (the one just enqueued), so it is not parsed again. */
  parsed?: { text: string; families: ParsedFamily[] };
  /**
   * Where the flushing process's config sends each run scope: with it, recorded runs whose
   * metrics were not confirmed delivered are re-queued first (see `outbox/requeue.ts`).
   * @default none (nothing re-queued)
   */
  requeue?: RequeueSource;
}

/** One entry for `outbox list`: the entry and, when it waits on an earlier failure, that failure. */
export interface ListedEntry {
  entry: OutboxEntry;
  /** `pending` waits to be sent; `dead` was refused or unreadable. */
  state: 'pending' | 'dead';
  /** The last error, or why it is dead. */
  reason?: string;
}

/**
 * What may be done with the outbox while its lock is held (the argument of
 * {@link Outbox.withLock}'s callback): the same as the methods of that name, without taking
 * the lock again.
 */
export interface HeldOutbox {
  requeue(source: RequeueSource): Promise<RequeueReport>;
  enqueue(
    payload: MetricsPayload,
    targets: Target[],
    failure?: { error: string; attempts: number },
    run?: EntryRun,
  ): Promise<EnqueueResult>;
  flush(opts?: FlushOptions): Promise<FlushReport>;
}

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
  private readonly files: OutboxStore;
  /** The current settings of the targets of re-queued entries (from the config that re-queued them). */
  private readonly requeuedTargets = new Map<string, Target>();

  constructor(opts: OutboxOptions) {
    this.stateDir = opts.stateDir;
    this.now = opts.now ?? Date.now;
    this.files = new OutboxStore(join(opts.stateDir, 'outbox'), this.now);
    this.dir = this.files.dir;
    this.deadDir = this.files.deadDir;
    this.maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
    this.lockTimeoutMs = opts.lockTimeoutMs ?? 60_000;
  }

  /**
   * Runs `fn` holding the outbox lock; `fn` gets the operations that need the lock, to call
   * without locking again. (An explicit argument rather than an AsyncLocalStorage: that
   * enables node's promise hooks for the rest of the process, which made every `await` of a
   * run slower: 12 ms of a warm backup's ~110, BENCHMARKS.md.)
   * @throws {OutboxBusyError} when another live process holds it past `lockTimeoutMs`.
   */
  async withLock<T>(fn: (held: HeldOutbox) => Promise<T>): Promise<T> {
    await this.files.prepare();
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
      await this.cleanTempFiles();
      return await fn(this.held);
    } finally {
      await lock.release();
    }
  }

  private readonly held: HeldOutbox = {
    requeue: (source) => this.requeueHeld(source),
    enqueue: (payload, targets, failure, run) => this.enqueueHeld(payload, targets, failure, run),
    flush: (opts) => this.flushHeld(opts),
  };

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
    run?: EntryRun,
  ): Promise<EnqueueResult> {
    return this.withLock(() => this.enqueueHeld(payload, targets, failure, run));
  }

  private async enqueueHeld(
    payload: MetricsPayload,
    targets: Target[],
    failure?: { error: string; attempts: number },
    run?: EntryRun,
  ): Promise<EnqueueResult> {
    const existing = await this.files.readAll(true);
    let ts = this.now();
    for (const e of existing.entries) ts = Math.max(ts, entryIdTime(e.id));
    const result: EnqueueResult = {
      entries: [],
      superseded: [],
      dropped: [],
      corrupt: existing.corrupt,
      warnings: existing.corrupt.map((c) => quarantineWarning(c, this.deadDir)),
    };
    for (const target of targets) {
      const entry = this.makeEntry(payload, target, ts, failure, run);
      await this.files.write(entry);
      result.entries.push(entry);
    }
    const all = [...existing.entries, ...result.entries];
    // Entries of a run not yet recorded must not remove recorded ones: if the run never
    // gets recorded they are dropped, and the older entries would be lost with them.
    const kept = run ? all : await this.supersede(all, result.superseded);
    await this.enforceBounds(kept, new Set(result.entries.map((e) => e.id)), result);
    return result;
  }

  /**
   * Writes one entry per target WITHOUT the lock: no superseding, no bounds (the next
   * flush applies superseding, the next enqueue the bounds). For when another process
   * holds the lock too long; the entries sort after everything already stored.
   */
  async store(payload: MetricsPayload, targets: Target[], run?: EntryRun): Promise<OutboxEntry[]> {
    const ts = Math.max(this.now(), await this.files.newestTime());
    const out: OutboxEntry[] = [];
    for (const target of targets) {
      const entry = this.makeEntry(payload, target, ts, undefined, run);
      await this.files.write(entry);
      out.push(entry);
    }
    return out;
  }

  /** Number of entries waiting (regular files with an entry's name; not opened). */
  async count(): Promise<number> {
    return (await this.files.entryNames()).length;
  }

  /**
   * Lists pending entries, oldest first. Unusable files are skipped here; the next
   * {@link enqueue} or {@link flush} moves them to dead/ and reports them.
   */
  async pending(): Promise<OutboxEntry[]> {
    return this.withLock(async () => (await this.files.readAll(false)).entries);
  }

  /** Lists dead letters, oldest first. */
  async deadLetters(): Promise<DeadLetter[]> {
    return this.files.deadLetters();
  }

  /**
   * Moves a dead letter back into the outbox to be sent again by the next flush (its attempt
   * count reset). Returns the entry, or undefined when no dead letter with an entry has this id.
   */
  async retry(id: string): Promise<OutboxEntry | undefined> {
    return this.withLock(() => this.files.revive(id));
  }

  /**
   * Removes a pending entry or a dead letter for good. Returns what it was, or undefined when
   * nothing has this id.
   */
  async drop(id: string): Promise<'pending' | 'dead' | undefined> {
    return this.withLock(async () => {
      const pending = (await this.files.entryNames()).includes(`${id}.json`);
      if (pending) {
        await this.files.remove(id);
        return 'pending';
      }
      return (await this.files.removeDead(id)) ? 'dead' : undefined;
    });
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
      return this.files.moveToDead(entry, why);
    });
  }

  /**
   * Sends pending entries: per target oldest first, targets in parallel. A retryable failure
   * stops that target (later entries wait, so order holds); a refusal moves the entry to dead/
   * and the next one goes. An entry is sent with the flushing process's own settings for its
   * target when it has them (see `outbox/secrets.ts`); entries that cannot be resolved wait.
   */
  async flush(opts: FlushOptions = {}): Promise<FlushReport> {
    return this.withLock(() => this.flushHeld(opts));
  }

  private async flushHeld(opts: FlushOptions = {}): Promise<FlushReport> {
    const report = emptyFlushReport();
    const read = await this.files.readAll(true);
    report.corrupt.push(...read.corrupt);
    const judged = await judgeRuns(this.stateDir, read.entries);
    for (const { entry, reason } of judged.orphans) {
      await this.files.remove(entry.id);
      report.superseded.push(entryEvent(entry, reason));
    }
    const ready = opts.requeue
      ? [...judged.ready, ...(await this.requeueInto(judged.ready, judged.waiting, opts.requeue, report))]
      : judged.ready;
    const entries = await this.supersede(ready, report.superseded);
    const byTarget = new Map<string, OutboxEntry[]>();
    for (const e of entries) {
      const list = byTarget.get(e.targetId) ?? [];
      list.push(e);
      byTarget.set(e.targetId, list);
    }
    const own = new Map((opts.targets ?? []).map((t) => [describeTarget(t), t]));
    const current: CurrentSettings = {
      stateDir: this.stateDir,
      target: (id) => own.get(id),
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
    };
    const settled: Settled[] = [];
    await Promise.all(
      [...byTarget.values()].map((list) =>
        this.flushTarget(list, opts, current, report, judged.waiting, settled),
      ),
    );
    await this.recordSettled(settled, report);
    report.remaining = await this.count();
    return report;
  }

  /**
   * Re-queues the recorded runs whose metrics were not confirmed delivered to a destination
   * `source` gives them and have no entry waiting (see `outbox/requeue.ts`), without sending.
   * For a run's delivery, before its own entries are stored.
   */
  async requeue(source: RequeueSource): Promise<RequeueReport> {
    return this.withLock(() => this.requeueHeld(source));
  }

  private async requeueHeld(source: RequeueSource): Promise<RequeueReport> {
    const read = await this.files.readAll(true);
    const judged = await judgeRuns(this.stateDir, read.entries);
    const out = { requeued: [] as OutboxEvent[], warnings: [] as string[] };
    await this.requeueInto(judged.ready, judged.waiting, source, out);
    return { ...out, corrupt: read.corrupt };
  }

  /** Writes the entries {@link planRequeues} decides on; returns them. */
  private async requeueInto(
    pending: OutboxEntry[],
    waiting: ReadonlyMap<string, string>,
    source: RequeueSource,
    out: { requeued: OutboxEvent[]; warnings: string[] },
  ): Promise<OutboxEntry[]> {
    const [latest, lastRuns, confirmed] = await Promise.all([
      readLatestEntries(this.stateDir),
      lastRecordedRuns(this.stateDir),
      readConfirmations(this.stateDir),
    ]);
    out.warnings.push(...latest.warnings, ...(confirmed.warning ? [confirmed.warning] : []));
    const plan = planRequeues({
      stateDir: this.stateDir,
      latest: latest.entries,
      lastRuns,
      confirmations: confirmed.confirmations,
      pending,
      waiting: new Set(waiting.keys()),
      source,
    });
    out.warnings.push(...plan.warnings);
    let ts = this.now();
    for (const e of pending) ts = Math.max(ts, entryIdTime(e.id));
    const written: OutboxEntry[] = [];
    for (const r of plan.requeues) {
      const entry: OutboxEntry = {
        ...this.makeEntry(r.payload, r.target, ts, undefined, { runId: r.runId, runScope: r.runScope }),
        isRequeued: true,
      };
      await this.files.write(entry);
      this.requeuedTargets.set(entry.id, r.target);
      written.push(entry);
      out.requeued.push(entryEvent(entry, r.reason));
    }
    return written;
  }

  /** Confirms the runs whose entries a destination accepted or refused (`outbox/confirmed.ts`). */
  private async recordSettled(settled: Settled[], report: FlushReport): Promise<void> {
    if (!settled.some((s) => s.entry.runId !== undefined && s.entry.runScope !== undefined)) return;
    const read = await readConfirmations(this.stateDir);
    if (!confirm(this.stateDir, read.confirmations, settled)) return;
    // Bookkeeping: if it fails, the next flush re-sends these runs' latest metrics once.
    await writeConfirmations(this.stateDir, read.confirmations).catch((err: unknown) => {
      report.warnings.push(`could not record the delivery confirmations: ${errorText(err)}`);
    });
  }

  /**
   * Sends one target's entries in order. A failure of the target itself (unreachable, 5xx, a
   * setting the flushing process gave) holds back the target's later entries; a failure that
   * belongs to the entry (its stored settings, a secret only it names) holds back only the
   * later entries of its group, so order within a group holds and nothing else waits on it.
   */
  private async flushTarget(
    list: OutboxEntry[],
    opts: FlushOptions,
    current: CurrentSettings,
    report: FlushReport,
    waiting: ReadonlyMap<string, string>,
    settled: Settled[],
  ): Promise<void> {
    let blocked: string | undefined;
    const blockedGroups = new Map<string, string>();
    for (const entry of list) {
      const group = groupKey(entry);
      if (opts.signal?.aborted) {
        report.pending.push(entryEvent(entry, 'interrupted before sending'));
        continue;
      }
      const held = blocked ?? blockedGroups.get(group);
      if (held !== undefined) {
        report.pending.push(entryEvent(entry, held));
        continue;
      }
      const waitsFor = waiting.get(entry.id);
      if (waitsFor !== undefined) {
        blocked = `${targetLabel(entry)}: an earlier entry ${waitsFor}`;
        report.pending.push(entryEvent(entry, waitsFor));
        continue;
      }
      const requeuedTarget = this.requeuedTargets.get(entry.id);
      const isOwn = requeuedTarget !== undefined || current.target?.(entry.targetId) !== undefined;
      const resolved = requeuedTarget ?? resolveTarget(entry, current);
      if (typeof resolved === 'string') {
        const reason = `${targetLabel(entry)} ${resolved}`;
        blockedGroups.set(group, `waits behind entry ${entry.id} of its group: ${reason}`);
        report.pending.push(entryEvent(entry, reason));
        continue;
      }
      const at = this.now();
      try {
        await this.send(entry, resolved, opts);
        await this.files.remove(entry.id);
        report.delivered.push(entryEvent(entry));
        settled.push({ entry, at: this.now() });
      } catch (err) {
        const attempts = err instanceof SinkError ? err.attempts : 1;
        const reason = describeFailure(entry, err);
        if (isRefusal(err)) {
          const why = { reason, ...refusalData(err) };
          await this.files.moveToDead(
            { ...entry, attempts: entry.attempts + attempts, lastError: reason },
            why,
          );
          await this.files.remove(entry.id);
          report.deadLettered.push({ ...entryEvent(entry, reason), ...refusalStatus(err) });
          settled.push({ entry, at: this.now(), isRefused: true });
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
        await this.files.write(updated).catch(() => {});
        report.pending.push(entryEvent(entry, reason));
        if (!isOwn && isEntrySetupFailure(err)) {
          blockedGroups.set(group, `waits behind entry ${entry.id} of its group: ${reason}`);
        } else blocked = reason;
      }
    }
  }

  /** Sends one entry: parsed once, through its sink (or the swapped sender). */
  private async send(entry: OutboxEntry, target: Target, opts: FlushOptions): Promise<void> {
    const sendOptions: SendOptions = { ...opts.sendOptions, ...(opts.signal ? { signal: opts.signal } : {}) };
    if (opts.send) return opts.send(entry.payload, target, sendOptions);
    const sink = sinkFor(target.kind);
    const families =
      opts.parsed?.text === entry.payload.text && entry.payload.method !== 'delete'
        ? opts.parsed.families
        : undefined;
    const batch = families
      ? { ...entry.payload, families }
      : toBatch(entry.payload, sink.refusesGroupingLabels);
    await sink.send(batch, target, sendOptions);
  }

  private makeEntry(
    payload: MetricsPayload,
    target: Target,
    ts: number,
    failure?: { error: string; attempts: number },
    run?: EntryRun,
  ): OutboxEntry {
    const { target: stored, secretsFromCaller } = storeTarget(target);
    return {
      id: newEntryId(ts),
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
      ...(run?.runScope ? { runScope: run.runScope } : {}),
    };
  }

  /** Removes entries a newer PUT/DELETE/textfile entry of the same group replaces; returns the rest. */
  private async supersede(entries: OutboxEntry[], out: OutboxEvent[]): Promise<OutboxEntry[]> {
    const { kept, superseded } = findSuperseded(entries);
    for (const { entry, by } of superseded) {
      await this.files.remove(entry.id);
      out.push(entryEvent(entry, `superseded by newer ${by.payload.method.toUpperCase()} entry ${by.id}`));
    }
    return kept;
  }

  /** Drops the oldest entries (never those in `protect`) until the bounds hold. */
  private async enforceBounds(entries: OutboxEntry[], protect: Set<string>, result: EnqueueResult) {
    const sized = [];
    for (const entry of entries) sized.push({ entry, size: await this.files.sizeOf(entry.id) });
    const over = findOverflow(sized, protect, { maxEntries: this.maxEntries, maxBytes: this.maxBytes });
    for (const { entry: e, limit } of over.drop) {
      await this.files.remove(e.id);
      const reason = `outbox full (limit ${limit}): dropped the oldest entry ${e.id} for ${e.targetId}, job ${e.payload.job}, enqueued ${new Date(e.enqueuedAt).toISOString()}`;
      result.dropped.push(entryEvent(e, reason));
      result.warnings.push(reason);
    }
    if (over.isOver) {
      result.warnings.push(
        `outbox over its limit (${over.count} entries, ${over.bytes} bytes) with only this run's entries; kept them`,
      );
    }
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

/** An entry a destination accepted or refused in a flush. */
interface Settled {
  entry: OutboxEntry;
  at: number;
  isRefused?: boolean;
}

/** The warning line of a file moved out of the outbox. */
export function quarantineWarning(c: CorruptFile, deadDir: string): string {
  return `moved ${c.file} to ${deadDir}: ${c.reason}`;
}

/** A failure of an entry's own settings (a TLS file, a secret), not of the destination. */
function isEntrySetupFailure(err: unknown): boolean {
  return err instanceof SinkError && (err.kind === 'setup' || err.kind === 'secret' || err.kind === 'tls');
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

function refusalStatus(err: unknown): { status?: number } {
  return err instanceof SinkError && err.status !== undefined ? { status: err.status } : {};
}
