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
 */
import { Cron } from 'croner';
import type { Config, LoadedConfig } from '../config/index.js';
import { loadConfig } from '../config/index.js';
import { UsageError } from '../errors.js';
import type { FinishRunResult } from '../jobs/finish-run.js';
import type { ParsedFamily } from '../metrics/exposition.js';
import { formatExposition } from '../metrics/exposition.js';
import { DAEMON_METRICS } from '../metrics/names.js';
import type { BackupResult } from '../restic/types.js';
import { BacklogReader } from '../sinks/outbox/backlog.js';
import { ensureStateDir } from '../state/dir.js';
import { latestRuns } from '../state/history.js';
import { formatBytes } from '../util/bytes.js';
import { formatDuration } from '../util/duration.js';
import { escapeControl } from '../util/escape.js';
import { getVersion } from '../version.js';
import type { StatusView } from '../web/api.js';
import { type BasicAuthCredentials, resolveBasicAuth } from '../web/auth.js';
import { DEFAULT_LISTEN, formatHostPort, isLoopbackHost, parseListen } from '../web/listen.js';
import { startWebServer, type WebServer } from '../web/server.js';
import { buildStatusView } from '../web/status-view.js';
import { findMissedRun, nextScheduledRun } from './missed.js';
import type { ScheduledJob } from './plan.js';

/** Where the daemon's log lines go (the CLI's logger fits). */
export interface DaemonLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Why a run started. */
export type RunTrigger = 'schedule' | 'missed';

/** One run the daemon asks for. */
export interface DaemonRunRequest {
  loaded: LoadedConfig;
  /** What to run: a tier's backup, or the profile's repository check or stats. */
  job: ScheduledJob;
  profile: string;
  /** The tier, for a backup; absent for check and stats. */
  tier?: string;
  trigger: RunTrigger;
  stateDir: string;
  env: NodeJS.ProcessEnv;
  /** Aborted when the daemon stops and the grace period is over. */
  signal: AbortSignal;
  /** Each line a hook of the run prints (escape it before printing). */
  onHookLine?: (hook: { stage: string; index: number }, line: string) => void;
}

/** What a run reports back, for the daemon's log line. */
export interface DaemonRunOutcome {
  /** success, warning, failed or interrupted (as in the history). */
  outcome: string;
  /** One line for people, e.g. `succeeded in 3s: 12 files, 1.2 MiB added`. */
  message: string;
  /** Extra fields for JSON logs. */
  fields?: Record<string, unknown>;
  /** Log level of the line. @default error for `failed`, info for `success`, else warn */
  level?: 'info' | 'warn' | 'error';
}

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
   * @default a backup through runBackupJob, a check through runCheckJob, stats through runStatsJob
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

/** One schedulable thing: a tier's backup, or a profile's check or stats. */
interface Slot {
  job: ScheduledJob;
  profile: string;
  /** Set for backups only. */
  tier?: string | undefined;
}

interface Pending extends Slot {
  trigger: RunTrigger;
}

interface Active extends Pending {
  controller: AbortController;
  startedAt: number;
  done: Promise<void>;
}

interface RepoQueue {
  active?: Active | undefined;
  pending: Pending[];
}

const slotKey = (s: Slot) => `${s.job}\u0000${s.profile}\u0000${s.tier ?? ''}`;
const isSameSlot = (a: Slot, b: Slot) => slotKey(a) === slotKey(b);

/** How a slot is named in log lines: `backup nfs/daily`, `check nfs`, `stats nfs`. */
function slotName(s: Slot): string {
  return s.job === 'backup' ? `backup ${s.profile}/${s.tier ?? ''}` : `${s.job} ${s.profile}`;
}

/** The cron expression of a slot in a configuration, or undefined when it is no longer there. */
function scheduleOf(cfg: Config, s: Slot): string | undefined {
  const p = cfg.profiles[s.profile];
  if (!p) return undefined;
  if (s.job === 'backup') return s.tier === undefined ? undefined : p.tiers[s.tier]?.schedule;
  if (s.job === 'check') return p.check?.schedule;
  return s.job === 'stats' ? p.stats?.schedule : p.verify?.schedule;
}

