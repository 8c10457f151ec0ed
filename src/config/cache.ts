/**
 * The validated config cache: the first load of a config file validates it fully (yaml,
 * zod, every check and warning) and stores the normalized result in the state directory
 * (`cache/config-<hash of the path>.json`, mode 0600, no fsync: it can always be derived
 * again). A later load of the same file reads that JSON and loads neither yaml nor zod.
 *
 * An entry is used only when everything the validation depended on is unchanged: the
 * file's bytes and mode, resticprom's version and build and node's version, the user, the host name, `TZ`
 * and the system time zone (`/etc/localtime`), and the value of every environment variable the validation
 * read (`${VAR}` references, `HOME` and `XDG_STATE_HOME` for the default state directory),
 * which are recorded while it runs. Secrets are never stored: every secret-looking value
 * (a `{ value }` secret source, an `env:` or `headers:` value, a key naming a password,
 * token, secret or credential) is stored as the place it is written in the file, and read
 * from there again (and interpolated) on each load; a config whose secrets cannot be
 * recovered that way is not cached. A corrupt, foreign-owned, open-to-others or symlinked
 * cache file is ignored, and the config validated again.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { removeDeadTempFiles, resolveStateDir, writeFileAtomic } from '../state/dir.js';
import { mkdir, readlink, stat } from '../state/io.js';
import { readTrustedFile } from '../state/trusted-read.js';
import { getVersion } from '../version.js';
import { fileTrustWarnings } from './file-trust.js';
import { type ConfigFileText, findConfigFile, readConfigFile, withStateDirFlag } from './find.js';
import { interpolateValue } from './interpolate.js';
import type { LoadConfigOptions, ScalarSource } from './load.js';
import type { Config, LoadedConfig } from './types.js';

/** Format of a cache entry; a change makes every older entry a miss. */
const CACHE_FORMAT = 1;

declare const RESTICPROM_BUILD_ID: string | undefined;

/**
 * Which build of resticprom runs, beside its version: the CLI bundle's digest of its sources;
 * else (the library, or a run from source) this module file's size and time.
 */
async function buildId(): Promise<string> {
  if (typeof RESTICPROM_BUILD_ID === 'string') return RESTICPROM_BUILD_ID;
  const st = await stat(new URL(import.meta.url)).catch(() => undefined);
  return st ? `${st.size}:${st.mtimeMs}` : 'unknown';
}

/** Options of {@link loadConfigCached}: those of {@link loadConfig}, and the version. */
export interface LoadConfigCachedOptions extends LoadConfigOptions {
  /** resticprom's version, part of the key. @default the running version */
  version?: string;
}

/** How a load used the cache. */
export interface ConfigCacheUse {
  /** `hit`: served from the cache; `stored`: validated and stored; `not-stored`: validated only. */
  status: 'hit' | 'stored' | 'not-stored';
  /** Why an entry was not used or not stored (`changed`, `it is a symlink`...). */
  reason?: string;
  /** The cache file. */
  file?: string;
}

/** What {@link loadConfigCached} returns: the loaded config and how the cache was used. */
export interface CachedLoadedConfig extends LoadedConfig {
  cache: ConfigCacheUse;
}

/** A stored entry. */
interface CacheEntry {
  format: number;
  /** Digest of everything the validation depended on (file, versions, user, environment read). */
  key: string;
  /** The environment variables the validation read (their values are in `key` only). */
  env: string[];
  loaded: LoadedConfig;
  /** Secret values left out of `loaded.config`: where each is set, and where it is written in the file. */
  secrets: StoredSecret[];
}

interface StoredSecret {
  path: string[];
  start: number;
  end: number;
  type: string;
}

/**
 * Loads the config like {@link loadConfig} (same lookup, same errors, same warnings), served
 * from the validated config cache when the file and everything its validation read are
 * unchanged; otherwise validates it fully and stores the result for the next load.
 * @throws ConfigError as {@link loadConfig} does.
 */
