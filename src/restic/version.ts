/**
 * Finds out which restic version a binary is, from `restic version`.
 */

import { isAbsolute, join, resolve } from 'node:path';
import { ResticCommandError } from '../errors.js';
import { access, constants, readFile, realpath, stat } from '../state/io.js';
import { assertResticSucceeded, runResticCommand } from './run.js';

/** A restic version, e.g. from `restic 0.14.0 compiled with go1.19.8 on linux/amd64`. */
export interface ResticVersion {
  /** `0.14.0` (a suffix such as `-dev` is kept). */
  version: string;
  major: number;
  minor: number;
  patch: number;
  /** Go version, e.g. `go1.19.8`, when printed. */
  goVersion?: string;
  /** `linux/amd64`, when printed. */
  platform?: string;
  /** The whole first line restic printed. */
  raw: string;
}

/** Options of {@link getResticVersion}. */
export interface GetResticVersionOptions {
  /**
   * The restic executable.
   * @default 'restic'
   */
  resticBinary?: string;
  /**
   * restic's environment.
   * @default process.env without RESTIC_PASSWORD*
   */
  env?: NodeJS.ProcessEnv;
  /**
   * Reuse the answer for the same binary (and PATH) from earlier calls.
   * @default true
   */
  useCache?: boolean;
}

const cache = new Map<string, Promise<ResticVersion>>();

/** Parses the first line of `restic version`; undefined when it is not restic's. */
export function parseResticVersion(text: string): ResticVersion | undefined {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? '';
  const m = /^restic (\d+)\.(\d+)\.(\d+)(\S*)(?: \(([^)]*)\))?(?: compiled with (\S+) on (\S+))?/.exec(
    line.trim(),
  );
  if (!m) return undefined;
  const v: ResticVersion = {
    version: `${m[1]}.${m[2]}.${m[3]}${m[4] ?? ''}`,
    major: Number(m[1]),
    minor: Number(m[2]),
    patch: Number(m[3]),
    raw: line.trim(),
  };
  if (m[6]) v.goVersion = m[6];
  if (m[7]) v.platform = m[7];
  return v;
}

/** True when version `v` is at least `major.minor.patch`. */
export function isResticAtLeast(v: Pick<ResticVersion, 'major' | 'minor' | 'patch'>, min: string): boolean {
  const [a = 0, b = 0, c = 0] = min.split('.').map(Number);
  if (v.major !== a) return v.major > a;
  if (v.minor !== b) return v.minor > b;
  return v.patch >= c;
}

/**
 * Runs `restic version` and returns the parsed version, cached per binary. Throws `ResticError`
 * when restic cannot be started and {@link ResticCommandError} when it fails or prints something else.
 *
 * @example
 * const v = await getResticVersion({ resticBinary: '/usr/bin/restic' });
 * if (isResticAtLeast(v, '0.17.0')) { ... }
 */
export async function getResticVersion(opts: GetResticVersionOptions = {}): Promise<ResticVersion> {
  const bin = opts.resticBinary ?? 'restic';
  const key = `${bin}\0${(opts.env ?? process.env).PATH ?? ''}`;
  const hit = opts.useCache === false ? undefined : cache.get(key);
  if (hit) return hit;
  const p = (async () => {
    const run = await runResticCommand(
      'version',
      ['version'],
      { resticBinary: bin, ...(opts.env !== undefined ? { env: opts.env } : {}) },
      { maxStdoutBytes: 64 * 1024 },
    );
    assertResticSucceeded('version', run);
    const v = parseResticVersion(run.stdout.join('\n'));
    if (!v) {
      throw new ResticCommandError(
        `${bin} version printed no restic version: ${run.stdout[0] ?? '(nothing)'}`,
        {
          command: 'version',
          reason: 'other',
        },
      );
    }
    return v;
  })();
  cache.set(key, p);
  // a failure is not cached: the binary may be installed later
  p.catch(() => cache.delete(key));
  return p;
}

/** Options of {@link getResticVersionCached}. */
export interface CachedVersionOptions extends GetResticVersionOptions {
  /** A JSON file remembering the answer for a binary (path, size, mtime). */
  cacheFile: string;
}

/** Finds an executable the way a shell would: as given when it has a `/`, else along PATH. */
async function locateExecutable(bin: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const candidates = bin.includes('/')
    ? [isAbsolute(bin) ? bin : resolve(bin)]
    : (env.PATH ?? '')
        .split(':')
        .filter(Boolean)
        .map((d) => join(d, bin));
  for (const c of candidates) {
    try {
      await access(c, constants.X_OK);
      return c;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * {@link getResticVersion}, remembered across processes in `cacheFile` for as long as
 * the binary (its resolved path, size and modification time) stays the same: a
 * backup run then starts no second restic just to learn its version.
 * Any problem with the cache file falls back to asking restic.
 */
export async function getResticVersionCached(opts: CachedVersionOptions): Promise<ResticVersion> {
  const env = opts.env ?? process.env;
  const located = await locateExecutable(opts.resticBinary ?? 'restic', env);
  const path = located ? await realpath(located).catch(() => located) : undefined;
  const st = path ? await stat(path).catch(() => undefined) : undefined;
  const id = path && st ? { path, size: st.size, mtimeMs: st.mtimeMs } : undefined;
  if (id) {
    try {
      const cached = JSON.parse(await readFile(opts.cacheFile, 'utf8')) as typeof id & { raw?: string };
      if (cached.path === id.path && cached.size === id.size && cached.mtimeMs === id.mtimeMs && cached.raw) {
        const v = parseResticVersion(cached.raw);
        if (v) return v;
      }
    } catch {
      // no cache yet, or unreadable: ask restic
    }
  }
  const v = await getResticVersion(opts);
  if (id) {
    const { writeFileAtomic } = await import('../state/dir.js');
    // A cache: after a power loss it may be missing, and restic is asked again.
    await writeFileAtomic(opts.cacheFile, `${JSON.stringify({ ...id, raw: v.raw })}\n`, {
      isDurable: false,
    }).catch(() => undefined);
  }
  return v;
}
