/**
 * The typed configuration: what {@link loadConfig} returns after validation, with
 * camelCase keys, defaults applied, durations in milliseconds, sizes in bytes and
 * relative file paths resolved against the config file's folder.
 * The YAML file spells the same keys in kebab-case (`keep-last` is `keepLast`).
 */
import type {
  OtlpDestination,
  PushgatewayDestination,
  RemoteWriteDestination,
  SecretSource,
} from '../sinks/types.js';

/** Where restic's repository password comes from: exactly one per profile. */
export type ResticPasswordSource =
  /** `password-file`: restic reads it (`RESTIC_PASSWORD_FILE`). */
  | { file: string }
  /** `password-command`: restic runs it (`RESTIC_PASSWORD_COMMAND`). */
  | { command: string }
  /** `password`: inline or from `${ENV}` interpolation (`RESTIC_PASSWORD`). */
  | { value: string };

// --- hooks and notifications (docs/hooks.md) ---

/** A hook command: a list is the argv as is; a string is split on spaces, or run by `/bin/sh -c` when it has shell syntax. */
export type HookCommand = string | string[];

/** The kinds of run hooks and notifications can be about. */
export type HookedRunKind = 'backup' | 'forget' | 'check' | 'stats';

/** `hooks:` of a profile or a tier: commands run around each run. */
export interface HooksConfig {
  /** The kinds of run the hooks run for. @default ['backup', 'forget', 'check', 'stats'] */
  for: HookedRunKind[];
  /** Before restic; one failing means restic does not run. @default [] */
  runBefore: HookCommand[];
  /** After a successful run (success or warning). @default [] */
  runAfter: HookCommand[];
  /** After a failed run. @default [] */
  runAfterFail: HookCommand[];
  /** After every run, also an interrupted one or one whose run-before failed. @default [] */
  runFinally: HookCommand[];
  /** How long each command may take, ms; absent: the default (1h), or the profile's for a tier. */
  timeoutMs?: number;
}

/** Kinds of notification receiver. */
export type NotificationType = 'healthchecks' | 'webhook' | 'ntfy' | 'gotify' | 'slack' | 'discord';

/** What a receiver is told about. */
export type NotificationEventName = 'start' | 'success' | 'warning' | 'failure';

/** One `notifications:` entry of a profile or a tier. */
export interface NotificationConfig {
  type: NotificationType;
  /**
   * The kinds of run it is told about.
   * @default ['backup'] for healthchecks (a check must not feed a backup's dead man's switch), all four for the others
   */
  for: HookedRunKind[];
  /** The receiver's URL; it may carry a secret (a ping UUID, a webhook token), so it is a secret source. */
  url: SecretSource;
  /** Events sent. @default all four for healthchecks, `failure` and `warning` for the others */
  on: NotificationEventName[];
  /** `healthchecks` only: the ping protocol spoken. @default 'healthchecks' */
  style?: 'healthchecks' | 'uptime-kuma' | 'cronitor';
  /** Extra request headers; values may be secret sources. @default {} */
  headers: Record<string, SecretSource>;
  /** gotify's application token (required), ntfy's access token (optional). */
  token?: SecretSource;
  /** `webhook` only: a Liquid template for the body; absent: the run as JSON. */
  body?: string;
  /** ntfy (1-5) and gotify (0-10) priority of a failure; the others get lower ones. */
  priority?: number;
  /** Per-attempt timeout, ms. @default 10000 */
  timeoutMs?: number;
  /** Attempts after the first, within the run. @default 2 */
  retries?: number;
}
// --- end of hooks and notifications ---

/** One tier of a profile: a schedule, the tag its snapshots get, and what `forget` keeps. */
export interface TierConfig {
  /** Cron expression, 5 fields or 6 with a leading seconds field, in {@link Config.timezone}. */
  schedule: string;
  /** `--keep-last N`. */
  keepLast?: number;
  /** `--keep-hourly N`. */
  keepHourly?: number;
  /** `--keep-daily N`. */
  keepDaily?: number;
  /** `--keep-weekly N`. */
  keepWeekly?: number;
  /** `--keep-monthly N`. */
  keepMonthly?: number;
  /** `--keep-yearly N`. */
  keepYearly?: number;
  /**
   * `--keep-within DURATION` (restic's duration, e.g. `2d`, `1y5m`).
   * When a tier sets no keep option at all, this is derived from the schedule
   * (see {@link defaultKeepWithin}) and {@link TierConfig.isKeepDefault} is true.
   */
  keepWithin?: string;
  /** True when no keep option was written and `keepWithin` holds the derived default. */
  isKeepDefault: boolean;
  /**
   * How old the last success may be before the tier is LATE, ms; only when written
   * as `max-age`. Use {@link tierMaxAgeMs} for the effective value (derived from the schedule otherwise).
   */
  maxAgeMs?: number;
  /** Commands run around this tier's runs, after the profile's. */
  hooks?: HooksConfig;
  /** Receivers told about this tier's runs, besides the profile's. */
  notifications?: NotificationConfig[];
}

/** `check:` of a profile: when `restic check` runs on its own, and how much data it reads. */
export interface CheckConfig {
  /**
   * Cron expression (like {@link TierConfig.schedule}) on which the daemon and
   * `schedule install` run `resticprom check`; absent: check runs only by hand.
   */
  schedule?: string;
  /** `--read-data-subset` (`5%`, `1/7`, `500M`); absent: metadata only. */
  readDataSubset?: string;
}

/** `stats:` of a profile: when `restic stats` runs on its own. */
export interface StatsConfig {
  /**
   * Cron expression (like {@link TierConfig.schedule}) on which the daemon and
   * `schedule install` run `resticprom stats`; absent: stats runs only by hand.
   */
  schedule?: string;
}

