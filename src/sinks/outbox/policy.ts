/**
 * The outbox's queue policy, as pure functions of the entries: which group an entry belongs
 * to, which newer entry supersedes which older ones, and which oldest entries go when the
 * bounds are exceeded. The per-destination rule (does a newer payload replace the group?)
 * comes from the destination's sink.
 */
import { sinkFor } from '../sink.js';
import type { OutboxEntry } from './entry.js';

/** The group of an entry: target, job and grouping (a textfile: the file). */
export function groupKey(e: OutboxEntry): string {
  return groupKeyOf(e.target.kind, e.targetId, e.payload.job, e.payload.grouping);
}

/** The group of a payload of `job` and `grouping` for a target of `kind` with id `targetId`. */
export function groupKeyOf(
  kind: string,
  targetId: string,
  job: string,
  grouping: Record<string, string>,
): string {
  if (kind === 'textfile') return targetId;
  const sorted = Object.entries(grouping).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${targetId}\u0000${job}\u0000${JSON.stringify(sorted)}`;
}

/** True when sending this entry makes every older entry of its group irrelevant. */
export function replacesGroup(e: OutboxEntry): boolean {
  return sinkFor(e.target.kind).replacesGroup(e.payload.method);
}

/** Splits entries into those kept and those a newer replacing entry of their group supersedes. */
export function findSuperseded(entries: OutboxEntry[]): {
  kept: OutboxEntry[];
  superseded: { entry: OutboxEntry; by: OutboxEntry }[];
} {
  const latestReplacing = new Map<string, OutboxEntry>();
  for (const e of entries) if (replacesGroup(e)) latestReplacing.set(groupKey(e), e);
  const kept: OutboxEntry[] = [];
  const superseded: { entry: OutboxEntry; by: OutboxEntry }[] = [];
  for (const e of entries) {
    const by = latestReplacing.get(groupKey(e));
    if (by && e.id < by.id) superseded.push({ entry: e, by });
    else kept.push(e);
  }
  return { kept, superseded };
}

/** Bounds of the outbox. */
export interface OutboxBounds {
  maxEntries: number;
  maxBytes: number;
}

/**
 * The oldest entries to drop (never those in `protect`) so that count and bytes stay within
 * the bounds; `isOver` is true when even then they do not (only protected entries remain).
 */
export function findOverflow(
  entries: { entry: OutboxEntry; size: number }[],
  protect: ReadonlySet<string>,
  bounds: OutboxBounds,
): { drop: { entry: OutboxEntry; limit: string }[]; count: number; bytes: number; isOver: boolean } {
  let count = entries.length;
  let bytes = entries.reduce((n, e) => n + e.size, 0);
  const drop: { entry: OutboxEntry; limit: string }[] = [];
  for (const { entry, size } of entries) {
    if (count <= bounds.maxEntries && bytes <= bounds.maxBytes) break;
    if (protect.has(entry.id)) continue;
    const limit = count > bounds.maxEntries ? `${bounds.maxEntries} entries` : `${bounds.maxBytes} bytes`;
    drop.push({ entry, limit });
    count--;
    bytes -= size;
  }
  return { drop, count, bytes, isOver: count > bounds.maxEntries || bytes > bounds.maxBytes };
}
