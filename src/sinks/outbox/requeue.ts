/**
 * Re-queuing a recorded run whose metrics were not confirmed delivered, so that losing an
 * outbox entry (quarantined as corrupt, deleted, never written on a full disk) costs at most
 * a retry, never a run.
 *
 * For each run scope (kind/profile/tier/job) with latest metrics under `latest/`: take the last
 * run the history records for it. For each destination the flushing process's config gives
 * that scope now, the run is re-queued when the destination has not confirmed it
 * (`outbox/confirmed.ts`) and no entry of that run, nor one whose writer is still recording
 * its run, waits for that destination and group. The new entry is a POST of the group's
 * metrics as of that run (the latest file's state of that run, see `state/latest.ts`), at the
 * run's end time, carrying the run's id, so it is sent after every older entry of its group.
 *
 * What is sent is never older than what was delivered: only recorded runs are ever sent, and
 * the run re-queued is the last one recorded. Per destination:
 * - Pushgateway: a POST replaces the same-named families of the group, so the group then
 *   shows what it would have shown had nothing been lost (families of the same group that
 *   another kind pushes, e.g. forget next to backup, are left alone).
 * - remote write: the samples of that state at the run's end time; Prometheus takes a sample
 *   sent twice with one timestamp and one value as one.
 * - textfile: the file is rewritten with that state.
 *
 * Not re-queued: a scope whose destination, job or grouping the config no longer has (its
 * metrics stay in `latest/`, served by the daemon; nothing is sent where the config does not
 * send), a `resticprom run` job (no config names its destinations), a flush without a config,
 * and a latest file written before runs were tracked in it (no `runId`).
 */
import type { LastRecordedRun } from '../../state/history.js';
import { type LatestMetricsEntry, latestStateOf } from '../../state/latest.js';
import { describeTarget, expandTargets } from '../target.js';
import type { Destination, MetricsPayload, Target } from '../types.js';
import { type Confirmations, scopeKey } from './confirmed.js';
import type { OutboxEntry, RunScopeRef } from './entry.js';
import { groupKey, groupKeyOf } from './policy.js';

/** Where a run scope's metrics go by the flushing process's config. */
export interface RequeueRoute {
  job: string;
  grouping: Record<string, string>;
  destinations: Destination[];
}

/**
 * The flushing process's routes: for a run scope, where its config sends that scope's metrics
 * now; undefined when it no longer has the scope (nothing is re-queued for it).
 */
export type RequeueSource = (scope: RunScopeRef & { job: string }) => RequeueRoute | undefined;

/** One entry to write. */
export interface Requeue {
  payload: Required<Pick<MetricsPayload, 'method'>> & MetricsPayload;
  target: Target;
  runId: string;
  runScope: RunScopeRef;
  /** Why, for the report. */
  reason: string;
}

/** What to re-queue, and the runs that cannot be (their latest metrics are of another run). */
export interface RequeuePlan {
  requeues: Requeue[];
  warnings: string[];
}

/** The inputs of {@link planRequeues}: what the state directory holds right now. */
export interface RequeueInputs {
  stateDir: string;
  latest: readonly LatestMetricsEntry[];
  lastRuns: readonly LastRecordedRun[];
  confirmations: Confirmations;
  /** Entries that wait (after orphans were dropped). */
  pending: readonly OutboxEntry[];
  /** Ids of entries whose writer is still recording their run. */
  waiting: ReadonlySet<string>;
  source: RequeueSource;
}

/** Decides what to re-queue (see the module comment); reads and writes nothing. */
export function planRequeues(inp: RequeueInputs): RequeuePlan {
  const plan: RequeuePlan = { requeues: [], warnings: [] };
  for (const l of inp.latest) {
    const scope: RunScopeRef = {
      kind: l.kind,
      ...(l.profile !== undefined ? { profile: l.profile } : {}),
      ...(l.tier !== undefined ? { tier: l.tier } : {}),
    };
    const last = inp.lastRuns.find(
      (r) => r.kind === l.kind && r.profile === l.profile && r.tier === l.tier && r.job === l.job,
    );
    if (!last || l.runId === undefined) continue;
    const route = inp.source({ ...scope, job: l.job });
    if (!route || groupKeyOf('', '', route.job, route.grouping) !== groupKeyOf('', '', l.job, l.grouping))
      continue;
    const key = scopeKey(inp.stateDir, { ...scope, job: l.job });
    const label = `${l.kind} ${l.profile ?? l.job}${l.tier !== undefined ? `/${l.tier}` : ''}`;
    const state = latestStateOf(l, last.id);
    for (const target of route.destinations.flatMap((d) => expandTargets(d))) {
      const targetId = describeTarget(target);
      if (inp.confirmations[targetId]?.[key]?.runId === last.id) continue;
      const group = groupKeyOf(target.kind, targetId, l.job, l.grouping);
      const isWaiting = inp.pending.some(
        (e) => groupKey(e) === group && (e.runId === last.id || inp.waiting.has(e.id)),
      );
      if (isWaiting) continue;
      if (!state) {
        plan.warnings.push(
          `run ${last.id} of ${label} was not confirmed delivered to ${targetId}, but cannot be re-queued: the latest metrics hold run ${l.runId}`,
        );
        continue;
      }
      plan.requeues.push({
        payload: {
          text: state.text,
          job: l.job,
          grouping: { ...l.grouping },
          method: 'post',
          measuredAt: last.endedAt,
        },
        target,
        runId: last.id,
        runScope: scope,
        reason: `re-queued run ${last.id} of ${label} from the latest metrics: ${targetId} has not confirmed it and no entry of it waits`,
      });
    }
  }
  return plan;
}