/** A Pushgateway destination as configured: one or several gateways (an HA pair). */
export type PushgatewayConfig = Omit<PushgatewayDestination, 'kind'>;

/** A remote-write destination as configured. */
export type RemoteWriteConfig = Omit<RemoteWriteDestination, 'kind'>;

/** An OTLP/HTTP destination as configured. */
export type OtlpConfig = Omit<OtlpDestination, 'kind'>;

/** `metrics:` of a profile: how its runs' metrics are named, grouped and delivered. */
export interface MetricsConfig {
  /** Pushgateway job (template). @default 'restic_backup' */
  job: string;
  /**
   * Pushgateway grouping labels beyond `job`; values are templates with `{tier}`,
   * `{profile}`, `{hostname}`.
   * @default { instance: '{hostname}', profile: '{profile}', tier: '{tier}' }
   */
  grouping: Record<string, string>;
  /** Extra labels on every series (templates, like grouping). @default {} */
  labels: Record<string, string>;
  /** Gateways to push to (a single object in the file becomes a one-element list). @default [] */
  pushgateway: PushgatewayConfig[];
  /** Remote-write endpoints. @default [] */
  remoteWrite: RemoteWriteConfig[];
  /** OTLP/HTTP metrics endpoints. @default [] */
  otlp: OtlpConfig[];
  /** node_exporter textfile path ending in `.prom` (template), or null. @default null */
  textfile: string | null;
}

/** One backup profile: a repository, what to back up, its tiers and where metrics go. */
export interface ProfileConfig {
  /** Any restic repository string (`/srv/repo`, `s3:...`, `sftp:...`, `rest:...`). */
  repository: string;
  /** The repository password's source. */
  password: ResticPasswordSource;
  /** Extra environment for restic (e.g. `AWS_ACCESS_KEY_ID`). @default {} */
  env: Record<string, string>;
  /** What to back up, passed to restic as written; at least one. */
  paths: string[];
  /** `--exclude` patterns. @default [] */
  exclude: string[];
  /** `--exclude-if-present` file names. @default [] */
  excludeIfPresent: string[];
  /** `--exclude-file` files (a single string in the file becomes a list). @default [] */
  excludeFile: string[];
  /** Extra arguments passed through to `restic backup`. @default [] */
  resticArgs: string[];
  /** restic runs with `GOMAXPROCS` set to this; absent: no limit. */
  cpuLimit?: number;
  /** CPU/IO priority (-20..19); absent: unchanged. */
  nice?: number;
  /** Stop restic when it prints nothing for this long, ms; absent: never. */
  inactivityTimeoutMs?: number;
  /** Run `restic unlock` when a stale lock blocks the repository. @default false */
  unlockStaleLocks: boolean;
  /** Run `restic forget` for the tier's tag with its keep options after each backup. @default false */
  forgetAfterBackup: boolean;
  /** Add `--prune` to that forget. @default false */
  prune: boolean;
  /** `check:` its schedule and `read-data-subset`; absent: check runs only by hand, metadata only. */
  check?: CheckConfig;
  /** `stats:` its schedule; absent: stats runs only by hand. */
  stats?: StatsConfig;
  /** Tiers by name (the name is the restic tag); at least one. */
  tiers: Record<string, TierConfig>;
  /** Metric naming and delivery. */
  metrics: MetricsConfig;
  /** Commands run around every run of the profile (backup, forget, check, stats). */
  hooks?: HooksConfig;
  /** Receivers told about every run of the profile. */
  notifications?: NotificationConfig[];
}

/** `daemon:` settings for `resticprom daemon`. */
export interface DaemonConfig {
  /** `host:port` of the daemon's HTTP endpoint (/metrics, /healthz). @default '127.0.0.1:9987' */
  listen: string;
  /** On start, run a tier whose last scheduled run was missed while the daemon was down. @default true */
  runMissed: boolean;
  /**
   * Shutdown grace period, ms: on SIGTERM/SIGINT the daemon lets a running restic
   * finish for this long, then interrupts it (restic gets SIGINT; the run is still
   * recorded and reported as interrupted).
   * @default 300000 (5m)
   */
  gracePeriodMs: number;
  /** Basic auth for the daemon's endpoint. */
  basicAuth?: { username: string; password: SecretSource };
}

/** The whole configuration file. */
export interface Config {
  /** Outbox, run history and locks. @default /var/lib/resticprom as root, else $XDG_STATE_HOME/resticprom or ~/.local/state/resticprom */
  stateDir: string;
  /** IANA time zone of the schedules. @default the system's */
  timezone: string;
  /** The `{hostname}` of templates. @default os.hostname() */
  hostname: string;
  /** restic executable. @default 'restic' */
  resticBinary: string;
  /** Waiting for another resticprom run on the same repository. */
  lock: {
    /** How long to wait, ms; 0 fails at once. @default 0 */
    waitMs: number;
  };
  daemon: DaemonConfig;
  /** Limits of the outbox of undelivered metrics (oldest dropped first, counted). */
  outbox: {
    /** @default 1000 */
    maxEntries: number;
    /** @default 52428800 (50MiB) */
    maxBytes: number;
  };
  /** @default 'text' */
  logFormat: 'text' | 'json';
  /** Profiles by name; at least one. */
  profiles: Record<string, ProfileConfig>;
}

/** What {@link loadConfig} returns. */
export interface LoadedConfig {
  /** Absolute path of the file that was read. */
  file: string;
  config: Config;
  /** Things that work but should be fixed (printed by the CLI as `warning: ...`). */
  warnings: string[];
}
