/**
 * Generates the Prometheus rule file (recording rules and alerts) for resticprom's
 * metrics. Staleness never comes from `absent_over_time` on a pushed metric: the
 * Pushgateway exposes the last pushed value forever, so such an alert never fires.
 * It comes from the pushed `restic_backup_last_success_timestamp_seconds` and from
 * the gateway's own `push_time_seconds` / `push_failure_time_seconds`.
 *
 * Rule file format: https://prometheus.io/docs/prometheus/latest/configuration/recording_rules/
 */
import { parse, stringify } from 'yaml';
import {
  BACKUP_METRICS,
  CHECK_METRICS,
  RETENTION_METRICS,
  SEED_METRICS,
  VERIFY_METRICS,
} from '../metrics/names.js';
import { formatPromDuration } from './duration.js';

/** One tier the rules watch, with how old its last success may get. */
export interface RulesTier {
  /** The tier (restic tag), e.g. `daily`. */
  tier: string;
  /** Restricts the tier's rules to one profile; without it, every profile's series of this tier match. */
  profile?: string;
  /** How old the last successful backup may be before the tier is late, seconds. */
  maxAgeSeconds: number;
  /** The metrics job of this tier. @default the top-level `job` */
  job?: string;
  /**
   * The Pushgateway grouping labels of this tier's pushes (besides `job`), used to find the
   * gateway's `push_time_seconds` of the group: a value, or `{ regex }` for a label whose
   * value differs per host (a `{hostname}` template). @default `{ instance: <tier> }` (the seed's grouping)
   */
  grouping?: Record<string, string | { regex: string }>;
}

/** Thresholds of the two anomaly alerts. */
export interface RulesAnomalyOptions {
  /** ResticBackupSizeDrop fires when processed bytes fall below this share of the window's maximum. @default 0.5 */
  sizeDropRatio?: number;
  /** Window of the maximum processed bytes are compared with (a Prometheus duration). @default '1d' */
  sizeDropWindow?: string;
  /** Sources smaller than this (maximum over the window, bytes) never raise ResticBackupSizeDrop. @default 0 */
  sizeDropMinBytes?: number;
  /** ResticBackupChangedFilesSpike fires when changed files exceed this multiple of the window's average. @default 10 */
  changedFilesFactor?: number;
  /** Window of the average changed files are compared with. @default '7d' */
  changedFilesWindow?: string;
  /** ResticBackupChangedFilesSpike needs at least this many changed files. @default 1000 */
  changedFilesMin?: number;
}

/** Options of {@link generateRules}. */
export interface GenerateRulesOptions {
  /** The tiers to watch; each one's threshold comes from its `maxAgeSeconds`. */
  tiers: RulesTier[];
  /** The metrics job (`metrics.job` of the config). @default 'nfs_backup' (the seed's job) */
  job?: string;
  /** How old the last successful `restic check` may be, seconds. @default 691200 (8 days) */
  checkMaxAgeSeconds?: number;
  /**
   * How old the last completed full read-data cycle (`check: { read-data: rotate }`) may be,
   * seconds: twice the cycle's expected length. @default 1209600 (14 days: twice 7 daily checks)
   */
  checkCycleMaxAgeSeconds?: number;
  /** How old the last successful restore drill (`resticprom verify`) may be, seconds. @default 691200 (8 days) */
  verifyMaxAgeSeconds?: number;
  /** Anomaly thresholds; `false` leaves the two anomaly alerts out. @default {} (the defaults above) */
  anomaly?: RulesAnomalyOptions | false;
  /** `for:` of the alerts that have no duration of their own (a Prometheus duration). @default '5m' */
  forDuration?: string;
  /** A comment written at the top of the file. */
  header?: string;
}

/** The seed's job and its four tiers with their default maximum ages (6h, 26h, 8d, 32d). */
export const SEED_RULES_OPTIONS: GenerateRulesOptions = {
  job: 'nfs_backup',
  tiers: [
    { tier: 'sub-daily', maxAgeSeconds: 6 * 3600 },
    { tier: 'daily', maxAgeSeconds: 26 * 3600 },
    { tier: 'weekly', maxAgeSeconds: 8 * 86_400 },
    { tier: 'monthly', maxAgeSeconds: 32 * 86_400 },
  ],
};

