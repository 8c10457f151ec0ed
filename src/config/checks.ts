/**
 * Rules that span several keys or need more than a type: one password source,
 * label names, templates, names usable as restic tags and file names. They run on
 * the data as written (whatever its shape), next to the schema, so one load
 * reports every problem.
 */

import { findUrlCredentials } from '../errors.js';

/** A problem before it gets its file and line: the key path as segments. */
export interface RawProblem {
  path: (string | number)[];
  message: string;
  /** Point at the key itself rather than its value (unknown keys). */
  isAtKey?: boolean;
  /** Line already known (YAML syntax, interpolation). */
  line?: number | undefined;
}

/** Placeholders a template may use. */
export const TEMPLATE_VARS = ['tier', 'profile', 'hostname'] as const;

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Profile and tier names end up in file names, restic tags (no commas) and label values. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Labels resticprom sets on every series itself. */
const RESERVED_SERIES_LABELS = ['profile', 'tier', 'host'];

type Rec = Record<string, unknown>;

function isRec(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isSet(v: unknown): boolean {
  return v !== undefined && v !== null;
}

/** Returns the problems of a template string: unknown `{placeholders}`. */
export function checkTemplate(value: string): string | undefined {
  for (const m of value.matchAll(/\{([^{}]*)\}/g)) {
    const name = m[1] ?? '';
    if (!(TEMPLATE_VARS as readonly string[]).includes(name)) {
      return `unknown placeholder {${name}} in "${value}"; use {tier}, {profile} or {hostname}`;
    }
  }
  return undefined;
}

/** Returns why `name` cannot be a label name, or undefined. */
export function checkLabelName(name: string): string | undefined {
  if (!LABEL_NAME.test(name))
    return `invalid label name "${name}": use letters, digits and _, not first a digit`;
  if (name.startsWith('__')) return `invalid label name "${name}": names starting with __ are reserved`;
  return undefined;
}

/**
 * Returns why `value` is not a `restic check --read-data-subset` restic accepts, or
 * undefined: a percentage above 0 and at most 100 (`5%`, `2.5%`), `n/m` with
 * 1 <= n <= m (`1/7`), or a size above 0 (`500M`, `2G`).
 * Upstream: https://restic.readthedocs.io/en/stable/045_working_with_repos.html#checking-integrity-and-consistency
 */
export function checkReadDataSubset(value: string): string | undefined {
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(value);
  if (pct) {
    const n = Number(pct[1]);
    return n > 0 && n <= 100 ? undefined : `"${value}": a percentage must be above 0% and at most 100%`;
  }
  const frac = /^(\d+)\/(\d+)$/.exec(value);
  if (frac) {
    const n = Number(frac[1]);
    const m = Number(frac[2]);
    return n >= 1 && m >= 1 && n <= m ? undefined : `"${value}": n/m needs 1 <= n <= m (e.g. 1/7)`;
  }
  const size = /^(\d+)[KMGT]?$/.exec(value);
  if (size) return Number(size[1]) > 0 ? undefined : `"${value}": the size must be above 0`;
  return `"${value}" must be like 5%, 1/7 or 500M (restic --read-data-subset)`;
}

/** Checks the rules across keys of a whole file as written; returns every problem. */
export function checkConfigRules(data: unknown): RawProblem[] {
  const out: RawProblem[] = [];
  if (!isRec(data)) return out;
  if (typeof data.timezone === 'string') {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: data.timezone });
    } catch {
      out.push({
        path: ['timezone'],
        message: `unknown time zone "${data.timezone}" (use an IANA name like Europe/Berlin)`,
      });
    }
  }
  const profiles = data.profiles;
  if (isRec(profiles)) {
    if (Object.keys(profiles).length === 0)
      out.push({ path: ['profiles'], message: 'needs at least one profile' });
    for (const [name, p] of Object.entries(profiles)) {
      const at = ['profiles', name];
      if (!NAME.test(name)) {
        out.push({
          path: at,
          isAtKey: true,
          message: `invalid profile name "${name}": use letters, digits, _, . and -, starting with a letter or digit`,
        });
      }
      if (isRec(p)) checkProfile(p, at, out);
    }
  }
  return out;
}

