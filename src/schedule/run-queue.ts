/**
 * The daemon's run queue: one queue per repository, so that runs of every kind on
 * one repository (a tier's backup with its forget, check, stats, verify) run one at
 * a time in the order they were asked for, while runs on different repositories run
 * side by side. A slot already queued or running is not queued again (the request is
 * counted as skipped). Stopping drops what waits, gives what runs a grace period,
 * then interrupts it.
 *
 * Pure: no I/O, no cron, no clock or timer of its own: the runner, the clock and the
 * grace timer are options, so it is tested alone and the daemon owns the rest (cron,
 * config, history, logging).
 */
import { findMissedRun } from './missed.js';
import type { ScheduledJob } from './plan.js';

/** Why a run started. */
export type RunTrigger = 'schedule' | 'missed';

/** One schedulable thing: a tier's backup, or a profile's check, stats or verify. */
export interface Slot {
  job: ScheduledJob;
  profile: string;
  /** Set for backups only. */
  tier?: string | undefined;
}

/** A run asked for: a slot and why. */
export interface QueuedRun extends Slot {
  trigger: RunTrigger;
}

/** A run that has started. */
export interface ActiveRun extends QueuedRun {
  /** When it started, Unix ms (the queue's clock). */
  startedAt: number;
  /** Aborted with reason `SIGINT` when the queue stops and the grace period is over. */
  signal: AbortSignal;
}

/** What the queue tells its owner (the daemon logs each). */
export type RunQueueEvent =
  /** The slot is already queued or running: this request is dropped and counted. */
  | { type: 'skipped'; run: QueuedRun; isRunning: boolean }
  /** Queued behind `behind`, which runs on the same repository. */
  | { type: 'waiting'; run: QueuedRun; behind: Slot }
  | { type: 'started'; run: ActiveRun }
  /** Dropped before it started: no longer runnable (`removed`) or the queue is stopping. */
  | { type: 'dropped'; run: QueuedRun; reason: 'removed' | 'stopping' }
  /** The runner threw (it should report its own failures; this is the last resort). */
  | { type: 'crashed'; run: ActiveRun; error: unknown }
  /** Stopping with runs in progress: waiting up to `graceMs` for them. */
  | { type: 'stopping'; running: readonly ActiveRun[]; graceMs: number }
  /** The grace period is over: this run is interrupted. */
  | { type: 'interrupting'; run: ActiveRun };

/** Options of {@link createRunQueue}. */
export interface RunQueueOptions {
  /** The repository a slot runs on: runs with the same key run one at a time. */
  repositoryOf(slot: Slot): string;
  /**
   * Runs one run; resolves when it has ended (recorded and reported). The queue's next
   * run on that repository starts after it.
   */
  run(run: ActiveRun): Promise<void>;
  /**
   * Asked when a queued run's turn comes: false drops it (e.g. removed from the config meanwhile).
   * @default always true
   */
  isRunnable?(slot: Slot): boolean;
  /** The clock, Unix ms. @default Date.now */
  now?: () => number;
  /**
   * Starts the grace timer; returns a function that cancels it.
   * @default setTimeout / clearTimeout
   */
  setTimer?: (fn: () => void, ms: number) => () => void;
  /** Told what happens, in order. */
  onEvent?: (event: RunQueueEvent) => void;
}

/** The queue; see {@link createRunQueue}. */
export interface RunQueue {
  /** Asks for a run; false when it was skipped (already queued or running) or the queue is stopping. */
  enqueue(slot: Slot, trigger: RunTrigger): boolean;
  /** True while the slot runs. */
  isRunning(slot: Slot): boolean;
  /** True while the slot waits for another run on its repository. */
  isQueued(slot: Slot): boolean;
  /** How many requests for the slot were skipped since the queue was made. */
  skippedCount(slot: Slot): number;
  /** Forgets the skip counts of slots other than these (after a reload removed some). */
  retainSkipCounts(slots: readonly Slot[]): void;
  /** The runs in progress. */
  running(): ActiveRun[];
  /** True once {@link RunQueue.stop} was called. */
  readonly isStopping: boolean;
  /**
   * Stops: drops every queued run, waits up to `graceMs` for the running ones, then
   * interrupts them (their signal is aborted with `SIGINT`) and waits for them to end.
   * A second call interrupts at once and resolves with the first.
   */
  stop(graceMs: number): Promise<void>;
}

/** A slot's identity: job, profile and tier. */
export function slotKey(s: Slot): string {
  return `${s.job}\u0000${s.profile}\u0000${s.tier ?? ''}`;
}

/** How a slot is named in log lines: `backup nfs/daily`, `check nfs`, `stats nfs`. */
export function slotName(s: Slot): string {
  return s.job === 'backup' ? `backup ${s.profile}/${s.tier ?? ''}` : `${s.job} ${s.profile}`;
}

interface Running extends ActiveRun {
  controller: AbortController;
  done: Promise<void>;
  isDone: boolean;
}

interface RepositoryQueue {
  active?: Running | undefined;
  pending: QueuedRun[];
}

const defaultTimer = (fn: () => void, ms: number) => {
  const t = setTimeout(fn, ms);
  return () => clearTimeout(t);
};