export async function loadConfigCached(opts: LoadConfigCachedOptions = {}): Promise<CachedLoadedConfig> {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const file = await findConfigFile(opts.file, env, cwd);
  const read = await readConfigFile(file);
  const version = opts.version ?? getVersion();
  const base = await baseKey(read, version);
  const flag = opts.stateDir ? resolve(cwd, opts.stateDir) : undefined;
  const stateDir = cacheStateDir(read, flag, env);
  const cacheFile =
    stateDir === undefined ? undefined : join(stateDir, 'cache', `config-${sha256(file).slice(0, 16)}.json`);
  // File modes change without the text changing: the trust warnings are never cached.
  const done = async (loaded: LoadedConfig, cache: ConfigCacheUse): Promise<CachedLoadedConfig> => {
    const trust = await fileTrustWarnings(file, loaded.config);
    return withStateDirFlag({ ...loaded, warnings: [...loaded.warnings, ...trust], cache }, flag, cwd);
  };
  let reason = 'the state directory cannot be told without validating (see docs/configuration.md)';
  if (cacheFile) {
    const hit = await readEntry(cacheFile, read, base, env);
    if ('loaded' in hit) return done(hit.loaded, { status: 'hit', file: cacheFile });
    reason = hit.reason;
  }

  // Validate fully, recording what the validation reads.
  const recorder = recordingEnv(env);
  const scalars: ScalarSource[] = [];
  const { validateConfigFile } = await import('./load.js');
  const loaded = validateConfigFile(read, { env: recorder.env, onScalar: (s) => scalars.push(s) });
  if (!cacheFile) return done(loaded, { status: 'not-stored', reason });
  const why = unstorableReason(withStateDirFlag(loaded, flag, cwd), stateDir, recorder);
  const entry = why ? undefined : buildEntry(loaded, read, scalars, base, recorder.read, env);
  if (why || typeof entry === 'string') {
    return done(loaded, { status: 'not-stored', reason: why ?? (entry as string), file: cacheFile });
  }
  // Loading a config creates no state directory; the run that needs one does.
  if (!(await isDirectory(dirname(dirname(cacheFile))))) {
    return done(loaded, { status: 'not-stored', reason: 'no state directory yet', file: cacheFile });
  }
  try {
    await mkdir(dirname(cacheFile), { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
    // A writer killed mid-write left its temp file; nothing else cleans this folder.
    await removeDeadTempFiles([dirname(cacheFile)]);
    await writeFileAtomic(cacheFile, `${JSON.stringify(entry)}\n`, { mode: 0o600, isDurable: false });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    return done(loaded, { status: 'not-stored', reason: `cannot write it (${code})`, file: cacheFile });
  }
  return done(loaded, { status: 'stored', reason, file: cacheFile });
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

function sha256(s: string | Buffer): string {
  return createHash('sha256').update(s).digest('hex');
}

/**
 * The system time zone's identity without starting Intl (which costs tens of ms and 8 MiB):
 * what `/etc/localtime` points at and its file, which ICU reads when `TZ` is not set.
 */
async function localTimeId(): Promise<unknown> {
  const [link, st] = await Promise.all([
    readlink('/etc/localtime').catch(() => null),
    stat('/etc/localtime').catch(() => null),
  ]);
  return [link, st ? [st.dev, st.ino, st.size, st.mtimeMs] : null];
}

/** What the validation depends on besides the environment it reads. */
async function baseKey(read: ConfigFileText, version: string): Promise<string> {
  return JSON.stringify([
    CACHE_FORMAT,
    version,
    await buildId(),
    process.version,
    read.file,
    sha256(read.text),
    read.mode,
    process.getuid?.() ?? -1,
    hostname(),
    process.env.TZ ?? null,
    await localTimeId(),
  ]);
}

/** The entry's key: the base and the values of the environment variables the validation read. */
function entryKey(base: string, names: readonly string[], env: NodeJS.ProcessEnv): string {
  return sha256(JSON.stringify([base, names.map((n) => [n, env[n] ?? null])]));
}

/**
 * Where the cache of this file lives: the state directory the run will use (`--state-dir`,
 * else `$RESTICPROM_STATE_DIR`, else the config's `state-dir`, else the default: the one
 * precedence of {@link resolveStateDir}), the file's `state-dir` told from the text without
 * parsing it; undefined when that is not a plain value. The validation confirms it before
 * anything is stored there.
 */
function cacheStateDir(read: ConfigFileText, flag: string | undefined, env: NodeJS.ProcessEnv) {
  const lines = read.text.match(/^state-dir[ \t]*:.*$/gm) ?? [];
  if (lines.length > 1) return undefined;
  let configured: string | undefined;
  if (lines.length === 1) {
    let v = (lines[0] as string).replace(/^state-dir[ \t]*:[ \t]*/, '').replace(/\r$/, '');
    const quoted = /^(["'])([^"'\\]*)\1[ \t]*(#.*)?$/.exec(v);
    if (quoted) v = quoted[2] as string;
    else {
      v = v.replace(/[ \t]+#.*$/, '').trim();
      if (v === '' || /^[-?:,[\]{}#&*!|>'"%@`~]/.test(v) || v === 'null') return undefined;
    }
    if (v === '' || v.includes('${')) return undefined;
    configured = resolve(dirname(read.file), v);
  }
  return resolveStateDir({ flag, env, configured });
}

async function readEntry(
  cacheFile: string,
  read: ConfigFileText,
  base: string,
  env: NodeJS.ProcessEnv,
): Promise<{ loaded: LoadedConfig } | { reason: string }> {
  const got = await readTrustedFile(cacheFile);
  if ('reason' in got) return { reason: got.reason === 'missing' ? 'no entry yet' : got.reason };
  let entry: CacheEntry;
  try {
    entry = JSON.parse(got.content.toString('utf8')) as CacheEntry;
  } catch {
    return { reason: 'it is not valid JSON' };
  }
  if (!isEntry(entry)) return { reason: 'it is not a cache entry' };
  if (entry.format !== CACHE_FORMAT) return { reason: 'an older format' };
  if (entry.key !== entryKey(base, entry.env, env)) return { reason: 'changed' };
  const config = entry.loaded.config as unknown as Record<string, unknown>;
  for (const s of entry.secrets) {
    const value = restoreSecret(read.text, s, env);
    if (value === undefined || !setAt(config, s.path, value))
      return { reason: 'a secret cannot be read again' };
  }
  return { loaded: entry.loaded };
}

function isEntry(v: unknown): v is CacheEntry {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Partial<CacheEntry>;
  return (
    typeof e.format === 'number' &&
    typeof e.key === 'string' &&
    Array.isArray(e.env) &&
    e.env.every((n) => typeof n === 'string') &&
    typeof e.loaded === 'object' &&
    e.loaded !== null &&
    typeof e.loaded.file === 'string' &&
    typeof e.loaded.config === 'object' &&
    e.loaded.config !== null &&
    Array.isArray(e.loaded.warnings) &&
    Array.isArray(e.secrets) &&
    e.secrets.every(
      (s) =>
        Array.isArray(s?.path) &&
        s.path.every((p) => typeof p === 'string') &&
        Number.isInteger(s.start) &&
        Number.isInteger(s.end) &&
        typeof s.type === 'string',
    )
  );
}

/** An environment that records every variable read from it. */
function recordingEnv(env: NodeJS.ProcessEnv) {
  const read = new Set<string>();
  const state = { isEnumerated: false };
  const proxy = new Proxy(env, {
    get(target, key) {
      if (typeof key === 'string') read.add(key);
      return Reflect.get(target, key);
    },
    has(target, key) {
      if (typeof key === 'string') read.add(key);
      return Reflect.has(target, key);
    },
    getOwnPropertyDescriptor(target, key) {
      if (typeof key === 'string') read.add(key);
      return Reflect.getOwnPropertyDescriptor(target, key);
    },
    ownKeys(target) {
      state.isEnumerated = true;
      return Reflect.ownKeys(target);
    },
  });
  return { env: proxy, read, state };
}

function unstorableReason(
  loaded: LoadedConfig,
  guessed: string | undefined,
  recorder: ReturnType<typeof recordingEnv>,
): string | undefined {
  if (recorder.state.isEnumerated) return 'the validation read the whole environment';
  if (loaded.config.stateDir !== guessed)
    return 'the state directory cannot be told without validating (see docs/configuration.md)';
  if (!isJsonData(loaded)) return 'the config holds values JSON cannot carry';
  return undefined;
}

/** A key that names a secret, unless it names where one is (a file, a variable, a command). */
const SECRET_KEY = /password|passphrase|token|secret|credential|api.?key|cookie|session/i;
const REFERENCE_KEY = /(file|env|command|path)$/i;

/** True for a string of the config that may be a secret, by where it is. */
function isSecretPlace(path: readonly string[]): boolean {
  const key = path.at(-1) ?? '';
  const parent = path.at(-2);
  if (key === 'value' || parent === 'env' || parent === 'headers') return true;
  return SECRET_KEY.test(key) && !REFERENCE_KEY.test(key);
}

/** Builds the entry, or says why the config cannot be stored. */
function buildEntry(
  loaded: LoadedConfig,
  read: ConfigFileText,
  scalars: readonly ScalarSource[],
  base: string,
  envRead: ReadonlySet<string>,
  env: NodeJS.ProcessEnv,
): CacheEntry | string {
  const config = structuredClone(loaded.config) as unknown as Record<string, unknown>;
  const secrets: StoredSecret[] = [];
  const values: string[] = [];
  let missing: string | undefined;
  walkStrings(config, [], (path, value, holder, key) => {
    if (value === '' || !isSecretPlace(path)) return;
    const source = scalars.find((s) => {
      const place = { path, start: s.start, end: s.end, type: s.type };
      return decodeScalar(read.text, place) === s.written && restoreSecret(read.text, place, env) === value;
    });
    if (!source) {
      missing ??= path.join('.');
      return;
    }
    secrets.push({ path, start: source.start, end: source.end, type: source.type });
    values.push(value);
    (holder as Record<string | number, unknown>)[key] = '';
  });
  if (missing) return `the secret at ${missing} cannot be read again from the file`;
  const names = [...envRead].sort();
  const entry: CacheEntry = {
    format: CACHE_FORMAT,
    key: entryKey(base, names, env),
    env: names,
    loaded: { file: loaded.file, config: config as unknown as Config, warnings: loaded.warnings },
    secrets,
  };
  const text = JSON.stringify(entry);
  // A secret copied into another value (a URL, a warning) would still be written: do not store.
  if (values.some((v) => text.includes(JSON.stringify(v).slice(1, -1))))
    return 'a secret value appears outside its place';
  return entry;
}

type Holder = Record<string, unknown> | unknown[];

function walkStrings(
  node: unknown,
  path: string[],
  visit: (path: string[], value: string, holder: Holder, key: string | number) => void,
): void {
  if (Array.isArray(node)) {
    node.forEach((v, i) => {
      if (typeof v === 'string') visit([...path, String(i)], v, node, i);
      else walkStrings(v, [...path, String(i)], visit);
    });
  } else if (typeof node === 'object' && node !== null) {
    const rec = node as Record<string, unknown>;
    for (const [k, v] of Object.entries(rec)) {
      if (typeof v === 'string') visit([...path, k], v, rec, k);
      else walkStrings(v, [...path, k], visit);
    }
  }
}

/** True when `v` survives JSON unchanged (plain objects, arrays, strings, finite numbers, booleans, null). */
function isJsonData(v: unknown): boolean {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) return v.every(isJsonData);
  if (typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return false;
  return Object.values(v).every((x) => x === undefined || isJsonData(x));
}

/**
 * The value a scalar is written as, for the simple forms only (one line: plain, single-quoted,
 * double-quoted without escapes); undefined for any other form.
 */
function decodeScalar(text: string, s: StoredSecret): string | undefined {
  if (s.start < 0 || s.end > text.length || s.start >= s.end) return undefined;
  const src = text.slice(s.start, s.end);
  if (/[\r\n]/.test(src)) return undefined;
  if (s.type === 'PLAIN') return src;
  const inner = src.slice(1, -1);
  if (s.type === 'QUOTE_SINGLE' && /^'.*'$/.test(src)) return inner.replaceAll("''", "'");
  if (s.type === 'QUOTE_DOUBLE' && /^".*"$/.test(src) && !inner.includes('\\')) return inner;
  return undefined;
}

/** A secret read again from where it is written, interpolated like the validation does. */
function restoreSecret(text: string, s: StoredSecret, env: NodeJS.ProcessEnv): string | undefined {
  const written = decodeScalar(text, s);
  if (written === undefined) return undefined;
  if (!written.includes('${')) return written;
  const done = interpolateValue(written, env);
  return done.problems.length > 0 ? undefined : done.value;
}

function setAt(root: Record<string, unknown>, path: readonly string[], value: string): boolean {
  let node: unknown = root;
  for (const seg of path.slice(0, -1)) {
    if (typeof node !== 'object' || node === null) return false;
    node = (node as Record<string, unknown>)[seg];
  }
  const last = path.at(-1);
  if (typeof node !== 'object' || node === null || last === undefined) return false;
  if (typeof (node as Record<string, unknown>)[last] !== 'string') return false;
  (node as Record<string, unknown>)[last] = value;
  return true;
}
