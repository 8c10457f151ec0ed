/**
 * `resticprom daemon`: the scheduler for containers and hosts without systemd.
 *
 * Runs every profile's tiers on their cron schedules (croner; 5 fields, or 6 with
 * a leading seconds field; in the config's `timezone`), never two runs on one
 * repository at once (runs wait in a queue per repository; the repository lock
 * file still guards against other processes), catches up a tier that missed a
 * scheduled run while the daemon was down, and serves `/metrics`, `/healthz`,
 * `/api/*` and the status page.
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
import type { ParsedFamily } from '../metrics/exposition.js';
import { formatExposition } from '../metrics/exposition.js';
import { DAEMON_METRICS } from '../metrics/names.js';
import type { BackupResult } from '../restic/types.js';
import { ensureStateDir, resolveStateDir } from '../state/dir.js';
import { latestRuns } from '../state/history.js';
import { computeStatus } from '../state/status.js';
import { formatBytes } from '../util/bytes.js';
import { formatDuration } from '../util/duration.js';
import { getVersion } from '../version.js';
import type { StatusView, TierStatusView } from '../web/api.js';
import { type BasicAuthCredentials, resolveBasicAuth } from '../web/auth.js';
import { DEFAULT_LISTEN, formatHostPort, isLoopbackHost, parseListen } from '../web/listen.js';
import { startWebServer, type WebServer } from '../web/server.js';
import { findMissedRun, nextScheduledRun } from './missed.js';

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
  profile: string;
  tier: string;
  trigger: RunTrigger;
  stateDir: string;
  env: NodeJS.ProcessEnv;
  /** Aborted when the daemon stops and the grace period is over. */
  signal: AbortSignal;
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
  /** Runs one backup; tests swap it. @default runs {@link runBackupJob} */
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

interface TierKey {
  profile: string;
  tier: string;
}

