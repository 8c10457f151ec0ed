/**
 * `resticprom daemon`: the scheduler for containers and hosts without systemd.
 *
 * Runs every profile's tiers (backups) and its `check.schedule` and
 * `stats.schedule` (repository check and stats) on their cron schedules (croner;
 * 5 fields, or 6 with a leading seconds field; in the config's `timezone`), never
 * two runs on one repository at once (runs of every kind wait in one queue per
 * repository; the repository lock file still guards against other processes),
 * catches up a tier that missed a scheduled backup while the daemon was down
 * (check and stats are not caught up: they simply run at their next time), and
 * serves `/metrics`, `/healthz`, `/api/*` and the status page.
 *
 * Stopping ({@link Daemon.stop}) ends scheduling, drops queued runs, lets a
 * running restic finish within `daemon.grace-period`, then interrupts it (restic
 * gets SIGINT; the run is still recorded and reported as interrupted).
 * Signals are the CLI's business: it calls `stop()` on SIGTERM/SIGINT and
 * `reload()` on SIGHUP.
 *
 * This file wires the parts together (config and reload, cron, HTTP): the queue is
 * run-queue.ts, what a slot runs is daemon-runs.ts (through the run description the
 * CLI uses), `/metrics`' own families are daemon-metrics.ts, `/api/status` is
 * web/status-view.ts.
 */
import { Cron } from 'croner';
import type { Config, LoadedConfig } from '../config/index.js';
import { loadConfig } from '../config/index.js';
import { errorText, UsageError } from '../errors.js';
import { describeScheduledRun } from '../jobs/run-description.js';
import { BacklogReader } from '../sinks/outbox/backlog.js';
import { ensureStateDir } from '../state/dir.js';
import { latestRuns } from '../state/history.js';
import { formatDuration } from '../util/duration.js';
import { escapeControl } from '../util/escape.js';
import { getVersion } from '../version.js';
import type { StatusView } from '../web/api.js';
import { type BasicAuthCredentials, resolveBasicAuth } from '../web/auth.js';
import { DEFAULT_LISTEN, formatHostPort, isLoopbackHost, parseListen } from '../web/listen.js';
import { startWebServer, type WebServer } from '../web/server.js';
import { buildStatusView } from '../web/status-view.js';
import { renderDaemonMetrics, watchEventLoop } from './daemon-metrics.js';
import { type DaemonRunOutcome, type DaemonRunRequest, runInDaemon } from './daemon-runs.js';
import { nextScheduledRun } from './missed.js';
import { type ScheduledJob, scheduledSlots } from './plan.js';
import {
  type ActiveRun,
  createRunQueue,
  findCatchUpRuns,
  type RunQueueEvent,
  type Slot,
  slotKey,
  slotName,
} from './run-queue.js';

/** Where the daemon's log lines go (the CLI's logger fits). */
export interface DaemonLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export type { DaemonRunOutcome, DaemonRunRequest } from './daemon-runs.js';
export type { RunTrigger } from './run-queue.js';

/** Options of {@link startDaemon}. */
export interface StartDaemonOptions {
  /** The config file; looked up like every command (`$RESTICPROM_CONFIG`, ./resticprom.yaml, /etc/...) when absent. */
  configFile?: string;
  /** `HOST:PORT` to listen on, overriding `daemon.listen`. @default config `daemon.listen`, else 127.0.0.1:9987 */
  listen?: string;
  /** Overrides the config's state directory. */
  stateDir?: string;
  /** Environment for config interpolation and restic. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Clock for ages and missed runs, Unix ms (the cron timers use the real clock). @default Date.now */
  now?: () => number;
  log: DaemonLogger;
  /**
   * Runs one scheduled job; tests swap it.
   * @default the slot's run as the CLI runs it (runDescribed), summed up in one line
   */
  runJob?: (req: DaemonRunRequest) => Promise<DaemonRunOutcome>;
}

/** A running daemon. */
export interface Daemon {
  /** Base URL of the HTTP endpoint, e.g. `http://127.0.0.1:9987`. */
  url: string;
  host: string;
  port: number;
  /**
   * Stops scheduling and drops queued runs, waits up to `graceMs` for running ones,
   * then interrupts them and waits for them to be recorded; closes the HTTP server.
   * A second call while stopping interrupts at once.
   * @param graceMs @default config `daemon.grace-period` (5m)
   */
  stop(graceMs?: number): Promise<void>;
  /** Reloads the config file; on a bad file keeps the old config, logs one line and returns false. */
  reload(): Promise<boolean>;
  /** The status the daemon serves on `/api/status`. */
  status(): Promise<StatusView>;
  /** Resolves once {@link Daemon.stop} has finished. */
  readonly stopped: Promise<void>;
}

