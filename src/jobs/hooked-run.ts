/**
 * What hooks and notifications add around a run's command, in order: the queued
 * notifications of earlier runs and the `start` event; the `run-before` hooks (one
 * failing means the command does not run); the command; `run-after` (success,
 * warning) or `run-after-fail` (failure; an interrupted run skips both);
 * `run-finally` (always, not stopped by the interruption); the end event. The job then
 * records and pushes the run with the hooks' time and the notification counters.
 */
import { randomUUID } from 'node:crypto';
import type { HookedRunKind, ProfileConfig } from '../config/types.js';
import { errorText } from '../errors.js';
import type { HookStage } from '../hooks/env.js';
import { DEFAULT_HOOK_TIMEOUT_MS, type HookResult, type PlannedHook, runHookStage } from '../hooks/run.js';
import type { Sample } from '../metrics/build.js';
import { hooksDurationMetric, NOTIFY_METRICS } from '../metrics/names.js';
import { addNotificationFailures } from '../notify/counters.js';
import {
  flushQueuedNotifications,
  type NotificationFlushReport,
  queueNotification,
} from '../notify/queue.js';
import { allReceivers, type Receiver, runReceivers } from '../notify/receivers.js';
import { notifyReceivers, type ReceiverOutcome } from '../notify/send.js';
import type { NotificationMessage } from '../notify/types.js';
import type { SendOptions } from '../sinks/target.js';
import type { RepositoryRun } from './repository-run.js';
import type { RunFacts } from './run-facts.js';

/** The commands of each stage for one run: the profile's, then the tier's. */
export type HookPlan = Record<HookStage, PlannedHook[]>;

const STAGES = [
  ['run-before', 'runBefore'],
  ['run-after', 'runAfter'],
  ['run-after-fail', 'runAfterFail'],
  ['run-finally', 'runFinally'],
] as const;

/** Plans the hooks of a `kind` run: the profile's commands of each stage, then the tier's. */
export function planHooks(profile: ProfileConfig, kind: HookedRunKind, tier?: string): HookPlan {
  const plan = emptyPlan();
  const profileTimeout = profile.hooks?.timeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS;
  const blocks = [
    { hooks: profile.hooks, timeoutMs: profileTimeout },
    ...(tier !== undefined && profile.tiers[tier]?.hooks
      ? [
          {
            hooks: profile.tiers[tier]?.hooks,
            timeoutMs: profile.tiers[tier]?.hooks?.timeoutMs ?? profileTimeout,
          },
        ]
      : []),
  ];
  for (const b of blocks) {
    if (!b.hooks?.for.includes(kind)) continue;
    for (const [stage, key] of STAGES) {
      for (const command of b.hooks[key]) plan[stage].push({ command, timeoutMs: b.timeoutMs });
    }
  }
  return plan;
}

function emptyPlan(): HookPlan {
  return { 'run-before': [], 'run-after': [], 'run-after-fail': [], 'run-finally': [] };
}

/** Options of {@link startHookedRun}. */
export interface HookedRunOptions {
  run: RepositoryRun;
  /** The configuration file, for `RESTICPROM_CONFIG`. */
  configFile: string;
  kind: HookedRunKind;
  tier?: string;
  /** Stops a running hook; `run-finally` still runs afterwards. */
  signal?: AbortSignal;
  /** Each line a hook prints, for the log (escape it). */
  onHookLine?: (hook: { stage: HookStage; index: number; label: string }, line: string) => void;
  /** Transport hooks for the notifications. */
  sendOptions?: SendOptions;
  /** Clock, Unix ms. @default Date.now */
  now?: () => number;
  /** No hooks and no notifications (a backup's own forget: they ran around the backup). @default false */
  isDisabled?: boolean;
}

/** What hooks and notifications did around one run. */
export interface HookedRunReport {
  /** Time spent in hooks, all stages, ms. */
  hooksDurationMs: number;
  /** Every hook that ran, in order. */
  hooks: HookResult[];
  /** Every notification sent (start and end), in order. */
  notifications: ReceiverOutcome[];
  /** What sending the queued notifications of earlier runs did. */
  queue?: NotificationFlushReport;
  /** Problems to show (a counter that could not be saved). */
  warnings: string[];
  /** The samples to push with the run: hook time, notification failures by type. */
  samples: (metricPrefix: string) => Sample[];
}

