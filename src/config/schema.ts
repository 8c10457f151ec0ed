/**
 * The configuration file's schema as written (kebab-case keys), in zod. It checks
 * shapes and single values; rules across keys (exactly one password source,
 * label names, templates) live in `checks.ts` so every problem is reported at once.
 * The JSON Schema of `resticprom config schema` is generated from it.
 */
import { z } from 'zod';
import { parseDuration, timerDurationProblem } from '../util/duration.js';
import { checkCron } from './cadence.js';
import { checkReadDataSubset } from './checks.js';
import { parseBytes } from './units.js';

/** Marks the message of an unknown-key issue so the loader can add a "did you mean" hint. */
export const UNKNOWN_KEYS_MARK = 'unknown-keys:';

/** An object that rejects unknown keys; the issue carries the known keys for hints. */
function strictObj<T extends z.core.$ZodLooseShape>(shape: T, description?: string) {
  const known = Object.keys(shape).join(',');
  const schema = z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? `${UNKNOWN_KEYS_MARK}${known}` : undefined),
  });
  return description ? schema.describe(description) : schema;
}

const nonEmpty = z.string().min(1);

const duration = z
  .union([z.string(), z.number().nonnegative()])
  .superRefine((v, ctx) => {
    if (typeof v === 'number') return;
    try {
      parseDuration(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  })
  .describe('A duration: 500ms, 10s, 5m, 2h, 7d, 1h30m; a bare number is seconds');

/** A duration that becomes a timer (a timeout, a wait): at most 2^31-1 ms. */
const timerDuration = z
  .union([z.string(), z.number().nonnegative()])
  .superRefine((v, ctx) => {
    let ms: number;
    try {
      ms = typeof v === 'number' ? Math.round(v * 1000) : parseDuration(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return;
    }
    const problem = timerDurationProblem(ms);
    if (problem) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} ${problem}` });
  })
  .describe('A duration up to 24d20h: 500ms, 10s, 5m, 2h, 7d, 1h30m; a bare number is seconds');

const bytes = z
  .union([z.string(), z.number().int().nonnegative()])
  .superRefine((v, ctx) => {
    if (typeof v === 'number') return;
    try {
      parseBytes(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  })
  .describe('A size: 50MiB, 1GiB, 500MB, or a number of bytes');

const cron = z
  .string()
  .superRefine((v, ctx) => {
    const problem = checkCron(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .describe('Cron expression: 5 fields, or 6 with a leading seconds field');

const resticDuration = z
  .string()
  .regex(/^(\d+[ymdh])+$/, 'must be a restic duration like 2d, 12h, 1y5m (units y, m, d, h)')
  .describe('restic duration: 2d, 12h, 1y5m');

const keepCount = z.number().int().min(1);
const scalar = z.union([z.string(), z.number(), z.boolean()]);
const stringMap = z.record(z.string(), scalar);
const stringList = z.array(z.string());

const httpUrl = z
  .string()
  .superRefine((v, ctx) => {
    let ok = false;
    try {
      const u = new URL(v);
      ok = u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      ok = false;
    }
    if (!ok) ctx.addIssue({ code: 'custom', message: `"${v}" is not an http:// or https:// URL` });
  })
  .describe('http:// or https:// URL');

const basicAuth = strictObj(
  {
    username: nonEmpty,
    'password-file': nonEmpty.optional(),
    'password-env': nonEmpty.optional(),
    password: z.string().optional(),
  },
  'Basic auth: username plus exactly one of password-file, password-env, password',
);

const httpShape = {
  'ca-file': nonEmpty.optional(),
  'cert-file': nonEmpty.optional(),
  'key-file': nonEmpty.optional(),
  'insecure-skip-verify': z.boolean().optional(),
  'basic-auth': basicAuth.optional(),
  'bearer-token-file': nonEmpty.optional(),
  headers: stringMap.optional(),
  timeout: timerDuration.optional(),
  retries: z.number().int().min(0).optional(),
  gzip: z.boolean().optional(),
};

const pushgateway = strictObj(
  {
    url: httpUrl.optional(),
    urls: z.array(httpUrl).min(1).optional(),
    require: z.enum(['all', 'any']).optional(),
    ...httpShape,
  },
  'A Pushgateway: url, or urls (an HA pair) with require: all|any',
);

const remoteWrite = strictObj({ url: httpUrl, ...httpShape }, 'A Prometheus remote-write endpoint');

const otlp = strictObj({ url: httpUrl, ...httpShape }, 'An OTLP/HTTP metrics endpoint (protobuf)');

const metrics = strictObj({
  job: nonEmpty.optional(),
  grouping: stringMap.optional(),
  labels: stringMap.optional(),
  pushgateway: z
    .union([pushgateway, z.array(pushgateway)])
    .nullable()
    .optional(),
  'remote-write': z.array(remoteWrite).nullable().optional(),
  otlp: z.array(otlp).nullable().optional(),
  textfile: z.string().nullable().optional(),
});

// --- hooks and notifications (docs/hooks.md) ---

/** A hook command: a list is argv (no shell); a string runs through /bin/sh only when it has shell syntax. */
const hookCommand = z
  .union([nonEmpty, z.array(nonEmpty).min(1)])
  .describe(
    'A command: a list is the argv as is; a string is split on spaces, or run by /bin/sh -c when it has shell syntax',
  );
const hookList = z.array(hookCommand).nullable().optional();

/** The kinds of run hooks and notifications can be about. */
export const HOOKED_KINDS = ['backup', 'forget', 'check', 'stats'] as const;
const hookedKinds = z.array(z.enum(HOOKED_KINDS)).min(1).optional();

const hooks = strictObj(
  {
    for: hookedKinds,
    'run-before': hookList,
    'run-after': hookList,
    'run-after-fail': hookList,
    'run-finally': hookList,
    timeout: duration.optional(),
  },
  'Commands around each run: run-before, run-after (success and warning), run-after-fail, run-finally; timeout per command (default 1h)',
);

/** A secret written inline, or a reference to a file or an environment variable. */
const secretRef = z
  .union([
    z.string(),
    strictObj({ file: nonEmpty }, 'A secret read from a file (trailing newlines dropped)'),
    strictObj({ env: nonEmpty }, 'A secret read from an environment variable'),
  ])
  .describe('A value, or { file: PATH } or { env: NAME } for a secret');

/** Types of notification receiver. */
export const NOTIFICATION_TYPES = ['healthchecks', 'webhook', 'ntfy', 'gotify', 'slack', 'discord'] as const;
/** Events a receiver can be told about. */
export const NOTIFICATION_EVENTS = ['start', 'success', 'warning', 'failure'] as const;

const notification = strictObj(
  {
    type: z.enum(NOTIFICATION_TYPES),
    url: secretRef,
    for: hookedKinds,
    on: z.array(z.enum(NOTIFICATION_EVENTS)).min(1).optional(),
    style: z.enum(['healthchecks', 'uptime-kuma', 'cronitor']).optional(),
    headers: z.record(z.string(), secretRef).optional(),
    token: secretRef.optional(),
    body: z.string().optional(),
    priority: z.number().int().min(1).max(10).optional(),
    timeout: duration.optional(),
    retries: z.number().int().min(0).max(10).optional(),
  },
  'A notification receiver: type, url, and the events (on:) it is told about',
);
const notifications = z.array(notification).nullable().optional();
// --- end of hooks and notifications ---

const tier = strictObj({
  schedule: cron,
  'keep-last': keepCount.optional(),
  'keep-hourly': keepCount.optional(),
  'keep-daily': keepCount.optional(),
  'keep-weekly': keepCount.optional(),
  'keep-monthly': keepCount.optional(),
  'keep-yearly': keepCount.optional(),
  'keep-within': resticDuration.optional(),
  'max-age': duration.optional(),
  hooks: hooks.nullable().optional(),
  notifications,
});

const profile = strictObj({
  repository: nonEmpty,
  'password-file': nonEmpty.optional(),
  'password-command': nonEmpty.optional(),
  password: z.string().optional(),
  env: stringMap.optional(),
  paths: z.array(nonEmpty).optional(),
  exclude: stringList.nullable().optional(),
  'exclude-if-present': stringList.nullable().optional(),
  'exclude-file': z.union([nonEmpty, stringList]).nullable().optional(),
  'restic-args': stringList.nullable().optional(),
  'cpu-limit': z.number().int().min(1).optional(),
  nice: z.number().int().min(-20).max(19).optional(),
  'inactivity-timeout': timerDuration.optional(),
  'unlock-stale-locks': z.boolean().optional(),
  'forget-after-backup': z.boolean().optional(),
  prune: z.boolean().optional(),
  check: strictObj(
    {
      schedule: cron.optional(),
      'read-data-subset': z
        .string()
        .regex(
          /^(\d+(\.\d+)?%|\d+\/\d+|\d+[KMGT]?)$/,
          'must be like 5%, 1/7 or 500M (restic --read-data-subset)',
        )
        .refine((v) => checkReadDataSubset(v) === undefined, {
          error: (i) => checkReadDataSubset(String(i.input)),
        })
        .optional(),
      'read-data': z
        .literal('rotate')
        .optional()
        .describe('rotate: each check reads the next 1/cycle of the data (--read-data-subset k/cycle)'),
      cycle: z
        .number()
        .int()
        .min(2)
        .max(1000)
        .optional()
        .describe('Checks per full read of the data (default 7)'),
    },
    'restic check: schedule (cron) for the daemon and schedule install; read-data-subset also reads that much data',
  )
    .nullable()
    .optional(),
  verify: strictObj(
    {
      schedule: cron.optional(),
      tier: nonEmpty.optional(),
      'sample-files': z.number().int().min(1).max(10_000).optional(),
      'sample-bytes': bytes.optional(),
      'max-age': duration.optional(),
    },
    'Restore drill: schedule (cron), the tier whose latest snapshot is restored (default the first), how many files (default 200) and bytes (default 2GiB) at most, and max-age: how old the last successful drill may get (default 8d)',
  )
    .nullable()
    .optional(),
  stats: strictObj(
    { schedule: cron.optional() },
    'restic stats (repository size, snapshots per tier): schedule (cron) for the daemon and schedule install',
  )
    .nullable()
    .optional(),
  tiers: z.record(z.string(), tier),
  metrics: metrics.nullable().optional(),
  hooks: hooks.nullable().optional(),
  notifications,
  // What to back up and restic's environment, from files and flags (issue: operator's daily life).
  'one-file-system': z.boolean().optional(),
  'files-from': z.union([nonEmpty, stringList]).nullable().optional(),
  'env-file': nonEmpty.optional(),
});

/** The schema of the whole file, kebab-case keys as written. */
export const rawConfigSchema = strictObj({
  'state-dir': nonEmpty.optional(),
  timezone: nonEmpty.optional(),
  hostname: nonEmpty.optional(),
  'restic-binary': nonEmpty.optional(),
  lock: strictObj({ wait: timerDuration.optional() }).nullable().optional(),
  daemon: strictObj({
    listen: nonEmpty.optional(),
    'run-missed': z.boolean().optional(),
    'grace-period': timerDuration.optional(),
    'basic-auth': strictObj({ username: nonEmpty, 'password-file': nonEmpty }).optional(),
    'allowed-hosts': z
      .array(z.string().regex(/^[A-Za-z0-9.-]+$/, 'must be a host name like backup.example.org'))
      .optional()
      .describe(
        'Host names the endpoint answers without basic auth besides IP addresses, localhost and the listen host',
      ),
  })
    .nullable()
    .optional(),
  outbox: strictObj({
    'max-entries': z.number().int().min(1).optional(),
    'max-bytes': bytes.optional(),
  })
    .nullable()
    .optional(),
  'log-format': z.enum(['text', 'json']).optional(),
  profiles: z.record(z.string(), profile),
});

/** The file as written, after validation (kebab-case keys). */
export type RawConfig = z.output<typeof rawConfigSchema>;
/** One profile as written. */
export type RawProfile = RawConfig['profiles'][string];
/** One tier as written. */
export type RawTier = RawProfile['tiers'][string];
/** `metrics:` as written. */
export type RawMetrics = NonNullable<RawProfile['metrics']>;
/** `hooks:` as written. */
export type RawHooks = z.output<typeof hooks>;
/** One `notifications:` entry as written. */
export type RawNotification = z.output<typeof notification>;
/** The HTTP options of a pushgateway or remote-write entry as written. */
export type RawHttp = z.output<typeof remoteWrite>;

/**
 * Returns the JSON Schema (draft 2020-12) of the configuration file, for editors
 * (`# yaml-language-server: $schema=...`) and other tools.
 */
export function configJsonSchema(): object {
  const schema = z.toJSONSchema(rawConfigSchema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return {
    ...schema,
    title: 'resticprom configuration',
    description: 'resticprom.yaml: restic backup profiles, their tiers and where their metrics go',
  };
}