/** Names of the recording rules. */
export const RECORDING_RULES = {
  lastSuccessAge: 'restic:backup_last_success_age_seconds',
  maxAge: 'restic:backup_max_age_seconds',
} as const;

/** Every alert {@link generateRules} writes (with anomalies enabled). */
export const ALERT_NAMES = [
  'ResticBackupLate',
  'ResticBackupFailed',
  'ResticBackupIncomplete',
  'ResticBackupNeverReported',
  'ResticMetricsPushFailing',
  'ResticMetricsPushesStopped',
  'ResticCheckErrors',
  'ResticCheckNotSucceeding',
  'ResticCheckFullCycleLate',
  'ResticVerifyFailed',
  'ResticVerifyNotSucceeding',
  'ResticRetentionBelowPolicy',
  'ResticRetentionAbovePolicy',
  'ResticBackupSizeDrop',
  'ResticBackupChangedFilesSpike',
] as const;

interface RecordingRule {
  record: string;
  expr: string;
  labels?: Record<string, string>;
}

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: { summary: string; description: string };
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const WHO = 'profile {{ $labels.profile }}, tier {{ $labels.tier }} on host {{ $labels.host }}';
/** For `absent()` results, which carry only the selector's labels. */
const ABSENT_WHO = '{{ with $labels.profile }}profile {{ . }}, {{ end }}tier {{ $labels.tier }}';
/** Checks are per repository; the tier label may be missing. */
const CHECK_WHO =
  'profile {{ $labels.profile }}{{ with $labels.tier }}, tier {{ . }}{{ end }} on host {{ $labels.host }}';
/** For series that carry only the gateway's grouping labels: names what is there. */
const GROUP_WHO =
  'job {{ $labels.job }}, instance {{ $labels.instance }}' +
  '{{ with $labels.profile }}, profile {{ . }}{{ end }}{{ with $labels.tier }}, tier {{ . }}{{ end }}' +
  '{{ with $labels.host }} on host {{ . }}{{ end }}';

/** Quotes a label value for a PromQL selector. */
function q(value: string): string {
  return JSON.stringify(value);
}

/** A label matcher's value: equal to a string, or matching a regex. */
type MatchValue = string | { regex: string };

/** `{a="x",b=~"y.+"}` from ordered matchers. */
function selector(matchers: [string, MatchValue][]): string {
  return `{${matchers.map(([k, v]) => (typeof v === 'string' ? `${k}=${q(v)}` : `${k}=~${q(v.regex)}`)).join(',')}}`;
}

/** Escapes a string for use inside a PromQL (RE2) regex. */
export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A matcher for one job (`job="x"`) or several (`job=~"x|y"`). */
function jobMatcher(jobs: string[]): string {
  if (jobs.length === 1) return `job=${q(jobs[0] as string)}`;
  return `job=~${q(jobs.map(escapeRegex).join('|'))}`;
}

function validate(opts: GenerateRulesOptions): void {
  if (opts.tiers.length === 0) throw new RangeError('generateRules: at least one tier is needed');
  const seen = new Set<string>();
  for (const t of opts.tiers) {
    if (!t.tier) throw new RangeError('generateRules: a tier has an empty name');
    if (!(Number.isFinite(t.maxAgeSeconds) && t.maxAgeSeconds > 0)) {
      throw new RangeError(`generateRules: tier ${t.tier}: maxAgeSeconds must be a positive number`);
    }
    for (const name of Object.keys(t.grouping ?? {})) {
      if (!LABEL_NAME.test(name) || name.startsWith('__') || name === 'job') {
        throw new RangeError(`generateRules: tier ${t.tier}: invalid grouping label name "${name}"`);
      }
    }
    const key = `${t.job ?? ''}\u0000${t.profile ?? ''}\u0000${t.tier}`;
    if (seen.has(key)) {
      throw new RangeError(
        `generateRules: tier ${t.tier}${t.profile ? ` of profile ${t.profile}` : ''} is listed twice`,
      );
    }
    seen.add(key);
  }
  if (opts.anomaly) validateAnomaly(opts.anomaly);
}

