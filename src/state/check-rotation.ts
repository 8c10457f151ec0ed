/**
 * Where a rotating data check (`check: { read-data: rotate, cycle: N }`) stands, per
 * profile, in `<state-dir>/check-rotation.json`: the next part k of N to read
 * (`restic check --read-data-subset k/N`), when the current cycle started, whether
 * every part read in it so far was free of errors, and when a full cycle last
 * completed. Written atomically (0600); a missing or unreadable file starts over at
 * part 1 (the only cost: one cycle read again).
 */

import { join } from 'node:path';
import { writeFileAtomic } from './dir.js';
import { readFile } from './io.js';

/** One profile's rotation. */
export interface CheckRotation {
  /** Parts per cycle the position was counted for; another cycle length starts over. */
  cycle: number;
  /** The next part to read, 1..cycle. */
  next: number;
  /** When part 1 of the current cycle was read, Unix ms; absent before the first. */
  cycleStartedAt?: number;
  /** True while every part of the current cycle read so far was free of errors. */
  isCycleClean: boolean;
  /** When the last full cycle without errors completed, Unix ms. */
  fullCycleCompletedAt?: number;
}

/** The file of every profile's rotation. */
export function checkRotationPath(stateDir: string): string {
  return join(stateDir, 'check-rotation.json');
}

async function readAll(stateDir: string): Promise<Record<string, CheckRotation>> {
  try {
    const v = JSON.parse(await readFile(checkRotationPath(stateDir), 'utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, CheckRotation>)
      : {};
  } catch {
    return {};
  }
}

/** A profile's rotation for a cycle length: the stored one, or a fresh one at part 1. */
export async function loadCheckRotation(
  stateDir: string,
  profile: string,
  cycle: number,
): Promise<CheckRotation> {
  const r = (await readAll(stateDir))[profile];
  const isValid =
    r !== undefined &&
    r.cycle === cycle &&
    Number.isInteger(r.next) &&
    r.next >= 1 &&
    r.next <= cycle &&
    typeof r.isCycleClean === 'boolean';
  if (isValid) return r;
  const fresh: CheckRotation = { cycle, next: 1, isCycleClean: true };
  if (typeof r?.fullCycleCompletedAt === 'number') fresh.fullCycleCompletedAt = r.fullCycleCompletedAt;
  return fresh;
}

/**
 * The rotation after part `r.next` was read: the next part, the cycle's cleanliness,
 * and the completion time when this was the last part of a cycle read from its start
 * without errors.
 */
export function advanceCheckRotation(
  r: CheckRotation,
  read: { hasErrors: boolean; startedAt: number; endedAt: number },
): CheckRotation {
  const isFirst = r.next === 1;
  const out: CheckRotation = {
    cycle: r.cycle,
    next: (r.next % r.cycle) + 1,
    isCycleClean: (isFirst || r.isCycleClean) && !read.hasErrors,
  };
  const started = isFirst ? read.startedAt : r.cycleStartedAt;
  if (started !== undefined) out.cycleStartedAt = started;
  if (r.fullCycleCompletedAt !== undefined) out.fullCycleCompletedAt = r.fullCycleCompletedAt;
  if (r.next === r.cycle && out.isCycleClean && started !== undefined)
    out.fullCycleCompletedAt = read.endedAt;
  return out;
}

/** Stores a profile's rotation (the other profiles' are kept). */
export async function saveCheckRotation(stateDir: string, profile: string, r: CheckRotation): Promise<void> {
  const all = await readAll(stateDir);
  all[profile] = r;
  await writeFileAtomic(checkRotationPath(stateDir), `${JSON.stringify(all, null, 2)}\n`);
}