interface Pending extends TierKey {
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

const key = (p: string, t: string) => `${p}\u0000${t}`;

/**
 * Starts the daemon: loads the config, starts the HTTP server, schedules every
 * tier, and starts the tiers that missed a run while it was down (`daemon.run-missed`).
 * @throws ConfigError for a bad config; UsageError for a bad listen address; the
 *   listen error (e.g. EADDRINUSE); StateError when the state directory is unusable.
 */
export async function startDaemon(opts: StartDaemonOptions): Promise<Daemon> {
  const env = opts.env ?? process.env;
  const now = opts.now ?? Date.now;
  const log = opts.log;
  const startedAt = now();
  let loaded = await loadConfig({ ...(opts.configFile ? { file: opts.configFile } : {}), env });
  for (const w of loaded.warnings) log.warn(w);
  let configLoadedAt = startedAt;
  let lastReloadOk = true;
  const stateDir = opts.stateDir ?? loaded.config.stateDir ?? resolveStateDir({ env });
  await ensureStateDir(stateDir);
  const listenText = opts.listen ?? loaded.config.daemon?.listen ?? DEFAULT_LISTEN;
  const listen = parseListen(listenText);
  const runJob = opts.runJob ?? runBackupInDaemon;

  const queues = new Map<string, RepoQueue>();
  const skipped = new Map<string, number>();
  let crons = new Map<string, { cron: Cron } & TierKey>();
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

  function findActive(profile: string, tier: string): Active | undefined {
    for (const q of queues.values())
      if (q.active?.profile === profile && q.active.tier === tier) return q.active;
    return undefined;
  }

  function isQueued(profile: string, tier: string): boolean {
    for (const q of queues.values())
      if (q.pending.some((p) => p.profile === profile && p.tier === tier)) return true;
    return false;
  }

  function enqueue(profile: string, tier: string, trigger: RunTrigger): void {
    if (isStopping) return;
    const what = `backup ${profile}/${tier}`;
    if (findActive(profile, tier) || isQueued(profile, tier)) {
      const k = key(profile, tier);
      skipped.set(k, (skipped.get(k) ?? 0) + 1);
      log.warn(`${what} skipped: the previous run of this tier has not finished`, { profile, tier, trigger });
      return;
    }
    const repo = repoOf(loaded.config, profile);
    let q = queues.get(repo);
    if (!q) {
      q = { pending: [] };
      queues.set(repo, q);
    }
    q.pending.push({ profile, tier, trigger });
    if (q.active) {
      log.info(
        `${what} waits: backup ${q.active.profile}/${q.active.tier} is running on the same repository`,
        {
          profile,
          tier,
        },
      );
    }
    pump(repo);
  }

  function pump(repo: string): void {
    const q = queues.get(repo);
    if (!q || q.active || isStopping) return;
    const next = q.pending.shift();
    if (!next) return;
    const cfg = loaded;
    if (!cfg.config.profiles[next.profile]?.tiers[next.tier]) {
      log.warn(`backup ${next.profile}/${next.tier} dropped: no longer in the configuration`);
      pump(repo);
      return;
    }
    const controller = new AbortController();
    const active: Active = { ...next, controller, startedAt: now(), done: Promise.resolve() };
    q.active = active;
    const what = `backup ${next.profile}/${next.tier}`;
    log.info(
      `${what} started (${next.trigger === 'missed' ? 'missed while the daemon was down' : 'scheduled'})`,
      {
        event: 'run-start',
        profile: next.profile,
        tier: next.tier,
        trigger: next.trigger,
      },
    );
    active.done = (async () => {
      try {
        const r = await runJob({
          loaded: cfg,
          profile: next.profile,
          tier: next.tier,
          trigger: next.trigger,
          stateDir,
          env,
          signal: controller.signal,
        });
        const fields = {
          event: 'run-end',
          profile: next.profile,
          tier: next.tier,
          outcome: r.outcome,
          ...r.fields,
        };
        const line = `${what} ${r.message}`;
        const level =
          r.level ?? (r.outcome === 'failed' ? 'error' : r.outcome === 'success' ? 'info' : 'warn');
        log[level](line, fields);
      } catch (err) {
        log.error(`${what} could not run: ${errText(err)}`, {
          event: 'run-end',
          profile: next.profile,
          tier: next.tier,
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
    const made = new Map<string, { cron: Cron } & TierKey>();
    for (const [profile, p] of Object.entries(cfg.config.profiles)) {
      for (const [tier, t] of Object.entries(p.tiers)) {
        const cron = new Cron(t.schedule, { mode: '5-or-6-parts', ...(tz ? { timezone: tz } : {}) }, () =>
          enqueue(profile, tier, 'schedule'),
        );
        made.set(key(profile, tier), { cron, profile, tier });
      }
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
          enqueue(profile, tier, 'missed');
        }
      }
    }
  }

  function nextRunOf(profile: string, tier: string): number | null {
    const t = loaded.config.profiles[profile]?.tiers[tier];
    return t ? nextScheduledRun(t.schedule, now(), loaded.config.timezone || undefined) : null;
  }

  async function status(): Promise<StatusView> {
    const cfg = loaded.config;
    const report = await computeStatus({ config: cfg, stateDir, now: now() });
    const tiers: TierStatusView[] = report.rows.map((r) => ({
      profile: r.profile,
      tier: r.tier,
      state: r.state,
      lastRun: r.lastRun ? r.lastRun.endedAt : null,
      lastOutcome: r.lastRun ? r.lastRun.outcome : null,
      lastSuccess: r.lastSuccess ?? null,
      ageMs: r.ageMs ?? null,
      maxAgeMs: r.maxAgeMs,
      nextRun: r.nextRun ?? null,
      lastSize: r.lastSize ?? null,
      pendingDeliveries: r.pendingDeliveries,
      deadLetters: r.deadLetters,
      isRunning: findActive(r.profile, r.tier) !== undefined,
      isQueued: isQueued(r.profile, r.tier),
    }));
    return {
      generatedAt: report.now,
      timezone: cfg.timezone,
      daemon: { startedAt, version: getVersion(), configFile: loaded.file, configLoadedAt },
      tiers,
      warnings: report.warnings,
    };
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
    for (const c of crons.values()) {
      const labels = { profile: c.profile, tier: c.tier };
      const n = nextRunOf(c.profile, c.tier);
      if (n !== null) next.samples.push({ name: D.nextRun.name, labels, value: n / 1000, line: 0 });
      running.samples.push({
        name: D.running.name,
        labels,
        value: findActive(c.profile, c.tier) ? 1 : 0,
        line: 0,
      });
      const counterName = D.skippedRuns.name;
      skips.samples.push({
        name: counterName,
        labels,
        value: skipped.get(key(c.profile, c.tier)) ?? 0,
        line: 0,
      });
    }
    return formatExposition([up, start, reload, next, running, skips]);
  }

  async function reload(): Promise<boolean> {
    if (isStopping) return false;
    let fresh: LoadedConfig;
    try {
      fresh = await loadConfig({ file: loaded.file, env });
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
    if (!opts.stateDir && fresh.config.stateDir !== stateDir) {
      log.warn('state-dir changed: restart the daemon to use the new state directory');
    }
    loaded = fresh;
    configLoadedAt = now();
    lastReloadOk = true;
    web.setBasicAuth(freshAuth);
    schedule(fresh);
    log.info(`configuration reloaded from ${fresh.file}: ${crons.size} tier(s) scheduled`, {
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
      for (const p of q.pending.splice(0))
        log.info(`backup ${p.profile}/${p.tier} dropped: the daemon is stopping`);
    }
    const actives = [...queues.values()].flatMap((q) => (q.active ? [q.active] : []));
    const grace = graceMs ?? loaded.config.daemon?.gracePeriodMs ?? 300_000;
    if (actives.length > 0) {
      log.info(
        `stopping: waiting up to ${formatDuration(grace)} for ${actives.map((a) => `backup ${a.profile}/${a.tier}`).join(', ')} to finish`,
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
            log.warn(`grace period over: interrupting backup ${a.profile}/${a.tier}`);
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
    `${crons.size} tier(s) scheduled${loaded.config.timezone ? ` in ${loaded.config.timezone}` : ''}: ${[
      ...crons.values(),
    ]
      .map((c) => `${c.profile}/${c.tier} next ${formatNext(nextRunOf(c.profile, c.tier))}`)
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

/**
 * The default job: one backup through {@link runBackupJob}, then, when the backup
 * wrote a snapshot, `check` (runCheckJob) when the profile has one, in the same
 * repository slot (`forget-after-backup` is run by runBackupJob itself).
 * Described in one line.
 */
async function runBackupInDaemon(req: DaemonRunRequest): Promise<DaemonRunOutcome> {
  const { runBackupJob, backupOutcome } = await import('../jobs/backup.js');
  const common = {
    loaded: req.loaded,
    profile: req.profile,
    env: req.env,
    signal: req.signal,
    stateDir: req.stateDir,
  };
  const job = await runBackupJob({ ...common, tier: req.tier });
  const r = job.result;
  const outcome = backupOutcome(r);
  const d = job.finish.delivery;
  let message = describe(outcome, r);
  if (d.queued.length > 0)
    message += `; metrics queued in the outbox (${d.queued.map((q) => q.destination).join(', ')})`;
  else if (d.deadLettered.length > 0)
    message += `; metrics refused by ${d.deadLettered.map((q) => q.destination).join(', ')}`;
  else if (d.delivered.length > 0) message += `; metrics delivered to ${d.delivered.join(', ')}`;
  const fields: Record<string, unknown> = {
    exitCode: r.exitCode,
    reason: r.reason,
    durationMs: Math.round(r.durationMs),
    snapshotId: r.summary?.snapshotId,
    filesProcessed: r.summary?.totalFilesProcessed,
    bytesAdded: r.summary?.dataAdded,
    warnings: job.warnings.length > 0 ? job.warnings : undefined,
  };
  let isFollowUpFailed = false;
  // runBackupJob runs forget-after-backup itself; the daemon's repository slot is held
  // until this function returns, so no other scheduled run comes in between.
  if (job.forget) {
    message += `; forget: ${job.forget.result.message}`;
    fields.forget = {
      outcome: job.forget.result.outcome,
      kept: job.forget.result.keptCount,
      removed: job.forget.result.removedCount,
    };
    if (job.forget.result.outcome === 'failed') isFollowUpFailed = true;
  }
  const profile = req.loaded.config.profiles[req.profile];
  const wroteSnapshot = outcome === 'success' || outcome === 'warning';
  if (profile?.check && wroteSnapshot && !req.signal.aborted) {
    const { runCheckJob } = await import('../jobs/maintenance.js');
    try {
      const c = await runCheckJob(common);
      message += `; check: ${c.result.message}`;
      fields.check = { outcome: c.result.outcome, errors: c.result.errorCount };
      if (c.result.outcome === 'failed') isFollowUpFailed = true;
    } catch (err) {
      message += `; check could not run: ${errText(err)}`;
      isFollowUpFailed = true;
    }
  }
  return {
    outcome,
    message,
    fields,
    ...(isFollowUpFailed && outcome === 'success' ? { level: 'warn' as const } : {}),
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
