/**
 * The crash-safe store-record-send protocol of a run's metrics, in one place:
 *
 * 0. keep: the group's metrics as of this run are saved under `latest/` with the run's id,
 *    next to the state as of the last recorded run, fsynced (`state/latest.ts`);
 * 1. store: the run's entries are written to the outbox, each carrying the run's id, what ran
 *    and the writer's pid, fsynced;
 * 2. record: the run's history record is appended (the commit point);
 * 3. send: only then is anything sent; each destination's acceptance is written down
 *    (`outbox/confirmed.ts`).
 *
 * An entry lost after step 2 (quarantined as corrupt, deleted, never written on a full disk)
 * costs a retry, never the run: a flush or run with the config re-queues a recorded run that
 * has no confirmation and no entry waiting from the state step 0 kept (`outbox/requeue.ts`).
 *
 * A `kill -9` between 1 and 2 leaves entries of a run the history does not hold: the next
 * flush drops them unsent, so a gateway never shows a run the history lacks. A kill after 2
 * leaves a recorded run whose metrics wait in the outbox. While a writer is alive (another
 * process, or a run of this process between steps 1 and 2), its entries wait.
 *
 * This module owns the set of this process's runs between steps 1 and 2; nothing else
 * changes it.
 */
import { isProcessAlive } from '../../state/dir.js';
import { recordedRuns } from '../../state/history.js';
import type { OutboxEntry } from './entry.js';

const runsInFlight = new Set<string>();

/**
 * Runs `fn` with `runId` marked as being stored and recorded by this process: meanwhile a
 * flush in this process keeps the run's entries waiting instead of judging them unrecorded.
 */
export async function withRunInFlight<T>(runId: string, fn: () => Promise<T>): Promise<T> {
  runsInFlight.add(runId);
  try {
    return await fn();
  } finally {
    runsInFlight.delete(runId);
  }
}

/** How a flush must treat entries written ahead of their run's record. */
export interface RunJudgement {
  /** Entries that may be sent now (recorded, or not of a run). */
  ready: OutboxEntry[];
  /** Entries whose writer is still recording their run, with why they wait. */
  waiting: Map<string, string>;
  /** Entries of runs that were never recorded (their writer ended in between): drop unsent. */
  orphans: { entry: OutboxEntry; reason: string }[];
}

/** Sorts entries by the state of their run (see the module comment). */
export async function judgeRuns(stateDir: string, entries: OutboxEntry[]): Promise<RunJudgement> {
  const out: RunJudgement = { ready: [], waiting: new Map(), orphans: [] };
  if (!entries.some((e) => e.runId !== undefined)) return { ...out, ready: entries };
  const recorded = await recordedRuns(
    stateDir,
    entries.flatMap((e) => (e.runId === undefined ? [] : [e.runId])),
  );
  for (const e of entries) {
    const runId = e.runId;
    // A rotation may have folded an old record into counts: an entry older than it is trusted.
    const isRotatedAway = recorded.rotatedAt !== undefined && e.enqueuedAt <= recorded.rotatedAt;
    if (runId === undefined || recorded.ids.has(runId) || isRotatedAway) {
      out.ready.push(e);
      continue;
    }
    const pid = e.writerPid;
    const isWriterAt =
      pid === process.pid ? runsInFlight.has(runId) : pid !== undefined && isProcessAlive(pid);
    if (isWriterAt) {
      out.waiting.set(e.id, `waits for process ${pid} to record run ${runId} in the history`);
      out.ready.push(e);
      continue;
    }
    out.orphans.push({
      entry: e,
      reason: `dropped unsent: its run ${runId} was never recorded in the history (the process ended between storing the metrics and recording the run)`,
    });
  }
  return out;
}
