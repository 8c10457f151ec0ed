/**
 * What an outbox entry may keep of a target's settings, and how a target is rebuilt at flush.
 *
 * An entry stores the target's id, its URL (never with user info: that is refused before) or
 * textfile path, and its settings without secret values: a secret given inline is not stored
 * at all (the caller must give it again), one given as a reference is stored as the reference
 * (a file path, an environment variable name).
 *
 * At flush, the settings the flushing process has for that destination (from its config or
 * flags, matched by target id) win over the stored ones, so a fixed `ca-file` or timeout
 * applies to what already waits. An entry for a destination the flushing process does not
 * know is sent with its stored settings only when that makes the process read nothing on the
 * entry's word: no secret file or variable, no TLS file, and for a textfile, a path inside the
 * state directory. Otherwise it waits until a process whose config or flags name the
 * destination flushes it.
 */
import { isAbsolute, relative } from 'node:path';
import type { HttpOptions, SecretSource, Target } from '../types.js';
import type { OutboxEntry, StoredSecret, StoredTarget } from './entry.js';

/** True when a header of this name may carry a secret (never stored). */
export function isSecretHeader(name: string): boolean {
  return /auth|token|secret|key|pass|cookie|session|credential/i.test(name);
}

/** Copies a target without secret values; lists the secrets the caller must pass at flush. */
export function storeTarget(target: Target): { target: StoredTarget; secretsFromCaller: string[] } {
  const secretsFromCaller: string[] = [];
  const { basicAuth, bearerToken, headers, ...rest } = target as Target & {
    basicAuth?: { username: string; password: SecretSource };
    bearerToken?: SecretSource;
    headers?: Record<string, string>;
  };
  const stored = { ...rest } as StoredTarget;
  const ref = (s: SecretSource, name: string): StoredSecret => {
    if ('file' in s) return { file: s.file };
    if ('env' in s) return { env: s.env };
    secretsFromCaller.push(name);
    return { fromCaller: true };
  };
  if (basicAuth) {
    stored.basicAuth = {
      username: basicAuth.username,
      password: ref(basicAuth.password, 'basicAuth.password'),
    };
  }
  if (bearerToken) stored.bearerToken = ref(bearerToken, 'bearerToken');
  if (headers) {
    const kept: Record<string, string> = {};
    for (const [k, v] of Object.entries(headers)) {
      if (isSecretHeader(k)) secretsFromCaller.push(`headers.${k}`);
      else kept[k] = v;
    }
    stored.headers = kept;
  }
  return { target: stored, secretsFromCaller };
}

/** What the flushing process knows about destinations. */
export interface CurrentSettings {
  /** Its own settings for a target id (from its config or flags), when it has that destination. */
  target?: (targetId: string) => Target | undefined;
  /** Credentials for a target id, for secrets that were given inline and not stored. */
  credentials?: (targetId: string) => Partial<HttpOptions> | undefined;
  /** The state directory: a textfile inside it is ours to write. */
  stateDir: string;
}

/** The local files and variables a stored target would make the flushing process read. */
function referencesOf(t: StoredTarget, creds: Partial<HttpOptions> | undefined): string[] {
  if (t.kind === 'textfile') return [];
  const out: string[] = [];
  const secret = (what: string, s: StoredSecret | undefined) => {
    if (s && 'file' in s) out.push(`${what} file ${s.file}`);
    if (s && 'env' in s) out.push(`${what} variable ${s.env}`);
  };
  if (!creds?.basicAuth) secret('basic auth password', t.basicAuth?.password);
  if (!creds?.bearerToken) secret('bearer token', t.bearerToken);
  const files = { caFile: 'ca-file', certFile: 'cert-file', keyFile: 'key-file' } as const;
  for (const [key, name] of Object.entries(files)) {
    const path = t[key as keyof typeof files];
    if (path) out.push(`${name} ${path}`);
  }
  return out;
}

function isInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

const NOT_OURS =
  'only for a destination of the config or flags of this flush (flush with them, or drop the entry)';

/**
 * Rebuilds a sendable target for an entry: the flushing process's own settings for it when it
 * has them, else the stored ones (see the module comment). Returns why not when it cannot.
 */
export function resolveTarget(entry: OutboxEntry, current: CurrentSettings): Target | string {
  const own = current.target?.(entry.targetId);
  if (own) return own;
  const t = entry.target;
  if (t.kind === 'textfile') {
    if (isInside(current.stateDir, t.path)) return t;
    return `waits: it is written ${NOT_OURS}`;
  }
  const creds = current.credentials?.(entry.targetId);
  const refs = referencesOf(t, creds);
  if (refs.length > 0)
    return `waits: its ${refs.join(', ')} ${refs.length === 1 ? 'is' : 'are'} read ${NOT_OURS}`;
  const merged = { ...t } as Record<string, unknown>;
  if (creds?.basicAuth) merged.basicAuth = creds.basicAuth;
  if (creds?.bearerToken) merged.bearerToken = creds.bearerToken;
  const headers = { ...(t.headers ?? {}), ...(creds?.headers ?? {}) };
  if (Object.keys(headers).length > 0 || t.headers) merged.headers = headers;
  for (const name of entry.secretsFromCaller) {
    if (name.startsWith('headers.') && !(name.slice(8) in headers)) {
      return `needs header ${name.slice(8)} from the caller (it was given inline and is not stored)`;
    }
  }
  if (entry.secretsFromCaller.includes('basicAuth.password') && !creds?.basicAuth) {
    return 'needs the basic auth password from the caller (it was given inline and is not stored)';
  }
  if (entry.secretsFromCaller.includes('bearerToken') && !creds?.bearerToken) {
    return 'needs the bearer token from the caller (it was given inline and is not stored)';
  }
  return merged as unknown as Target;
}