/** Every slot of a configuration with its schedule: tiers first, then check and stats, per profile. */
function slotsOf(cfg: Config): (Slot & { schedule: string })[] {
  const out: (Slot & { schedule: string })[] = [];
  for (const [profile, p] of Object.entries(cfg.profiles)) {
    for (const [tier, t] of Object.entries(p.tiers))
      out.push({ job: 'backup', profile, tier, schedule: t.schedule });
    if (p.check?.schedule) out.push({ job: 'check', profile, schedule: p.check.schedule });
    if (p.stats?.schedule) out.push({ job: 'stats', profile, schedule: p.stats.schedule });
    if (p.verify?.schedule) out.push({ job: 'verify', profile, schedule: p.verify.schedule });
  }
  return out;
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

  const queues = new Map<string, RepoQueue>();
  const skipped = new Map<string, number>();
  let crons = new Map<string, { cron: Cron } & Slot>();
  let isStopping = false;
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => {
    resolveStopped = r;
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
    const code = (err as NodeJS.ErrnoException).code ?? errText(err);
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

  function repoOf(cfg: Config, profile: string): string {
    return cfg.profiles[profile]?.repository ?? `profile:${profile}`;
  }

  function findActive(slot: Slot): Active | undefined {
    for (const q of queues.values()) if (q.active && isSameSlot(q.active, slot)) return q.active;
    return undefined;
  }

  function isQueued(slot: Slot): boolean {
    for (const q of queues.values()) if (q.pending.some((p) => isSameSlot(p, slot))) return true;
    return false;
  }

  /** Log fields naming a slot (no `tier` for check and stats). */
  function slotFields(s: Slot): Record<string, unknown> {
    return { job: s.job, profile: s.profile, ...(s.tier !== undefined ? { tier: s.tier } : {}) };
  }

  function enqueue(slot: Slot, trigger: RunTrigger): void {
    if (isStopping) return;
    const what = slotName(slot);
    if (findActive(slot) || isQueued(slot)) {
      const k = slotKey(slot);
      skipped.set(k, (skipped.get(k) ?? 0) + 1);
      const previous = slot.job === 'backup' ? 'run of this tier' : `${slot.job} run of this profile`;
      log.warn(`${what} skipped: the previous ${previous} has not finished`, {
        ...slotFields(slot),
        trigger,
      });
      return;
    }
    const repo = repoOf(loaded.config, slot.profile);
    let q = queues.get(repo);
    if (!q) {
      q = { pending: [] };
      queues.set(repo, q);
    }
    q.pending.push({ job: slot.job, profile: slot.profile, tier: slot.tier, trigger });
    if (q.active) {
      log.info(`${what} waits: ${slotName(q.active)} is running on the same repository`, slotFields(slot));
    }
    pump(repo);
  }

  function pump(repo: string): void {
    const q = queues.get(repo);
    if (!q || q.active || isStopping) return;
    const next = q.pending.shift();
    if (!next) return;
    const cfg = loaded;
    const what = slotName(next);
    if (scheduleOf(cfg.config, next) === undefined) {
      log.warn(`${what} dropped: no longer in the configuration`);
      pump(repo);
      return;
    }
    const controller = new AbortController();
    const active: Active = { ...next, controller, startedAt: now(), done: Promise.resolve() };
    q.active = active;
    log.info(
      `${what} started (${next.trigger === 'missed' ? 'missed while the daemon was down' : 'scheduled'})`,
      { event: 'run-start', ...slotFields(next), trigger: next.trigger },
    );
    active.done = (async () => {
      try {
        const r = await runJob({
          loaded: cfg,
          job: next.job,
          profile: next.profile,
          ...(next.tier !== undefined ? { tier: next.tier } : {}),
          trigger: next.trigger,
          stateDir,
          env,
          signal: controller.signal,
          onHookLine: (hook, line) =>
            log.info(
              `${what} hook ${hook.stage} ${hook.index + 1}: ${escapeControl(line)}`,
              slotFields(next),
            ),
        });
        const fields = { event: 'run-end', ...slotFields(next), outcome: r.outcome, ...r.fields };
        const line = `${what} ${r.message}`;
        const level =
          r.level ?? (r.outcome === 'failed' ? 'error' : r.outcome === 'success' ? 'info' : 'warn');
        log[level](line, fields);
      } catch (err) {
        log.error(`${what} could not run: ${errText(err)}`, {
          event: 'run-end',
          ...slotFields(next),
          outcome: 'error',
        });
      } finally {
        q.active = undefined;
        pump(repo);
      }
    })();
  }

  function schedule(cfg: LoadedConfig): void {
    const tz = cfg.config.timezone || undefined;
    const made = new Map<string, { cron: Cron } & Slot>();
    for (const { schedule: expr, ...slot } of slotsOf(cfg.config)) {
      const cron = new Cron(expr, { mode: '5-or-6-parts', ...(tz ? { timezone: tz } : {}) }, () =>
        enqueue(slot, 'schedule'),
      );
      made.set(slotKey(slot), { cron, ...slot });
    }
    for (const c of crons.values()) c.cron.stop();
    crons = made;
  }

  async function catchUp(cfg: LoadedConfig): Promise<void> {
    if (cfg.config.daemon?.runMissed === false) return;
    const { runs, warnings } = await latestRuns(stateDir, { kind: 'backup' });
    for (const w of warnings) log.warn(w);
    const t = now();
    for (const [profile, p] of Object.entries(cfg.config.profiles)) {
      for (const [tier, tc] of Object.entries(p.tiers)) {
        const last = runs
          .filter((r) => r.profile === profile && r.tier === tier)
          .reduce<number | undefined>(
            (m, r) => (m === undefined || r.last.startedAt > m ? r.last.startedAt : m),
            undefined,
          );
        const missed = findMissedRun({
          schedule: tc.schedule,
          ...(cfg.config.timezone ? { timezone: cfg.config.timezone } : {}),
          lastRunAt: last,
          now: t,
        });
        if (missed !== undefined) {
          log.info(
            `backup ${profile}/${tier} missed its run of ${new Date(missed).toISOString()}; running it now`,
            {
              profile,
              tier,
              missedAt: missed,
            },
          );
          enqueue({ job: 'backup', profile, tier }, 'missed');
        }
      }
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
      isRunning: (profile, tier) => findActive({ job: 'backup', profile, tier }) !== undefined,
      isQueued: (profile, tier) => isQueued({ job: 'backup', profile, tier }),
      backlog,
    });
  }

  function daemonMetrics(): string {
    const D = DAEMON_METRICS;
    const fam = (def: { name: string; type: 'gauge' | 'counter'; help: string }): ParsedFamily => ({
      name: def.name,
      type: def.type,
      help: def.help,
      samples: [],
    });
    const up = fam(D.up);
    up.samples.push({ name: D.up.name, labels: {}, value: 1, line: 0 });
    const start = fam(D.startTime);
    start.samples.push({ name: D.startTime.name, labels: {}, value: startedAt / 1000, line: 0 });
    const reload = fam(D.configReloadSuccessful);
    reload.samples.push({
      name: D.configReloadSuccessful.name,
      labels: {},
      value: lastReloadOk ? 1 : 0,
      line: 0,
    });
    const next = fam(D.nextRun);
    const running = fam(D.running);
    const skips = fam(D.skippedRuns);
    // Per tier only: the families' `tier` label would mistake a check or stats run for a tier.
    for (const c of crons.values()) {
      if (c.job !== 'backup' || c.tier === undefined) continue;
      const labels = { profile: c.profile, tier: c.tier };
      const n = nextRunOf(c);
      if (n !== null) next.samples.push({ name: D.nextRun.name, labels, value: n / 1000, line: 0 });
      running.samples.push({
        name: D.running.name,
        labels,
        value: findActive(c) ? 1 : 0,
        line: 0,
      });
      const counterName = D.skippedRuns.name;
      skips.samples.push({
        name: counterName,
        labels,
        value: skipped.get(slotKey(c)) ?? 0,
        line: 0,
      });
    }
    return formatExposition([up, start, reload, next, running, skips]);
  }

  async function reload(): Promise<boolean> {
    if (isStopping) return false;
    let fresh: LoadedConfig;
    try {
      fresh = await loadConfig({ file: loaded.file, env, stateDir: opts.stateDir });
    } catch (err) {
      lastReloadOk = false;
      log.error(
        `configuration reload failed, keeping the previous configuration: ${errText(err).split('\n').join('; ')}`,
        { event: 'reload', ok: false },
      );
      return false;
    }
    let freshAuth: BasicAuthCredentials | undefined;
    try {
      freshAuth = await authOf(fresh.config, env);
    } catch (err) {
      lastReloadOk = false;
      log.error(`configuration reload failed, keeping the previous configuration: ${errText(err)}`, {
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

  async function stop(graceMs?: number): Promise<void> {
    if (isStopping) {
      // A second stop (a second SIGTERM): interrupt now.
      for (const q of queues.values()) q.active?.controller.abort('SIGINT');
      return stopped;
    }
    isStopping = true;
    for (const c of crons.values()) c.cron.stop();
    for (const q of queues.values()) {
      for (const p of q.pending.splice(0)) log.info(`${slotName(p)} dropped: the daemon is stopping`);
    }
    const actives = [...queues.values()].flatMap((q) => (q.active ? [q.active] : []));
    const grace = graceMs ?? loaded.config.daemon?.gracePeriodMs ?? 300_000;
    if (actives.length > 0) {
      log.info(
        `stopping: waiting up to ${formatDuration(grace)} for ${actives.map(slotName).join(', ')} to finish`,
      );
      let timer: NodeJS.Timeout | undefined;
      const isDone = await Promise.race([
        Promise.all(actives.map((a) => a.done)).then(() => true),
        new Promise<boolean>((r) => {
          timer = setTimeout(() => r(false), grace);
        }),
      ]);
      clearTimeout(timer);
      if (!isDone) {
        for (const a of actives) {
          if (!a.controller.signal.aborted) {
            log.warn(`grace period over: interrupting ${slotName(a)}`);
            a.controller.abort('SIGINT');
          }
        }
        await Promise.all(actives.map((a) => a.done));
      }
    }
    await web.close();
    log.info('daemon stopped');
    resolveStopped();
  }

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

/** The default job: a backup, a check or stats, by {@link DaemonRunRequest.job}. */
async function runInDaemon(req: DaemonRunRequest): Promise<DaemonRunOutcome> {
  if (req.job === 'check') return runCheckInDaemon(req);
  if (req.job === 'stats') return runStatsInDaemon(req);
  if (req.job === 'verify') return runVerifyInDaemon(req);
  return runBackupInDaemon(req);
}

/** `; metrics delivered to ...` (or queued, or refused) for a run's log line. */
function deliveryText(d: FinishRunResult['delivery']): string {
  if (d.queued.length > 0)
    return `; metrics queued in the outbox (${d.queued.map((q) => q.destination).join(', ')})`;
  if (d.deadLettered.length > 0)
    return `; metrics refused by ${d.deadLettered.map((q) => q.destination).join(', ')}`;
  if (d.delivered.length > 0) return `; metrics delivered to ${d.delivered.join(', ')}`;
  return '';
}

function commonOf(req: DaemonRunRequest) {
  return {
    loaded: req.loaded,
    profile: req.profile,
    env: req.env,
    signal: req.signal,
    stateDir: req.stateDir,
    ...(req.onHookLine ? { onHookLine: req.onHookLine } : {}),
  };
}

/**
 * One backup through runBackupJob (which also runs `forget-after-backup`, in the
 * same repository slot: the slot is held until this function returns).
 */
async function runBackupInDaemon(req: DaemonRunRequest): Promise<DaemonRunOutcome> {
  const { runBackupJob, backupOutcome } = await import('../jobs/backup.js');
  if (req.tier === undefined) throw new UsageError(`backup ${req.profile}: no tier given`);
  const job = await runBackupJob({ ...commonOf(req), tier: req.tier });
  const r = job.result;
  const outcome = backupOutcome(r);
  const message = describe(outcome, r) + deliveryText(job.finish.delivery);
  const fields: Record<string, unknown> = {
    exitCode: r.exitCode,
    reason: r.reason,
    durationMs: Math.round(r.durationMs),
    snapshotId: r.summary?.snapshotId,
    filesProcessed: r.summary?.totalFilesProcessed,
    bytesAdded: r.summary?.dataAdded,
    warnings: job.warnings.length > 0 ? job.warnings : undefined,
  };
  let isForgetFailed = false;
  let forgetText = '';
  if (job.forget) {
    forgetText = `; forget: ${job.forget.result.message}`;
    fields.forget = {
      outcome: job.forget.result.outcome,
      kept: job.forget.result.keptCount,
      removed: job.forget.result.removedCount,
    };
    isForgetFailed = job.forget.result.outcome === 'failed';
  }
  return {
    outcome,
    message: message + forgetText,
    fields,
    ...(isForgetFailed && outcome === 'success' ? { level: 'warn' as const } : {}),
  };
}

/** `restic check` through runCheckJob, with the profile's `check.read-data-subset`. */
async function runCheckInDaemon(req: DaemonRunRequest): Promise<DaemonRunOutcome> {
  const { runCheckJob } = await import('../jobs/maintenance.js');
  const job = await runCheckJob(commonOf(req));
  const r = job.result;
  const took = formatDuration(r.durationMs);
  const outcome = r.reason === 'interrupted' ? 'interrupted' : r.outcome === 'success' ? 'success' : 'failed';
  const text =
    outcome === 'success'
      ? `found no errors in ${took}`
      : outcome === 'interrupted'
        ? `interrupted after ${took}`
        : `failed after ${took}: ${r.message}`;
  return {
    outcome,
    message: text + deliveryText(job.finish.delivery),
    fields: {
      exitCode: r.exitCode,
      reason: r.reason,
      durationMs: Math.round(r.durationMs),
      errors: r.errorCount,
      warnings: job.warnings.length > 0 ? job.warnings : undefined,
    },
  };
}

/** Repository size and snapshots per tier through runStatsJob. */
async function runStatsInDaemon(req: DaemonRunRequest): Promise<DaemonRunOutcome> {
  const { runStatsJob } = await import('../jobs/maintenance.js');
  const job = await runStatsJob(commonOf(req));
  const took = formatDuration(job.durationMs);
  const s = job.stats;
  const outcome = job.error?.reason === 'interrupted' ? 'interrupted' : s ? 'success' : 'failed';
  const text = s
    ? `succeeded in ${took}: ${formatBytes(s.raw.totalSize)} stored, ${formatBytes(s.restore.totalSize)} restored, ${s.raw.snapshotsCount} snapshot(s)`
    : outcome === 'interrupted'
      ? `interrupted after ${took}`
      : `failed after ${took}: ${job.error?.message ?? 'restic failed'}`;
  return {
    outcome,
    message: text + deliveryText(job.finish.delivery),
    fields: {
      exitCode: job.error ? (job.error.exitCode ?? null) : 0,
      reason: job.error?.reason,
      durationMs: Math.round(job.durationMs),
      ...(s ? { rawSizeBytes: s.raw.totalSize, snapshots: s.raw.snapshotsCount } : {}),
      warnings: job.warnings.length > 0 ? job.warnings : undefined,
    },
  };
}

/** A restore drill through runVerifyJob, with the profile's `verify` settings. */
async function runVerifyInDaemon(req: DaemonRunRequest): Promise<DaemonRunOutcome> {
  const { runVerifyJob } = await import('../jobs/verify.js');
  const job = await runVerifyJob(commonOf(req));
  const took = formatDuration(job.durationMs);
  const outcome = job.reason === 'interrupted' ? 'interrupted' : job.outcome;
  const text =
    outcome === 'success'
      ? `succeeded in ${took}: ${job.message}`
      : outcome === 'interrupted'
        ? `interrupted after ${took}`
        : `failed after ${took}: ${job.message}`;
  return {
    outcome,
    message: text + deliveryText(job.finish.delivery),
    fields: {
      exitCode: job.exitCode,
      reason: job.reason,
      durationMs: Math.round(job.durationMs),
      tier: job.tier,
      files: job.report?.files,
      mismatches: job.report?.mismatches.length,
      warnings: job.warnings.length > 0 ? job.warnings : undefined,
    },
  };
}

function describe(outcome: string, r: BackupResult): string {
  const took = formatDuration(r.durationMs);
  const s = r.summary;
  const details = s
    ? `${s.totalFilesProcessed} files (${s.filesNew} new, ${s.filesChanged} changed), ${formatBytes(s.totalBytesProcessed)} processed, ${formatBytes(s.dataAdded)} added`
    : 'no summary from restic';
  if (outcome === 'success') return `succeeded in ${took}: ${details}`;
  if (outcome === 'warning') return `incomplete in ${took}: ${r.errorCount} item(s) unreadable; ${details}`;
  if (outcome === 'interrupted') return `interrupted after ${took}`;
  return `failed after ${took}: ${r.message ?? r.reason ?? 'restic failed'}`;
}

async function authOf(config: Config, env: NodeJS.ProcessEnv): Promise<BasicAuthCredentials | undefined> {
  const a = config.daemon?.basicAuth;
  return a ? resolveBasicAuth(a, env) : undefined;
}

function formatNext(ms: number | null): string {
  return ms === null ? 'never' : new Date(ms).toISOString();
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
