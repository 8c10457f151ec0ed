/**
 * Turns the validated file as written (kebab-case) into the typed {@link Config}:
 * camelCase keys, defaults, durations in ms, sizes in bytes, file paths resolved
 * against the config file's folder.
 */

import { hostname as osHostname } from 'node:os';
import { resolve } from 'node:path';
import type { SecretSource } from '../sinks/types.js';
import { resolveStateDir } from '../state/dir.js';
import { parseDuration } from '../util/duration.js';
import { defaultKeepWithin } from './cadence.js';
import type {
  RawConfig,
  RawHooks,
  RawHttp,
  RawMetrics,
  RawNotification,
  RawProfile,
  RawTier,
} from './schema.js';
import type {
  Config,
  HooksConfig,
  MetricsConfig,
  NotificationConfig,
  OtlpConfig,
  ProfileConfig,
  PushgatewayConfig,
  RemoteWriteConfig,
  ResticPasswordSource,
  TierConfig,
} from './types.js';
import { parseBytes } from './units.js';

/** Default Pushgateway job. */
export const DEFAULT_JOB = 'restic_backup';
/** Default grouping: one group per host, profile and tier, so tiers never replace each other's values. */
export const DEFAULT_GROUPING: Readonly<Record<string, string>> = {
  instance: '{hostname}',
  profile: '{profile}',
  tier: '{tier}',
};

interface Ctx {
  dir: string;
  env: NodeJS.ProcessEnv;
}

function ms(v: string | number): number {
  return typeof v === 'number' ? Math.round(v * 1000) : parseDuration(v);
}

function strMap(m: Record<string, string | number | boolean> | undefined | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m ?? {})) out[k] = String(v);
  return out;
}

/** Builds the typed configuration from the validated file as written. */
export function normalizeConfig(raw: RawConfig, opts: { file: string; env: NodeJS.ProcessEnv }): Config {
  const ctx: Ctx = { dir: resolve(opts.file, '..'), env: opts.env };
  const profiles: Record<string, ProfileConfig> = {};
  for (const [name, p] of Object.entries(raw.profiles)) profiles[name] = normalizeProfile(p, ctx);
  const daemonAuth = raw.daemon?.['basic-auth'];
  return {
    // Depends on the environment (RESTICPROM_STATE_DIR, HOME, XDG_STATE_HOME) and the uid as
    // well as the file; loadConfig applies --state-dir on top.
    stateDir: resolveStateDir({
      configured: raw['state-dir'] ? resolve(ctx.dir, raw['state-dir']) : undefined,
      env: opts.env,
    }),
    timezone: raw.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone,
    hostname: raw.hostname ?? osHostname(),
    resticBinary: raw['restic-binary'] ?? 'restic',
    lock: { waitMs: raw.lock?.wait === undefined ? 0 : ms(raw.lock.wait) },
    daemon: {
      listen: raw.daemon?.listen ?? '127.0.0.1:9987',
      runMissed: raw.daemon?.['run-missed'] ?? true,
      gracePeriodMs: raw.daemon?.['grace-period'] === undefined ? 300_000 : ms(raw.daemon['grace-period']),
      ...(raw.daemon?.['allowed-hosts'] ? { allowedHosts: raw.daemon['allowed-hosts'] } : {}),
      ...(daemonAuth
        ? {
            basicAuth: {
              username: daemonAuth.username,
              password: { file: resolve(ctx.dir, daemonAuth['password-file']) },
            },
          }
        : {}),
    },
    outbox: {
      maxEntries: raw.outbox?.['max-entries'] ?? 1000,
      maxBytes: (() => {
        const v = raw.outbox?.['max-bytes'];
        if (v === undefined) return 50 * 1024 ** 2;
        return typeof v === 'number' ? v : parseBytes(v);
      })(),
    },
    logFormat: raw['log-format'] ?? 'text',
    profiles,
  };
}

function list(v: string | string[] | null | undefined): string[] {
  return typeof v === 'string' ? [v] : (v ?? []);
}