/** A Prometheus duration as written in a range selector, e.g. `1d`, `1h30m`, `90s`. */
const PROM_DURATION = /^(\d+(ms|s|m|h|d|w|y))+$/;

function validateAnomaly(a: RulesAnomalyOptions): void {
  const window = (name: string, v: string | undefined) => {
    if (v !== undefined && (!PROM_DURATION.test(v) || !/[1-9]/.test(v))) {
      throw new RangeError(
        `generateRules: anomaly.${name} must be a Prometheus duration like 1d or 90s, not "${v}"`,
      );
    }
  };
  const number = (name: string, v: number | undefined, ok: (n: number) => boolean, what: string) => {
    if (v !== undefined && !(Number.isFinite(v) && ok(v))) {
      throw new RangeError(`generateRules: anomaly.${name} must be ${what}, not ${v}`);
    }
  };
  window('sizeDropWindow', a.sizeDropWindow);
  window('changedFilesWindow', a.changedFilesWindow);
  number('sizeDropRatio', a.sizeDropRatio, (n) => n > 0 && n <= 1, 'a number above 0 and at most 1');
  number('sizeDropMinBytes', a.sizeDropMinBytes, (n) => n >= 0, 'zero or more');
  number('changedFilesFactor', a.changedFilesFactor, (n) => n > 0, 'a number above 0');
  number('changedFilesMin', a.changedFilesMin, (n) => n >= 0, 'zero or more');
}

/** Matchers selecting one tier's backup series: job, profile (when given), tier. */
function tierMatchers(t: RulesTier, job: string): [string, string][] {
  const m: [string, string][] = [['job', t.job ?? job]];
  if (t.profile !== undefined) m.push(['profile', t.profile]);
  m.push(['tier', t.tier]);
  return m;
}

/** Matchers selecting one tier's Pushgateway group: job and the grouping labels. */
function groupMatchers(t: RulesTier, job: string): [string, MatchValue][] {
  const grouping = t.grouping ?? { instance: t.tier };
  return [
    ['job', t.job ?? job],
    ...Object.keys(grouping)
      .sort()
      .map((k): [string, MatchValue] => [k, grouping[k] as MatchValue]),
  ];
}

/** The labels a per-tier rule adds so that alerts on gateway series still name their tier. */
function tierLabels(t: RulesTier): Record<string, string> {
  return t.profile !== undefined ? { profile: t.profile, tier: t.tier } : { tier: t.tier };
}

/**
 * Generates a Prometheus rule file (YAML) with resticprom's recording rules and alerts:
 * per-tier thresholds for late backups, failed and incomplete runs, tiers that never
 * reported, failing or stopped pushes, repository check problems, and two anomaly
 * alerts (processed bytes dropping, changed files spiking). Every alert carries
 * `labels.severity` and a summary and description naming profile, tier and host.
 *
 * @example
 * generateRules({ job: 'nfs_backup', tiers: [{ tier: 'daily', maxAgeSeconds: 26 * 3600 }] })
 */