/** The cron expression of a slot in a configuration, or undefined when it is no longer there. */
function scheduleOf(cfg: Config, s: Slot): string | undefined {
  return scheduledSlots(cfg).find((x) => slotKey(x) === slotKey(s))?.schedule;
}

/** `2 tier(s), 1 check(s), 1 stats run(s)`: what is scheduled. */
function countText(slots: readonly Slot[]): string {
  const n = (job: ScheduledJob) => slots.filter((s) => s.job === job).length;
  let text = `${n('backup')} tier(s)`;
  if (n('check') > 0) text += `, ${n('check')} check(s)`;
  if (n('stats') > 0) text += `, ${n('stats')} stats run(s)`;
  if (n('verify') > 0) text += `, ${n('verify')} restore drill(s)`;
  return text;
}

/** Log fields naming a slot (no `tier` for check and stats). */
function slotFields(s: Slot): Record<string, unknown> {
  return { job: s.job, profile: s.profile, ...(s.tier !== undefined ? { tier: s.tier } : {}) };
}

/**
 * Starts the daemon: loads the config, starts the HTTP server, schedules every
 * tier's backup and every profile's `check.schedule` / `stats.schedule`, and starts
 * the tiers that missed a backup while it was down (`daemon.run-missed`).
 * @throws ConfigError for a bad config; UsageError for a bad listen address; the
 *   listen error (e.g. EADDRINUSE); StateError when the state directory is unusable.
 */