function checkProfile(p: Rec, at: (string | number)[], out: RawProblem[]): void {
  const sources = ['password-file', 'password-command', 'password'].filter((k) => isSet(p[k]));
  if (sources.length === 0) {
    out.push({
      path: at,
      message: 'no repository password: set one of password-file, password-command, password',
    });
  } else if (sources.length > 1) {
    out.push({
      path: [...at, sources[1] as string],
      isAtKey: true,
      message: `${sources.join(' and ')} are both set; keep exactly one`,
    });
  }
  if (isRec(p.env)) {
    for (const k of Object.keys(p.env)) {
      if (!ENV_NAME.test(k)) {
        out.push({
          path: [...at, 'env', k],
          isAtKey: true,
          message: `invalid environment variable name "${k}"`,
        });
      } else if (/^RESTIC_(REPOSITORY|PASSWORD)/.test(k)) {
        out.push({
          path: [...at, 'env', k],
          isAtKey: true,
          message: `${k} is set by resticprom; use the profile's repository and password-* keys`,
        });
      }
    }
  }
  const hasPaths = Array.isArray(p.paths) && p.paths.length > 0;
  const filesFrom = p['files-from'];
  const hasFilesFrom = typeof filesFrom === 'string' || (Array.isArray(filesFrom) && filesFrom.length > 0);
  if (!hasPaths && !hasFilesFrom) {
    // Worded like the schema's other required keys when `paths` is missing altogether.
    out.push({
      path: [...at, 'paths'],
      message: Array.isArray(p.paths)
        ? 'nothing to back up: list at least one path, or set files-from'
        : 'is required',
    });
  }
  if (isRec(p.tiers)) {
    if (Object.keys(p.tiers).length === 0)
      out.push({ path: [...at, 'tiers'], message: 'needs at least one tier' });
    for (const t of Object.keys(p.tiers)) {
      if (!NAME.test(t)) {
        out.push({
          path: [...at, 'tiers', t],
          isAtKey: true,
          message: `invalid tier name "${t}": it is a restic tag; use letters, digits, _, . and -`,
        });
      }
    }
  }
  if (isRec(p.check) && isSet(p.check['read-data']) && isSet(p.check['read-data-subset'])) {
    out.push({
      path: [...at, 'check', 'read-data'],
      isAtKey: true,
      message: 'read-data: rotate and read-data-subset are both set; keep one',
    });
  }
  if (isRec(p.check) && isSet(p.check.cycle) && !isSet(p.check['read-data'])) {
    out.push({ path: [...at, 'check', 'cycle'], isAtKey: true, message: 'cycle needs read-data: rotate' });
  }
  if (isRec(p.verify) && typeof p.verify.tier === 'string' && isRec(p.tiers) && !(p.verify.tier in p.tiers)) {
    out.push({
      path: [...at, 'verify', 'tier'],
      message: `no tier "${p.verify.tier}" in this profile (tiers: ${Object.keys(p.tiers).join(', ')})`,
    });
  }
  for (const job of ['check', 'stats', 'verify'] as const) {
    const block = p[job];
    if (isRec(block) && isSet(block.schedule) && isRec(p.tiers) && job in p.tiers) {
      const unit = `resticprom-${String(at[1])}-${job}`;
      out.push({
        path: [...at, 'tiers', job],
        isAtKey: true,
        message: `tier "${job}" has the name of the profile's scheduled ${job}: both would be ${unit}.service and .timer (and one crontab line); rename the tier`,
      });
    }
  }
  if (isRec(p.metrics)) checkMetrics(p.metrics, [...at, 'metrics'], out);
  checkNotifications(p.notifications, [...at, 'notifications'], out);
  if (isRec(p.tiers)) {
    for (const [t, tier] of Object.entries(p.tiers)) {
      if (isRec(tier)) checkNotifications(tier.notifications, [...at, 'tiers', t, 'notifications'], out);
    }
  }
}

function checkMetrics(m: Rec, at: (string | number)[], out: RawProblem[]): void {
  if (typeof m.job === 'string') {
    const problem = checkTemplate(m.job);
    if (problem) out.push({ path: [...at, 'job'], message: problem });
  }
  for (const key of ['grouping', 'labels'] as const) {
    const map = m[key];
    if (!isRec(map)) continue;
    for (const [name, value] of Object.entries(map)) {
      const path = [...at, key, name];
      const bad = checkLabelName(name);
      if (bad) out.push({ path, isAtKey: true, message: bad });
      else if (key === 'grouping' && name === 'job') {
        out.push({ path, isAtKey: true, message: 'job is not a grouping label; set metrics.job instead' });
      } else if (key === 'labels' && RESERVED_SERIES_LABELS.includes(name)) {
        out.push({ path, isAtKey: true, message: `label "${name}" is set by resticprom on every series` });
      }
      if (typeof value === 'string') {
        const problem = checkTemplate(value);
        if (problem) out.push({ path, message: problem });
      }
    }
  }
  if (typeof m.textfile === 'string') {
    if (!m.textfile.endsWith('.prom')) {
      out.push({
        path: [...at, 'textfile'],
        message: `"${m.textfile}" must end in .prom (node_exporter's textfile collector reads only *.prom)`,
      });
    } else {
      const problem = checkTemplate(m.textfile);
      if (problem) out.push({ path: [...at, 'textfile'], message: problem });
    }
  }
  const gws = Array.isArray(m.pushgateway) ? m.pushgateway : isRec(m.pushgateway) ? [m.pushgateway] : [];
  gws.forEach((g, i) => {
    if (!isRec(g)) return;
    const path = Array.isArray(m.pushgateway) ? [...at, 'pushgateway', i] : [...at, 'pushgateway'];
    const urls = ['url', 'urls'].filter((k) => isSet(g[k]));
    if (urls.length === 0) out.push({ path, message: 'set url (or urls for several gateways)' });
    if (urls.length === 2)
      out.push({ path: [...path, 'urls'], isAtKey: true, message: 'set url or urls, not both' });
    checkHttp(g, path, out);
  });
  if (Array.isArray(m['remote-write'])) {
    m['remote-write'].forEach((r, i) => {
      if (isRec(r)) checkHttp(r, [...at, 'remote-write', i], out);
    });
  }
  if (Array.isArray(m.otlp)) {
    m.otlp.forEach((o, i) => {
      if (isRec(o)) checkHttp(o, [...at, 'otlp', i], out);
    });
  }
}

