/**
 * When each profile/tier was first seen in a loaded config: `<stateDir>/tiers-seen.json`
 * (mode 0600). `status` judges a tier that has never run against it: `WAITING` until the
 * tier's first scheduled run after that moment plus its max age has passed, then `NEVER`.
 * Written atomically; only new tiers are added, so the first moment is kept.
 */

import { join } from 'node:path';
import { ensureStateDir, writeFileAtomic } from './dir.js';
import { readFile } from './io.js';

/** Unix ms a tier was first seen, keyed by {@link tierKey}. */
export type TiersSeen = Record<string, number>;

/** Returns the file's path. */
export function tiersSeenPath(stateDir: string): string {
  return join(stateDir, 'tiers-seen.json');
}

/** `nfs/daily`: the key of a profile's tier. */
export function tierKey(profile: string, tier: string): string {
  return `${profile}/${tier}`;
}

/** The keys of every tier of a config, in config order. */
export function configTierKeys(config: {
  profiles: Record<string, { tiers: Record<string, unknown> }>;
}): string[] {
  return Object.entries(config.profiles).flatMap(([p, c]) => Object.keys(c.tiers).map((t) => tierKey(p, t)));
}

/** Reads the file; a missing or unreadable file is an empty record. */
export async function readTiersSeen(stateDir: string): Promise<TiersSeen> {
  try {
    const v = JSON.parse(await readFile(tiersSeenPath(stateDir), 'utf8')) as { tiers?: unknown };
    const out: TiersSeen = {};
    if (typeof v.tiers === 'object' && v.tiers !== null) {
      for (const [k, t] of Object.entries(v.tiers)) if (typeof t === 'number') out[k] = t;
    }
    return out;
  } catch {
    return {};
  }
}

/**
 * Records `now` for every key not yet in the file and returns the whole record (the new
 * keys included). When the file cannot be written (a read-only state directory, another
 * user's), the returned record still has the new keys at `now`, so the caller can judge.
 */
export async function noteTiersSeen(
  stateDir: string,
  keys: readonly string[],
  now: number = Date.now(),
): Promise<TiersSeen> {
  const seen = await readTiersSeen(stateDir);
  const added = keys.filter((k) => seen[k] === undefined);
  if (added.length === 0) return seen;
  for (const k of added) seen[k] = now;
  try {
    await ensureStateDir(stateDir);
    await writeFileAtomic(tiersSeenPath(stateDir), `${JSON.stringify({ v: 1, tiers: seen })}\n`);
  } catch {
    // judged from `now` this time; the next caller that may write records it
  }
  return seen;
}