export async function startDaemon(opts: StartDaemonOptions): Promise<Daemon> {
  const env = opts.env ?? process.env;
  const now = opts.now ?? Date.now;
  const log = opts.log;
  const startedAt = now();
  let loaded = await loadConfig({
    ...(opts.configFile ? { file: opts.configFile } : {}),
    env,
    stateDir: opts.stateDir,
  });
  for (const w of loaded.warnings) log.warn(w);
  let configLoadedAt = startedAt;
  let lastReloadOk = true;
  const stateDir = loaded.config.stateDir;
  await ensureStateDir(stateDir);
  const listenText = opts.listen ?? loaded.config.daemon?.listen ?? DEFAULT_LISTEN;
  const listen = parseListen(listenText);
  const runJob = opts.runJob ?? runInDaemon;

  let crons = new Map<string, { cron: Cron } & Slot>();
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => {
    resolveStopped = r;
  });

  const queue = createRunQueue({
    repositoryOf: (slot) => loaded.config.profiles[slot.profile]?.repository ?? `profile:${slot.profile}`,
    isRunnable: (slot) => scheduleOf(loaded.config, slot) !== undefined,
    now,
    run: (active) => runSlot(active),
    onEvent: logQueueEvent,
  });

  const auth = await authOf(loaded.config, env);
  if (!auth && !isLoopbackHost(listen.host)) {
    log.warn(
      `the daemon listens on ${formatHostPort(listen.host, listen.port)} without authentication: anyone who can reach it sees the backup status; set daemon.basic-auth or listen on 127.0.0.1`,
    );
  }

  let web: WebServer;
  try {
    web = await startWebServer({
      listen,
      stateDir,
      status: () => status(),
      extraMetrics: () => daemonMetrics(),
      ...(auth ? { basicAuth: auth } : {}),
      allowedHosts: loaded.config.daemon?.allowedHosts ?? [],
      onWarning: (m) => log.warn(m),
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? errorText(err);
    throw new UsageError(
      `cannot listen on ${formatHostPort(listen.host, listen.port)} (${code}); choose another address with --listen or daemon.listen`,
      { cause: err },
    );
  }
  log.info(
    `resticprom daemon ${getVersion()} listening on ${web.url} (config ${loaded.file}, state ${stateDir})`,
    {
      url: web.url,
      config: loaded.file,
      stateDir,
    },
  );

  function logQueueEvent(e: RunQueueEvent): void {
    switch (e.type) {
      case 'skipped': {
        const previous = e.run.job === 'backup' ? 'run of this tier' : `${e.run.job} run of this profile`;
        log.warn(`${slotName(e.run)} skipped: the previous ${previous} has not finished`, {
          ...slotFields(e.run),
          trigger: e.run.trigger,
        });
        return;
      }
      case 'waiting':
        log.info(
          `${slotName(e.run)} waits: ${slotName(e.behind)} is running on the same repository`,
          slotFields(e.run),
        );
        return;
      case 'dropped':
        if (e.reason === 'removed') log.warn(`${slotName(e.run)} dropped: no longer in the configuration`);
        else log.info(`${slotName(e.run)} dropped: the daemon is stopping`);
        return;
      case 'started':
        log.info(
          `${slotName(e.run)} started (${e.run.trigger === 'missed' ? 'missed while the daemon was down' : 'scheduled'})`,
          { event: 'run-start', ...slotFields(e.run), trigger: e.run.trigger },
        );
        return;
      case 'crashed':
        log.error(`${slotName(e.run)} could not run: ${errorText(e.error)}`, {
          event: 'run-end',
          ...slotFields(e.run),
          outcome: 'error',
        });
        return;
      case 'stopping':
        log.info(
          `stopping: waiting up to ${formatDuration(e.graceMs)} for ${e.running.map(slotName).join(', ')} to finish`,
        );
        return;
      case 'interrupting':
        log.warn(`grace period over: interrupting ${slotName(e.run)}`);
        return;
    }
  }

  /** Runs one slot with the config of the moment and logs its outcome. */
  async function runSlot(active: ActiveRun): Promise<void> {
    const what = slotName(active);
    const slot: Slot = { job: active.job, profile: active.profile, tier: active.tier };
    const r = await runJob({
      loaded,
      job: active.job,
      profile: active.profile,
      ...(active.tier !== undefined ? { tier: active.tier } : {}),
      description: describeScheduledRun(slot),
      trigger: active.trigger,
      stateDir,
      env,
      signal: active.signal,
      onHookLine: (hook, line) =>
        log.info(`${what} hook ${hook.stage} ${hook.index + 1}: ${escapeControl(line)}`, slotFields(slot)),
    });
    const fields = { event: 'run-end', ...slotFields(slot), outcome: r.outcome, ...r.fields };
    const level = r.level ?? (r.outcome === 'failed' ? 'error' : r.outcome === 'success' ? 'info' : 'warn');
    log[level](`${what} ${r.message}`, fields);
  }

  function schedule(cfg: LoadedConfig): void {
    const tz = cfg.config.timezone || undefined;
    const made = new Map<string, { cron: Cron } & Slot>();
    for (const { schedule: expr, job, profile, tier } of scheduledSlots(cfg.config)) {
      const slot: Slot = { job, profile, tier };
      const cron = new Cron(expr, { mode: '5-or-6-parts', ...(tz ? { timezone: tz } : {}) }, () => {
        queue.enqueue(slot, 'schedule');
      });
      made.set(slotKey(slot), { cron, ...slot });
    }
    for (const c of crons.values()) c.cron.stop();
    crons = made;
    queue.retainSkipCounts([...made.values()]);
  }

  async function catchUp(cfg: LoadedConfig): Promise<void> {
    if (cfg.config.daemon?.runMissed === false) return;
    const { runs, warnings } = await latestRuns(stateDir, { kind: 'backup' });
    for (const w of warnings) log.warn(w);
    const tiers = Object.entries(cfg.config.profiles).flatMap(([profile, p]) =>
      Object.entries(p.tiers).map(([tier, tc]) => ({
        profile,
        tier,
        schedule: tc.schedule,
        lastRunAt: runs
          .filter((r) => r.profile === profile && r.tier === tier)
          .reduce<number | undefined>(
            (m, r) => (m === undefined || r.last.startedAt > m ? r.last.startedAt : m),
            undefined,
          ),
      })),
    );
    for (const { slot, missedAt } of findCatchUpRuns(tiers, now(), cfg.config.timezone || undefined)) {
      log.info(`${slotName(slot)} missed its run of ${new Date(missedAt).toISOString()}; running it now`, {
        profile: slot.profile,
        tier: slot.tier,
        missedAt,
      });
      queue.enqueue(slot, 'missed');
    }
  }

  function nextRunOf(slot: Slot): number | null {
    const expr = scheduleOf(loaded.config, slot);
    return expr ? nextScheduledRun(expr, now(), loaded.config.timezone || undefined) : null;
  }

  // The outbox is read again for the status only when it changed.
  const backlog = new BacklogReader(stateDir);
  function status(): Promise<StatusView> {
    return buildStatusView({
      config: loaded.config,
      configFile: loaded.file,
      configLoadedAt,
      startedAt,
      stateDir,
      now: now(),
      isRunning: (profile, tier) => queue.isRunning({ job: 'backup', profile, tier }),
      isQueued: (profile, tier) => queue.isQueued({ job: 'backup', profile, tier }),
      backlog,
    });
  }

  function daemonMetrics(): string {
    return renderDaemonMetrics({
      startedAt,
      isLastReloadOk: lastReloadOk,
      // Per tier only: the families' `tier` label would mistake a check or stats run for a tier.
      tiers: [...crons.values()].flatMap((c) =>
        c.job === 'backup' && c.tier !== undefined
          ? [
              {
                profile: c.profile,
                tier: c.tier,
                nextRun: nextRunOf(c),
                isRunning: queue.isRunning(c),
                skippedRuns: queue.skippedCount(c),
              },
            ]
          : [],
      ),
      process: {
        residentBytes: process.memoryUsage.rss(),
        heapUsedBytes: process.memoryUsage().heapUsed,
        loopDelayP99Seconds: eventLoop.read().p99Seconds,
        loopDelayMaxSeconds: eventLoop.read().maxSeconds,
      },
    });
  }

  async function reload(): Promise<boolean> {
    if (queue.isStopping) return false;
    let fresh: LoadedConfig;
    try {
      fresh = await loadConfig({ file: loaded.file, env, stateDir: opts.stateDir });
    } catch (err) {
      lastReloadOk = false;
      log.error(
        `configuration reload failed, keeping the previous configuration: ${errorText(err).split('\n').join('; ')}`,
        { event: 'reload', ok: false },
      );
      return false;
    }
    let freshAuth: BasicAuthCredentials | undefined;
    try {
      freshAuth = await authOf(fresh.config, env);
    } catch (err) {
      lastReloadOk = false;
      log.error(`configuration reload failed, keeping the previous configuration: ${errorText(err)}`, {
        event: 'reload',
        ok: false,
      });
      return false;
    }
    for (const w of fresh.warnings) log.warn(w);
    if (!opts.listen && (fresh.config.daemon?.listen ?? DEFAULT_LISTEN) !== listenText) {
      log.warn('daemon.listen changed: restart the daemon to listen on the new address');
    }
    if (fresh.config.stateDir !== stateDir) {
      log.warn('state-dir changed: restart the daemon to use the new state directory');
    }
    loaded = fresh;
    configLoadedAt = now();
    lastReloadOk = true;
    web.setBasicAuth(freshAuth);
    web.setAllowedHosts(fresh.config.daemon?.allowedHosts ?? []);
    schedule(fresh);
    log.info(`configuration reloaded from ${fresh.file}: ${countText([...crons.values()])} scheduled`, {
      event: 'reload',
      ok: true,
    });
    return true;
  }

  let isStopCalled = false;
  async function stop(graceMs?: number): Promise<void> {
    if (isStopCalled) {
      // A second stop (a second SIGTERM): the queue interrupts now.
      void queue.stop(0);
      return stopped;
    }
    isStopCalled = true;
    for (const c of crons.values()) c.cron.stop();
    await queue.stop(graceMs ?? loaded.config.daemon?.gracePeriodMs ?? 300_000);
    eventLoop.stop();
    await web.close();
    log.info('daemon stopped');
    resolveStopped();
  }

  const eventLoop = watchEventLoop();
  schedule(loaded);
  log.info(
    `${countText([...crons.values()])} scheduled${loaded.config.timezone ? ` in ${loaded.config.timezone}` : ''}: ${[
      ...crons.values(),
    ]
      .map(
        (c) =>
          `${c.job === 'backup' ? `${c.profile}/${c.tier}` : `${c.job} ${c.profile}`} next ${formatNext(nextRunOf(c))}`,
      )
      .join(', ')}`,
  );
  await catchUp(loaded);

  return {
    url: web.url,
    host: web.host,
    port: web.port,
    stop,
    reload,
    status,
    stopped,
  };
}

async function authOf(config: Config, env: NodeJS.ProcessEnv): Promise<BasicAuthCredentials | undefined> {
  const a = config.daemon?.basicAuth;
  return a ? resolveBasicAuth(a, env) : undefined;
}

function formatNext(ms: number | null): string {
  return ms === null ? 'never' : new Date(ms).toISOString();
}