function normalizeProfile(p: RawProfile, ctx: Ctx): ProfileConfig {
  let password: ResticPasswordSource;
  if (p['password-file'] !== undefined) password = { file: resolve(ctx.dir, p['password-file']) };
  else if (p['password-command'] !== undefined) password = { command: p['password-command'] };
  else password = { value: p.password ?? '' };
  const excludeFile = p['exclude-file'];
  const tiers: Record<string, TierConfig> = {};
  for (const [name, t] of Object.entries(p.tiers)) tiers[name] = normalizeTier(t, ctx);
  const out: ProfileConfig = {
    repository: p.repository,
    password,
    env: strMap(p.env),
    paths: p.paths ?? [],
    exclude: p.exclude ?? [],
    excludeIfPresent: p['exclude-if-present'] ?? [],
    excludeFile: (typeof excludeFile === 'string' ? [excludeFile] : (excludeFile ?? [])).map((f) =>
      resolve(ctx.dir, f),
    ),
    resticArgs: p['restic-args'] ?? [],
    unlockStaleLocks: p['unlock-stale-locks'] ?? false,
    forgetAfterBackup: p['forget-after-backup'] ?? false,
    prune: p.prune ?? false,
    tiers,
    metrics: normalizeMetrics(p.metrics ?? undefined, ctx),
  };
  if (p['one-file-system'] !== undefined) out.oneFileSystem = p['one-file-system'];
  const filesFrom = list(p['files-from']).map((f) => resolve(ctx.dir, f));
  if (filesFrom.length > 0) out.filesFrom = filesFrom;
  if (p['env-file'] !== undefined) out.envFile = resolve(ctx.dir, p['env-file']);
  if (p['cpu-limit'] !== undefined) out.cpuLimit = p['cpu-limit'];
  if (p.nice !== undefined) out.nice = p.nice;
  if (p['inactivity-timeout'] !== undefined) out.inactivityTimeoutMs = ms(p['inactivity-timeout']);
  if (p.check) {
    out.check = {};
    if (p.check.schedule !== undefined) out.check.schedule = p.check.schedule.trim();
    if (p.check['read-data-subset'] !== undefined) out.check.readDataSubset = p.check['read-data-subset'];
  }
  if (p.check?.['read-data'] === 'rotate') {
    out.check = { ...out.check, readDataRotateCycle: p.check.cycle ?? 7 };
  }
  if (p.stats) {
    out.stats = {};
    if (p.stats.schedule !== undefined) out.stats.schedule = p.stats.schedule.trim();
  }
  if (p.verify) {
    const v = p.verify;
    const sampleBytes = v['sample-bytes'];
    out.verify = {
      sampleFiles: v['sample-files'] ?? 200,
      sampleBytes:
        sampleBytes === undefined
          ? 2 * 1024 ** 3
          : typeof sampleBytes === 'number'
            ? sampleBytes
            : parseBytes(sampleBytes),
      maxAgeMs: v['max-age'] === undefined ? 8 * 86_400_000 : ms(v['max-age']),
    };
    if (v.schedule !== undefined) out.verify.schedule = v.schedule.trim();
    if (v.tier !== undefined) out.verify.tier = v.tier;
  }
  addHooksAndNotifications(out, p, ctx);
  return out;
}

function normalizeTier(t: RawTier, ctx: Ctx): TierConfig {
  const out: TierConfig = { schedule: t.schedule.trim(), isKeepDefault: false };
  if (t['keep-last'] !== undefined) out.keepLast = t['keep-last'];
  if (t['keep-hourly'] !== undefined) out.keepHourly = t['keep-hourly'];
  if (t['keep-daily'] !== undefined) out.keepDaily = t['keep-daily'];
  if (t['keep-weekly'] !== undefined) out.keepWeekly = t['keep-weekly'];
  if (t['keep-monthly'] !== undefined) out.keepMonthly = t['keep-monthly'];
  if (t['keep-yearly'] !== undefined) out.keepYearly = t['keep-yearly'];
  if (t['keep-within'] !== undefined) out.keepWithin = t['keep-within'];
  const hasKeep = Object.keys(t).some((k) => k.startsWith('keep-'));
  if (!hasKeep) {
    out.keepWithin = defaultKeepWithin(out.schedule);
    out.isKeepDefault = true;
  }
  if (t['max-age'] !== undefined) out.maxAgeMs = ms(t['max-age']);
  addHooksAndNotifications(out, t, ctx);
  return out;
}

function normalizeMetrics(m: RawMetrics | undefined, ctx: Ctx): MetricsConfig {
  const gws = m?.pushgateway == null ? [] : Array.isArray(m.pushgateway) ? m.pushgateway : [m.pushgateway];
  return {
    job: m?.job ?? DEFAULT_JOB,
    grouping: m?.grouping ? strMap(m.grouping) : { ...DEFAULT_GROUPING },
    labels: strMap(m?.labels),
    pushgateway: gws.map((g): PushgatewayConfig => {
      const urls = g.urls ?? (g.url === undefined ? [] : [g.url]);
      return { urls, require: g.require ?? 'all', ...normalizeHttp(g, ctx) };
    }),
    remoteWrite: (m?.['remote-write'] ?? []).map(
      (r): RemoteWriteConfig => ({ url: r.url, ...normalizeHttp(r, ctx) }),
    ),
    otlp: (m?.otlp ?? []).map((o): OtlpConfig => ({ url: o.url, ...normalizeHttp(o, ctx) })),
    textfile: m?.textfile ? resolve(ctx.dir, m.textfile) : null,
  };
}