/** Makes an empty run queue. */
export function createRunQueue(opts: RunQueueOptions): RunQueue {
  const now = opts.now ?? Date.now;
  const setTimer = opts.setTimer ?? defaultTimer;
  const emit = (e: RunQueueEvent) => opts.onEvent?.(e);
  const queues = new Map<string, RepositoryQueue>();
  const skipped = new Map<string, number>();
  let isStopping = false;
  let stopping: Promise<void> | undefined;

  const actives = (): Running[] => [...queues.values()].flatMap((q) => (q.active ? [q.active] : []));
  const findActive = (slot: Slot): Running | undefined => {
    const k = slotKey(slot);
    return actives().find((a) => slotKey(a) === k);
  };
  const isQueued = (slot: Slot): boolean => {
    const k = slotKey(slot);
    for (const q of queues.values()) if (q.pending.some((p) => slotKey(p) === k)) return true;
    return false;
  };

  function pump(repository: string, q: RepositoryQueue): void {
    while (!q.active && !isStopping) {
      const next = q.pending.shift();
      if (!next) break;
      if (opts.isRunnable && !opts.isRunnable(next)) {
        emit({ type: 'dropped', run: next, reason: 'removed' });
        if (q.pending.length === 0) queues.delete(repository);
        continue;
      }
      const controller = new AbortController();
      const active: Running = {
        ...next,
        startedAt: now(),
        signal: controller.signal,
        controller,
        done: Promise.resolve(),
        isDone: false,
      };
      q.active = active;
      emit({ type: 'started', run: active });
      active.done = (async () => {
        try {
          await opts.run(active);
        } catch (error) {
          emit({ type: 'crashed', run: active, error });
        } finally {
          active.isDone = true;
          q.active = undefined;
          // An idle repository leaves nothing behind (a daemon of many reloads stays small).
          if (q.pending.length === 0) queues.delete(repository);
          else pump(repository, q);
        }
      })();
    }
  }

  function enqueue(slot: Slot, trigger: RunTrigger): boolean {
    if (isStopping) return false;
    const run: QueuedRun = { job: slot.job, profile: slot.profile, tier: slot.tier, trigger };
    const running = findActive(slot);
    if (running || isQueued(slot)) {
      const k = slotKey(slot);
      skipped.set(k, (skipped.get(k) ?? 0) + 1);
      emit({ type: 'skipped', run, isRunning: running !== undefined });
      return false;
    }
    const repository = opts.repositoryOf(slot);
    let q = queues.get(repository);
    if (!q) {
      q = { pending: [] };
      queues.set(repository, q);
    }
    q.pending.push(run);
    if (q.active) emit({ type: 'waiting', run, behind: q.active });
    pump(repository, q);
    return true;
  }

  async function stopNow(graceMs: number): Promise<void> {
    for (const q of queues.values())
      for (const p of q.pending.splice(0)) emit({ type: 'dropped', run: p, reason: 'stopping' });
    const running = actives();
    if (running.length === 0) return;
    emit({ type: 'stopping', running, graceMs });
    let cancel: (() => void) | undefined;
    const isDone = await Promise.race([
      Promise.all(running.map((a) => a.done)).then(() => true),
      new Promise<boolean>((resolve) => {
        cancel = setTimer(() => resolve(false), graceMs);
      }),
    ]);
    cancel?.();
    if (!isDone) {
      for (const a of running) {
        // One that ended within the grace period is not named as interrupted.
        if (a.isDone || a.signal.aborted) continue;
        emit({ type: 'interrupting', run: a });
        a.controller.abort('SIGINT');
      }
      await Promise.all(running.map((a) => a.done));
    }
  }

  return {
    enqueue,
    isRunning: (slot) => findActive(slot) !== undefined,
    isQueued,
    skippedCount: (slot) => skipped.get(slotKey(slot)) ?? 0,
    retainSkipCounts(slots) {
      const keep = new Set(slots.map(slotKey));
      for (const k of skipped.keys()) if (!keep.has(k)) skipped.delete(k);
    },
    running: () => actives().map(({ controller: _c, done: _d, isDone: _i, ...run }) => run),
    get isStopping() {
      return isStopping;
    },
    stop(graceMs) {
      if (stopping) {
        // A second stop (a second SIGTERM): interrupt now.
        for (const a of actives()) a.controller.abort('SIGINT');
        return stopping;
      }
      isStopping = true;
      stopping = stopNow(graceMs);
      return stopping;
    },
  };
}

/** One tier for {@link findCatchUpRuns}. */
export interface CatchUpTier {
  profile: string;
  tier: string;
  /** Its cron expression. */
  schedule: string;
  /** When its last run (any outcome) started, Unix ms; undefined when it never ran. */
  lastRunAt: number | undefined;
}

/**
 * The tiers that missed a scheduled backup while the daemon was down, with the time
 * they missed (see {@link findMissedRun}: a tier that never ran missed nothing), in
 * the order given.
 */
export function findCatchUpRuns(
  tiers: readonly CatchUpTier[],
  now: number,
  timezone: string | undefined,
): { slot: Slot; missedAt: number }[] {
  const out: { slot: Slot; missedAt: number }[] = [];
  for (const t of tiers) {
    const missedAt = findMissedRun({
      schedule: t.schedule,
      ...(timezone ? { timezone } : {}),
      lastRunAt: t.lastRunAt,
      now,
    });
    if (missedAt !== undefined)
      out.push({ slot: { job: 'backup', profile: t.profile, tier: t.tier }, missedAt });
  }
  return out;
}