function checkHttp(h: Rec, at: (string | number)[], out: RawProblem[]): void {
  const urls: [(string | number)[], unknown][] = [[[...at, 'url'], h.url]];
  if (Array.isArray(h.urls)) for (const [i, u] of h.urls.entries()) urls.push([[...at, 'urls', i], u]);
  for (const [path, url] of urls) {
    const creds = typeof url === 'string' ? findUrlCredentials(url) : undefined;
    if (creds === undefined) continue;
    out.push({
      path,
      message: `credentials in the URL (${creds}) are refused: they would be stored in the outbox and shown in messages; use basic-auth with password-file or password-env, or bearer-token-file`,
    });
  }
  if (isSet(h['basic-auth']) && isSet(h['bearer-token-file'])) {
    out.push({
      path: [...at, 'bearer-token-file'],
      isAtKey: true,
      message: 'set basic-auth or bearer-token-file, not both',
    });
  }
  if (isSet(h['cert-file']) !== isSet(h['key-file'])) {
    out.push({ path: at, message: 'cert-file and key-file go together (client certificate and its key)' });
  }
  const auth = h['basic-auth'];
  if (isRec(auth)) {
    const sources = ['password-file', 'password-env', 'password'].filter((k) => isSet(auth[k]));
    if (sources.length !== 1) {
      out.push({
        path: [...at, 'basic-auth'],
        message:
          sources.length === 0
            ? 'set one of password-file, password-env, password'
            : `${sources.join(' and ')} are both set; keep exactly one`,
      });
    }
  }
  checkHeaderNames(h.headers, at, out);
}

/** Header names must be HTTP tokens (RFC 9110, 5.6.2). */
function checkHeaderNames(headers: unknown, at: (string | number)[], out: RawProblem[]): void {
  if (!isRec(headers)) return;
  for (const name of Object.keys(headers)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      out.push({
        path: [...at, 'headers', name],
        isAtKey: true,
        message: `invalid HTTP header name "${name}"`,
      });
    }
  }
}

// --- notifications (docs/hooks.md) ---

/** Which keys only some receiver types take. */
const ONLY_FOR: Record<string, readonly string[]> = {
  style: ['healthchecks'],
  body: ['webhook'],
  token: ['gotify', 'ntfy'],
  priority: ['gotify', 'ntfy'],
};

function checkNotifications(list: unknown, at: (string | number)[], out: RawProblem[]): void {
  if (!Array.isArray(list)) return;
  list.forEach((n, i) => {
    if (!isRec(n) || typeof n.type !== 'string') return;
    const path = [...at, i];
    if (typeof n.url === 'string') {
      let ok = false;
      try {
        const u = new URL(n.url);
        ok = u.protocol === 'http:' || u.protocol === 'https:';
      } catch {
        ok = false;
      }
      if (!ok) out.push({ path: [...path, 'url'], message: 'is not an http:// or https:// URL' });
    }
    for (const [key, types] of Object.entries(ONLY_FOR)) {
      if (isSet(n[key]) && !types.includes(n.type)) {
        out.push({
          path: [...path, key],
          isAtKey: true,
          message: `${key} is not used by type ${n.type} (only by ${types.join(', ')})`,
        });
      }
    }
    if (n.type === 'gotify' && !isSet(n.token)) {
      out.push({ path, message: 'gotify needs token (the application token, e.g. token: { file: PATH })' });
    }
    if (n.type === 'ntfy' && typeof n.priority === 'number' && n.priority > 5) {
      out.push({ path: [...path, 'priority'], message: `ntfy priorities are 1 to 5, got ${n.priority}` });
    }
    if (n.style === 'uptime-kuma' && Array.isArray(n.on) && n.on.includes('start')) {
      out.push({
        path: [...path, 'on'],
        message: 'an Uptime Kuma push monitor has no start event; remove start',
      });
    }
    checkHeaderNames(n.headers, path, out);
  });
}
