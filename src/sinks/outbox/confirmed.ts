/**
 * Delivery confirmations, `<stateDir>/delivered.json` (mode 0600): per destination (target id)
 * and run scope (kind/profile/tier/job), the last run whose metrics that destination accepted,
 * or refused as invalid. The outbox re-queues a recorded run that has no confirmation and no
 * entry waiting (`outbox/requeue.ts`).
 *
 * Written under the outbox lock after each flush that settled an entry of a run; atomically,
 * not fsynced: a confirmation lost to a power loss costs one needless re-send of the latest
 * metrics, never a run. A file that is not a private regular file of ours, or does not parse,
 * counts as no confirmation (every scope's latest run is sent once more) and is replaced by
 * the next write.
 */
import { basename, join } from 'node:path';
import { errorText } from '../../errors.js';
import { readStateFile, writeFileAtomic } from '../../state/dir.js';
import { latestPath } from '../../state/latest.js';
import type { OutboxEntry, RunScopeRef } from './entry.js';

/** The last settled run of one scope at one destination. */
export interface Confirmation {
  /** The run (history record id). */
  runId: string;
  /** When the destination answered, Unix ms. */
  at: number;
  /** True when it refused the metrics (a dead letter): re-sending them would be refused again. */
  isRefused?: boolean;
}

/** Target id → scope key → confirmation. */
export type Confirmations = Record<string, Record<string, Confirmation>>;

/** What {@link readConfirmations} found. */
export interface ConfirmationsRead {
  confirmations: Confirmations;
  /** Why the file was not used, when it exists but was not. */
  warning?: string;
}

/** The confirmations file: `<stateDir>/delivered.json`. */
export function confirmationsPath(stateDir: string): string {
  return join(stateDir, 'delivered.json');
}

/** The key of a run scope: the name of its latest-metrics file (one home for that mapping). */
export function scopeKey(stateDir: string, scope: RunScopeRef & { job: string }): string {
  return basename(latestPath(stateDir, scope), '.json');
}

/** Reads the confirmations; a missing, foreign or malformed file is none (with a warning for the latter two). */
export async function readConfirmations(stateDir: string): Promise<ConfirmationsRead> {
  const file = confirmationsPath(stateDir);
  const raw = await readStateFile(file).catch((err: unknown) => ({
    refused: errorText(err),
  }));
  if (raw === undefined) return { confirmations: {} };
  if (!Buffer.isBuffer(raw)) {
    return { confirmations: {}, warning: `${file} not used (${raw.refused}); it is written anew` };
  }
  try {
    const doc = JSON.parse(raw.toString('utf8')) as { v?: unknown; targets?: unknown };
    if (doc.v === 1 && isConfirmations(doc.targets)) return { confirmations: doc.targets };
  } catch {
    // reported below
  }
  return { confirmations: {}, warning: `${file} is not a confirmations file; it is written anew` };
}

/**
 * Records that `entries` (entries of runs, others are ignored) were settled at their
 * destination: delivered, or refused with `isRefused`. Returns whether anything changed.
 */
export function confirm(
  stateDir: string,
  into: Confirmations,
  entries: readonly { entry: OutboxEntry; at: number; isRefused?: boolean }[],
): boolean {
  let isChanged = false;
  for (const { entry, at, isRefused } of entries) {
    if (entry.runId === undefined || entry.runScope === undefined) continue;
    const key = scopeKey(stateDir, { ...entry.runScope, job: entry.payload.job });
    const perTarget = into[entry.targetId] ?? {};
    into[entry.targetId] = perTarget;
    perTarget[key] = { runId: entry.runId, at, ...(isRefused ? { isRefused: true } : {}) };
    isChanged = true;
  }
  return isChanged;
}

/** Writes the confirmations (atomically, 0600, not fsynced: see the module comment). */
export async function writeConfirmations(stateDir: string, c: Confirmations): Promise<void> {
  await writeFileAtomic(confirmationsPath(stateDir), `${JSON.stringify({ v: 1, targets: c })}\n`, {
    mode: 0o600,
    isDurable: false,
  });
}

function isConfirmations(v: unknown): v is Confirmations {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  return Object.values(v).every(
    (perTarget) =>
      typeof perTarget === 'object' &&
      perTarget !== null &&
      Object.values(perTarget as Record<string, unknown>).every(
        (c) => typeof (c as Confirmation)?.runId === 'string' && typeof (c as Confirmation).at === 'number',
      ),
  );
}
