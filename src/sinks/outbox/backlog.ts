/**
 * What waits in an outbox, for the status views (`resticprom status`, the daemon's
 * `/api/status`): read without the outbox's lock (entries are written by rename, so a
 * reader sees whole files; a status must not wait for a long flush), moving nothing,
 * and reduced to what a status needs (no payload text is kept).
 */

import { join } from 'node:path';
import { lstat, stat } from '../../state/io.js';
import { pushKey } from './policy.js';
import { OutboxStore } from './store.js';
import { targetLabel } from './wording.js';

/** One waiting entry, as a status sees it. */
export interface BacklogEntry {
  id: string;
  /** The destination for people, credentials masked: `gateway http://gw:9091`. */
  destination: string;
  /** Which push it is (job and grouping, see {@link pushKey}): ties it to a profile's tier. */
  pushKey: string;
  /** When it was stored, Unix ms. */
  enqueuedAt: number;
  /** Why its last attempt failed; absent when it was never tried (or waits on another entry). */
  lastError?: string;
  /** Unix ms of its last (failed) attempt. */
  lastAttemptAt?: number;
}

/** What {@link readBacklog} found. */
export interface Backlog {
  /** Entries waiting, oldest first (files that are not usable entries are left out). */
  pending: BacklogEntry[];
  /** One per dead letter: the push it was, or undefined for a file that was no entry. */
  dead: (string | undefined)[];
}

/** A destination whose deliveries are failing: entries wait for it and their last attempt failed. */
export interface FailingDestination {
  /** The destination for people, credentials masked: `gateway http://gw:9091`. */
  destination: string;
  /** Entries waiting for it. */
  pending: number;
  /** When the oldest of them was stored, Unix ms: what was measured since has not arrived. */
  since: number;
  /** When it was last tried, Unix ms. */
  lastAttemptAt: number;
  /** Why that attempt failed, one line (credentials masked). */
  lastError: string;
}

/**
 * Reads the entries and dead letters of the outbox of a state directory (`<stateDir>/outbox`),
 * oldest first; both empty when the folder does not exist.
 */
export async function readBacklog(stateDir: string): Promise<Backlog> {
  const dir = join(stateDir, 'outbox');
  const st = await lstat(dir).catch(() => undefined);
  if (!st?.isDirectory()) return { pending: [], dead: [] };
  const store = new OutboxStore(dir, Date.now);
  const { entries } = await store.readAll(false);
  const pending = entries.map(
    (e): BacklogEntry => ({
      id: e.id,
      destination: targetLabel(e),
      pushKey: pushKey(e.payload.job, e.payload.grouping),
      enqueuedAt: e.enqueuedAt,
      ...(e.lastError !== undefined ? { lastError: e.lastError } : {}),
      ...(e.lastAttemptAt !== undefined ? { lastAttemptAt: e.lastAttemptAt } : {}),
    }),
  );
  const dead = (await store.deadLetters()).map((d) =>
    d.entry ? pushKey(d.entry.payload.job, d.entry.payload.grouping) : undefined,
  );
  return { pending, dead };
}

/**
 * Reads an outbox's backlog again only when it changed: for a daemon whose status is asked
 * for every few seconds while hundreds of entries wait. Every change the outbox makes (an
 * entry stored, rewritten after an attempt, sent, moved to dead/) creates, renames or removes
 * a file, which changes its folder's modification time; a folder changed within the last
 * second is read again each time (a coarse file system clock can give two changes one time).
 */
export class BacklogReader {
  private last: { key: string; backlog: Backlog } | undefined;
  private readonly dir: string;

  /** @param stateDir the state directory whose `outbox/` it reads */
  constructor(private readonly stateDir: string) {
    this.dir = join(stateDir, 'outbox');
  }

  /** The backlog, as {@link readBacklog} reads it. */
  async read(): Promise<Backlog> {
    const folders = await Promise.all(
      [stat(this.dir), stat(join(this.dir, 'dead'))].map((p) => p.catch(() => undefined)),
    );
    const key = folders.map((st) => (st ? `${st.ino}:${st.mtimeMs}` : '-')).join('|');
    if (this.last?.key === key) return this.last.backlog;
    const backlog = await readBacklog(this.stateDir);
    const changed = Math.max(...folders.map((st) => st?.mtimeMs ?? 0));
    this.last = changed < Date.now() - 1000 ? { key, backlog } : undefined;
    return backlog;
  }
}

/**
 * The destinations whose deliveries are failing, in the order of their oldest waiting
 * entry: a destination with waiting entries whose most recent attempt failed. (An attempt
 * that succeeds removes its entry, so a waiting entry that was tried was tried in vain.)
 */
export function failingDestinations(pending: readonly BacklogEntry[]): FailingDestination[] {
  const by = new Map<string, FailingDestination>();
  const waiting = new Map<string, { count: number; since: number }>();
  for (const e of pending) {
    const w = waiting.get(e.destination) ?? { count: 0, since: e.enqueuedAt };
    w.count += 1;
    w.since = Math.min(w.since, e.enqueuedAt);
    waiting.set(e.destination, w);
    if (e.lastAttemptAt === undefined || e.lastError === undefined) continue;
    const seen = by.get(e.destination);
    if (!seen || e.lastAttemptAt >= seen.lastAttemptAt) {
      by.set(e.destination, {
        destination: e.destination,
        pending: 0,
        since: 0,
        lastAttemptAt: e.lastAttemptAt,
        lastError: e.lastError,
      });
    }
  }
  const out: FailingDestination[] = [];
  for (const [destination, w] of waiting) {
    const f = by.get(destination);
    if (f) out.push({ ...f, pending: w.count, since: w.since });
  }
  return out.sort((a, b) => a.since - b.since);
}