export function generateRules(opts: GenerateRulesOptions): string {
  validate(opts);
  const job = opts.job ?? 'nfs_backup';
  const jobs = [...new Set(opts.tiers.map((t) => t.job ?? job))].sort();
  const J = jobMatcher(jobs);
  const forDuration = opts.forDuration ?? '5m';
  const checkMaxAge = opts.checkMaxAgeSeconds ?? 8 * 86_400;
  const S = BACKUP_METRICS;
  const C = CHECK_METRICS;

  const recording: RecordingRule[] = [
    {
      record: RECORDING_RULES.lastSuccessAge,
      expr: `time() - ${S.lastSuccessTimestamp.name}{${J}}`,
    },
    ...opts.tiers.map(
      (t): RecordingRule => ({
        record: RECORDING_RULES.maxAge,
        expr: `vector(${t.maxAgeSeconds})`,
        labels: Object.fromEntries(tierMatchers(t, job)),
      }),
    ),
  ];

  const alerts: AlertRule[] = [];
  alerts.push({
    alert: 'ResticBackupLate',
    expr: opts.tiers
      .map((t) => `${RECORDING_RULES.lastSuccessAge}${selector(tierMatchers(t, job))} > ${t.maxAgeSeconds}`)
      .join('\nor\n'),
    for: forDuration,
    labels: { severity: 'critical' },
    annotations: {
      summary: 'restic backup {{ $labels.profile }}/{{ $labels.tier }} on {{ $labels.host }} is late',
      description:
        `The last successful backup of ${WHO} finished {{ $value | humanizeDuration }} ago, ` +
        `longer than the tier's limit (${RECORDING_RULES.maxAge}).`,
    },
  });
  alerts.push({
    alert: 'ResticBackupFailed',
    expr: `${S.status.name}{${J}} == 0`,
    for: forDuration,
    labels: { severity: 'critical' },
    annotations: {
      summary: 'restic backup {{ $labels.profile }}/{{ $labels.tier }} on {{ $labels.host }} failed',
      description:
        `The last backup run of ${WHO} failed and wrote no snapshot ` +
        `(see ${S.exitCode.name} and the host's journal).`,
    },
  });
  alerts.push({
    alert: 'ResticBackupIncomplete',
    expr: `${S.status.name}{${J}} == 1`,
    for: forDuration,
    labels: { severity: 'warning' },
    annotations: {
      summary: 'restic backup {{ $labels.profile }}/{{ $labels.tier }} on {{ $labels.host }} is incomplete',
      description:
        `The last backup of ${WHO} wrote a snapshot, but some files could not be read ` +
        `(${S.unreadableFiles.name}).`,
    },
  });
  for (const t of opts.tiers) {
    alerts.push({
      alert: 'ResticBackupNeverReported',
      expr: `absent(${S.endTimestamp.name}${selector(tierMatchers(t, job))})`,
      for: formatPromDuration(t.maxAgeSeconds),
      labels: { severity: 'warning', ...tierLabels(t) },
      annotations: {
        summary: `restic backup tier ${t.tier} has never reported`,
        description:
          `No backup of ${ABSENT_WHO} on any host has reported for ` +
          `${formatPromDuration(t.maxAgeSeconds)} (no ${S.endTimestamp.name}): the job is not installed, ` +
          'never ran, or its metrics never reached the Pushgateway.',
      },
    });
  }
  alerts.push({
    alert: 'ResticMetricsPushFailing',
    expr: `push_failure_time_seconds{${J}} > push_time_seconds{${J}}`,
    for: forDuration,
    labels: { severity: 'warning' },
    annotations: {
      summary: 'Pushgateway refuses the metrics of {{ $labels.job }}/{{ $labels.instance }}',
      description:
        `The last push to the Pushgateway group of ${GROUP_WHO} was refused ` +
        '(push_failure_time_seconds is newer than push_time_seconds): the gateway keeps showing older values.',
    },
  });
  for (const t of opts.tiers) {
    alerts.push({
      alert: 'ResticMetricsPushesStopped',
      expr: `time() - push_time_seconds${selector(groupMatchers(t, job))} > ${t.maxAgeSeconds}`,
      for: forDuration,
      labels: { severity: 'warning', ...tierLabels(t) },
      annotations: {
        summary: `No metrics pushed for restic backup tier ${t.tier} for {{ $value | humanizeDuration }}`,
        description:
          `The Pushgateway group of job {{ $labels.job }}, instance {{ $labels.instance }} ` +
          `(${t.profile !== undefined ? `profile ${t.profile}, ` : ''}tier ${t.tier})` +
          '{{ with $labels.host }} on host {{ . }}{{ end }} got its last push {{ $value | humanizeDuration }} ago, ' +
          `longer than the tier's limit ${formatPromDuration(t.maxAgeSeconds)}: the host, its timer ` +
          'or its network may be down.',
      },
    });
  }
  alerts.push({
    alert: 'ResticCheckErrors',
    expr: `${C.errors.name}{${J}} > 0`,
    for: forDuration,
    labels: { severity: 'critical' },
    annotations: {
      summary: 'restic check found {{ $value }} errors in the repository of {{ $labels.profile }}',
      description: `The last repository check of ${CHECK_WHO} found {{ $value }} errors: the repository is damaged.`,
    },
  });
  alerts.push({
    alert: 'ResticCheckNotSucceeding',
    expr: `time() - ${C.lastSuccessTimestamp.name}{${J}} > ${checkMaxAge}`,
    for: forDuration,
    labels: { severity: 'warning' },
    annotations: {
      summary: 'restic check of {{ $labels.profile }} has not succeeded for {{ $value | humanizeDuration }}',
      description:
        `The last successful repository check of ${CHECK_WHO} was {{ $value | humanizeDuration }} ago ` +
        `(limit ${formatPromDuration(checkMaxAge)}).`,
    },
  });
  alerts.push({
    alert: 'ResticCheckNotSucceeding',
    expr: `${C.status.name}{${J}} == 0 unless ${C.lastSuccessTimestamp.name}{${J}}`,
    for: forDuration,
    // A label of its own: two rules with one name and equal labels are duplicates to promtool's lint.
    labels: { severity: 'warning', reason: 'never-succeeded' },
    annotations: {
      summary: 'restic check of {{ $labels.profile }} has never succeeded',
      description: `The repository check of ${CHECK_WHO} fails and has never succeeded.`,
    },
  });
  const cycleMaxAge = opts.checkCycleMaxAgeSeconds ?? 14 * 86_400;
  alerts.push({
    alert: 'ResticCheckFullCycleLate',
    expr: `time() - ${C.fullCycleCompletedTimestamp.name}{${J}} > ${cycleMaxAge}`,
    for: forDuration,
    labels: { severity: 'warning' },
    annotations: {
      summary:
        'The rotating data check of {{ $labels.profile }} has not read every pack for {{ $value | humanizeDuration }}',
      description:
        `The last full read-data cycle of ${CHECK_WHO} (every part read once, without errors) completed ` +
        `{{ $value | humanizeDuration }} ago, more than twice the cycle's length (limit ${formatPromDuration(cycleMaxAge)}): ` +
        'checks are missed or keep finding errors.',
    },
  });
  const V = VERIFY_METRICS;
  const verifyMaxAge = opts.verifyMaxAgeSeconds ?? 8 * 86_400;
  alerts.push({
    alert: 'ResticVerifyFailed',
    expr: `${V.status.name}{${J}} == 0`,
    for: forDuration,
    labels: { severity: 'critical' },
    annotations: {
      summary: 'The restore drill of {{ $labels.profile }} failed',
      description:
        `The last restore drill (resticprom verify) of ${CHECK_WHO} failed: a sampled file did not restore as ` +
        'backed up, or the restore itself failed. The run history and the log name the files.',
    },
  });
  alerts.push({
    alert: 'ResticVerifyNotSucceeding',
    expr: `time() - ${V.lastSuccessTimestamp.name}{${J}} > ${verifyMaxAge}`,
    for: forDuration,
    labels: { severity: 'warning' },
    annotations: {
      summary: 'No successful restore drill of {{ $labels.profile }} for {{ $value | humanizeDuration }}',
      description:
        `The last successful restore drill of ${CHECK_WHO} was {{ $value | humanizeDuration }} ago ` +
        `(limit ${formatPromDuration(verifyMaxAge)}).`,
    },
  });
  alerts.push({
    alert: 'ResticVerifyNotSucceeding',
    expr: `${V.status.name}{${J}} == 0 unless ${V.lastSuccessTimestamp.name}{${J}}`,
    for: forDuration,
    labels: { severity: 'warning', reason: 'never-succeeded' },
    annotations: {
      summary: 'The restore drill of {{ $labels.profile }} has never succeeded',
      description: `The restore drill of ${CHECK_WHO} fails and has never succeeded.`,
    },
  });
  const R = RETENTION_METRICS;
  const TAG_WHO = 'tier {{ $labels.tag }} of profile {{ $labels.profile }} on host {{ $labels.host }}';
  alerts.push({
    alert: 'ResticRetentionBelowPolicy',
    expr: `${R.snapshots.name}{${J}} < ${R.expected.name}{${J}}`,
    for: forDuration,
    labels: { severity: 'warning' },
    annotations: {
      summary:
        'Tier {{ $labels.tag }} of {{ $labels.profile }} keeps fewer snapshots than its policy promises',
      description:
        `The repository holds {{ $value }} snapshot(s) of ${TAG_WHO}, fewer than its keep policy and ` +
        'schedule imply (restic_tier_snapshots_expected): backups were missed, so the retention it promises is not met.',
    },
  });
  alerts.push({
    alert: 'ResticRetentionAbovePolicy',
    expr: `${R.snapshots.name}{${J}} > 2 * ${R.expected.name}{${J}} and ${R.expected.name}{${J}} > 0`,
    for: forDuration,
    labels: { severity: 'warning' },
    annotations: {
      summary: 'Tier {{ $labels.tag }} of {{ $labels.profile }} keeps far more snapshots than its policy',
      description:
        `The repository holds {{ $value }} snapshot(s) of ${TAG_WHO}, more than twice what its keep policy ` +
        'implies: forget is not running, and the repository grows without bound.',
    },
  });
  if (opts.anomaly !== false) {
    const a = opts.anomaly ?? {};
    const ratio = a.sizeDropRatio ?? 0.5;
    const dropWindow = a.sizeDropWindow ?? '1d';
    const minBytes = a.sizeDropMinBytes ?? 0;
    const factor = a.changedFilesFactor ?? 10;
    const spikeWindow = a.changedFilesWindow ?? '7d';
    const spikeMin = a.changedFilesMin ?? 1000;
    const bytes = `${SEED_METRICS.processedBytes.name}{${J}}`;
    const maxBytes = `max_over_time(${bytes}[${dropWindow}])`;
    alerts.push({
      alert: 'ResticBackupSizeDrop',
      expr: `${bytes} < ${ratio} * ${maxBytes}${minBytes > 0 ? `\nand\n${maxBytes} > ${minBytes}` : ''}`,
      for: forDuration,
      labels: { severity: 'warning' },
      annotations: {
        summary: 'restic backup {{ $labels.profile }}/{{ $labels.tier }} on {{ $labels.host }} shrank',
        description:
          `The last backup of ${WHO} processed {{ $value | humanize1024 }}B, less than ${ratio} times ` +
          `the most it processed in the last ${dropWindow}: data may have been deleted or a path is missing.`,
      },
    });
    const changed = `${SEED_METRICS.filesChanged.name}{${J}}`;
    alerts.push({
      alert: 'ResticBackupChangedFilesSpike',
      expr: `${changed} > ${factor} * avg_over_time(${changed}[${spikeWindow}])\nand\n${changed} > ${spikeMin}`,
      for: forDuration,
      labels: { severity: 'warning' },
      annotations: {
        summary:
          'restic backup {{ $labels.profile }}/{{ $labels.tier }} on {{ $labels.host }}: {{ $value }} files changed',
        description:
          `The last backup of ${WHO} saw {{ $value }} changed files, more than ${factor} times ` +
          `the average of the last ${spikeWindow}: mass changes (a bulk rewrite, or files being encrypted).`,
      },
    });
  }

  // One group: rules of a group run in order, so the alerts read this evaluation's recorded
  // ages; separate groups run unordered and an alert would see the previous evaluation's.
  const doc = { groups: [{ name: 'resticprom', rules: [...recording, ...alerts] }] };
  const header = opts.header ? `${opts.header.replace(/^/gm, '# ')}\n` : '';
  return header + stringify(doc, { lineWidth: 0, blockQuote: 'literal' });
}

/** The rule groups of {@link generateRules} as objects, to embed the same rules elsewhere (a PrometheusRule). */
export function generateRuleGroups(opts: GenerateRulesOptions): { name: string; rules: unknown[] }[] {
  const { header: _ignored, ...rest } = opts;
  return (parse(generateRules(rest)) as { groups: { name: string; rules: unknown[] }[] }).groups;
}
