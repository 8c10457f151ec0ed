/**
 * `restic unlock`: removes the repository's stale locks (those of processes that are
 * gone, or older than 30 minutes); never `--remove-all`. resticprom runs it only when
 * the profile's `unlock-stale-locks` is true.
 */
import type { ResticCommandOptions } from './backup.js';
import { assertResticSucceeded, runResticCommand } from './run.js';

/**
 * Runs `restic unlock` and returns restic's own line (e.g. `successfully removed locks`).
 * @throws ResticCommandError (with `reason`) when restic fails, ResticError when it cannot start.
 */
export async function runUnlock(opts: ResticCommandOptions): Promise<string> {
  const run = await runResticCommand('unlock', ['unlock'], opts);
  assertResticSucceeded('unlock', run);
  return run.stdout.filter((l) => l.trim() !== '').join(' ') || 'no stale locks';
}

/** One restic lock in the repository (`restic cat lock <id>`). */
export interface ResticLock {
  /** The lock file's id (64 hex). */
  id: string;
  /** When it was created, Unix ms; undefined when restic could not read it. */
  time?: number;
  isExclusive?: boolean;
  hostname?: string;
  username?: string;
  pid?: number;
}

/**
 * Lists the repository's locks with `restic list locks` and reads each one
 * (`restic cat lock`), both with `--no-lock`.
 * @throws ResticCommandError when restic fails, ResticError when it cannot start.
 */
export async function listLocks(opts: ResticCommandOptions): Promise<ResticLock[]> {
  const run = await runResticCommand('list locks', ['list', 'locks', '--no-lock'], opts);
  assertResticSucceeded('list locks', run);
  const ids = run.stdout.map((l) => l.trim()).filter((l) => /^[0-9a-f]{64}$/.test(l));
  const locks: ResticLock[] = [];
  for (const id of ids) {
    const lock: ResticLock = { id };
    const cat = await runResticCommand('cat lock', ['cat', 'lock', id, '--no-lock'], opts);
    const json = cat.classification.outcome === 'success' ? parseJson(cat.stdout.join('\n')) : undefined;
    if (json && typeof json === 'object') {
      const j = json as Record<string, unknown>;
      if (typeof j.time === 'string') lock.time = Date.parse(j.time);
      if (typeof j.exclusive === 'boolean') lock.isExclusive = j.exclusive;
      if (typeof j.hostname === 'string') lock.hostname = j.hostname;
      if (typeof j.username === 'string') lock.username = j.username;
      if (typeof j.pid === 'number') lock.pid = j.pid;
    }
    locks.push(lock);
  }
  return locks;
}

/** What {@link unlockStale} removed. */
export interface UnlockReport {
  /** The locks restic removed (there before `restic unlock`, gone after). */
  removed: ResticLock[];
  /** The locks still there (held by live processes). */
  kept: ResticLock[];
}

/**
 * Removes the stale locks with `restic unlock` (never `--remove-all`) and says which:
 * the locks listed before and gone after.
 * @throws ResticCommandError when restic fails, ResticError when it cannot start.
 */
export async function unlockStale(opts: ResticCommandOptions): Promise<UnlockReport> {
  const before = await listLocks(opts);
  if (before.length === 0) return { removed: [], kept: [] };
  await runUnlock(opts);
  const after = new Set((await listLocks(opts)).map((l) => l.id));
  return {
    removed: before.filter((l) => !after.has(l.id)),
    kept: before.filter((l) => after.has(l.id)),
  };
}

/** `lock 1a2b3c4d (exclusive, root@db1 pid 4242, created 2026-12-02T01:00:00.000Z)`: one lock, for people. */
export function describeLock(lock: ResticLock): string {
  const parts: string[] = [];
  if (lock.isExclusive !== undefined) parts.push(lock.isExclusive ? 'exclusive' : 'shared');
  if (lock.hostname !== undefined) {
    parts.push(
      `${lock.username ? `${lock.username}@` : ''}${lock.hostname}${lock.pid !== undefined ? ` pid ${lock.pid}` : ''}`,
    );
  }
  if (lock.time !== undefined && Number.isFinite(lock.time))
    parts.push(`created ${new Date(lock.time).toISOString()}`);
  return `lock ${lock.id.slice(0, 8)}${parts.length ? ` (${parts.join(', ')})` : ''}`;
}

/** restic prints a lock as indented JSON over several lines. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