function normalizeHttp(h: Omit<RawHttp, 'url'>, ctx: Ctx): Omit<RemoteWriteConfig, 'url'> {
  const out: Omit<RemoteWriteConfig, 'url'> = {};
  if (h['ca-file'] !== undefined) out.caFile = resolve(ctx.dir, h['ca-file']);
  if (h['cert-file'] !== undefined) out.certFile = resolve(ctx.dir, h['cert-file']);
  if (h['key-file'] !== undefined) out.keyFile = resolve(ctx.dir, h['key-file']);
  if (h['insecure-skip-verify'] !== undefined) out.insecureSkipVerify = h['insecure-skip-verify'];
  const auth = h['basic-auth'];
  if (auth) {
    let password: SecretSource;
    if (auth['password-file'] !== undefined) password = { file: resolve(ctx.dir, auth['password-file']) };
    else if (auth['password-env'] !== undefined) password = { env: auth['password-env'] };
    else password = { value: auth.password ?? '' };
    out.basicAuth = { username: auth.username, password };
  }
  if (h['bearer-token-file'] !== undefined)
    out.bearerToken = { file: resolve(ctx.dir, h['bearer-token-file']) };
  if (h.headers) out.headers = strMap(h.headers);
  if (h.timeout !== undefined) out.timeoutMs = ms(h.timeout);
  if (h.retries !== undefined) out.retries = h.retries;
  if (h.gzip !== undefined) out.gzip = h.gzip;
  return out;
}

// --- hooks and notifications (docs/hooks.md) ---

function addHooksAndNotifications(
  out: { hooks?: HooksConfig; notifications?: NotificationConfig[] },
  raw: { hooks?: RawHooks | null | undefined; notifications?: RawNotification[] | null | undefined },
  ctx: Ctx,
): void {
  if (raw.hooks) out.hooks = normalizeHooks(raw.hooks);
  if (raw.notifications && raw.notifications.length > 0)
    out.notifications = raw.notifications.map((n) => normalizeNotification(n, ctx));
}

function normalizeHooks(h: RawHooks): HooksConfig {
  const out: HooksConfig = {
    for: h.for ? [...new Set(h.for)] : ['backup', 'forget', 'check', 'stats'],
    runBefore: h['run-before'] ?? [],
    runAfter: h['run-after'] ?? [],
    runAfterFail: h['run-after-fail'] ?? [],
    runFinally: h['run-finally'] ?? [],
  };
  if (h.timeout !== undefined) out.timeoutMs = ms(h.timeout);
  return out;
}

function secretSource(v: string | { file: string } | { env: string }, ctx: Ctx): SecretSource {
  if (typeof v === 'string') return { value: v };
  if ('file' in v) return { file: resolve(ctx.dir, v.file) };
  return { env: v.env };
}

/** Events a receiver gets when `on:` is not written. */
export function defaultNotificationEvents(type: NotificationConfig['type']): NotificationConfig['on'] {
  return type === 'healthchecks' ? ['start', 'success', 'warning', 'failure'] : ['failure', 'warning'];
}

function normalizeNotification(n: RawNotification, ctx: Ctx): NotificationConfig {
  const headers: Record<string, SecretSource> = {};
  for (const [k, v] of Object.entries(n.headers ?? {})) headers[k] = secretSource(v, ctx);
  const out: NotificationConfig = {
    type: n.type,
    for: n.for
      ? [...new Set(n.for)]
      : n.type === 'healthchecks'
        ? ['backup']
        : ['backup', 'forget', 'check', 'stats'],
    url: secretSource(n.url, ctx),
    on: n.on ? [...new Set(n.on)] : defaultNotificationEvents(n.type),
    headers,
  };
  if (n.style !== undefined) out.style = n.style;
  if (n.token !== undefined) out.token = secretSource(n.token, ctx);
  if (n.body !== undefined) out.body = n.body;
  if (n.priority !== undefined) out.priority = n.priority;
  if (n.timeout !== undefined) out.timeoutMs = ms(n.timeout);
  if (n.retries !== undefined) out.retries = n.retries;
  return out;
}