/** A run with its hooks and notifications; see the module comment for the order. */
export interface HookedRun {
  /** The run's facts so far (its id is the history record's and the Healthchecks `rid`). */
  facts: RunFacts;
  /** Sends queued notifications and `start`, runs `run-before`; resolves to the failing hook, if one failed. */
  begin(): Promise<HookResult | undefined>;
  /** Runs the after and finally hooks and sends the end event for the run's final facts. */
  end(facts: RunFacts): Promise<HookedRunReport>;
}

/** Prepares the hooks and notifications of one run. */
export function startHookedRun(opts: HookedRunOptions): HookedRun {
  const now = opts.now ?? Date.now;
  const r = opts.run;
  const plan = opts.isDisabled ? emptyPlan() : planHooks(r.profile, opts.kind, opts.tier);
  const receivers: Receiver[] = opts.isDisabled
    ? []
    : runReceivers(r.config, opts.kind, r.profileName, opts.tier);
  const hasHooks = Object.values(plan).some((l) => l.length > 0);
  const facts: RunFacts = {
    runId: randomUUID(),
    kind: opts.kind,
    profile: r.profileName,
    ...(opts.tier !== undefined ? { tier: opts.tier } : {}),
    host: r.config.hostname,
    configFile: opts.configFile,
    startedAt: now(),
  };
  const results: HookResult[] = [];
  const notifications: ReceiverOutcome[] = [];
  let hooksMs = 0;
  let queue: NotificationFlushReport | undefined;
  const sendOpts = { env: r.env, ...(opts.sendOptions ? { sendOptions: opts.sendOptions } : {}) };
  const hookOpts = {
    env: r.env,
    ...(opts.onHookLine ? { onLine: opts.onHookLine } : {}),
  };
  const stage = async (name: HookStage, f: RunFacts, signal?: AbortSignal) => {
    if (plan[name].length === 0) return undefined;
    const s = await runHookStage(name, plan[name], f, { ...hookOpts, ...(signal ? { signal } : {}) });
    results.push(...s.results);
    hooksMs += s.durationMs;
    return s.failed;
  };
  const tell = async (message: NotificationMessage) => {
    if (receivers.length === 0) return;
    // A late failure or warning still tells what happened; a late start or success
    // would make a missed run look on time to a dead man's switch: those are dropped.
    const isQueueable = message.event === 'failure' || message.event === 'warning';
    const out = await notifyReceivers(receivers, message, {
      ...sendOpts,
      onUndelivered: async (receiver, err) => {
        if (!isQueueable || !err.isRetryable) return false;
        await queueNotification(r.stateDir, receiver, message);
        return true;
      },
    });
    notifications.push(...out);
  };
  return {
    facts,
    async begin() {
      if (receivers.length > 0) {
        queue = await flushQueuedNotifications(r.stateDir, allReceivers(r.config), sendOpts).catch((err) => ({
          delivered: 0,
          pending: [`queued notifications not sent: ${errorText(err)}`],
          dead: [],
        }));
        await tell({ event: 'start', at: facts.startedAt, run: facts });
      }
      return stage('run-before', facts, opts.signal);
    },
    async end(final: RunFacts) {
      if (final.outcome === 'success' || final.outcome === 'warning') await stage('run-after', final);
      else if (final.outcome === 'failed') await stage('run-after-fail', final);
      await stage('run-finally', final);
      const event =
        final.outcome === 'success' ? 'success' : final.outcome === 'warning' ? 'warning' : 'failure';
      await tell({ event, at: final.endedAt ?? now(), run: final });
      const warnings: string[] = [];
      let totals: Record<string, number> = {};
      if (receivers.length > 0) {
        const failed = notifications.filter((n) => !n.isDelivered).map((n) => n.type);
        totals = await addNotificationFailures(r.stateDir, failed).catch((err) => {
          warnings.push(
            `could not save the notification counters: ${err instanceof Error ? err.message : err}`,
          );
          return {};
        });
      }
      const types = [...new Set(receivers.map((x) => x.config.type))];
      return {
        hooksDurationMs: hooksMs,
        hooks: results,
        notifications,
        ...(queue ? { queue } : {}),
        warnings,
        samples: (prefix) => [
          ...(hasHooks ? [{ def: hooksDurationMetric(prefix), value: hooksMs / 1000 }] : []),
          ...types.map((type) => ({
            def: NOTIFY_METRICS.failedTotal,
            value: totals[type] ?? 0,
            labels: { type },
          })),
        ],
      };
    },
  };
}
