/**
 * `resticprom_notifications_failed_total{type}`: notifications not delivered within
 * their run, counted per receiver type in `<stateDir>/notify/failed-total.json` so the
 * counter survives restarts, like the run counters.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../state/dir.js';
import { acquireLockFile } from '../state/lock.js';

/** Adds this run's failures (one type per failed notification) and returns the totals per type. */
export async function addNotificationFailures(
  stateDir: string,
  failedTypes: readonly string[],
): Promise<Record<string, number>> {
  const dir = join(stateDir, 'notify');
  const file = join(dir, 'failed-total.json');
  const lock = await acquireLockFile(join(dir, '.counters.lock'), {
    waitMs: 10_000,
    pollMs: 50,
    command: 'notification counters',
  });
  try {
    let totals: Record<string, number> = {};
    try {
      const parsed = JSON.parse(await readFile(file, 'utf8')) as unknown;
      if (parsed && typeof parsed === 'object') {
        for (const [k, v] of Object.entries(parsed)) if (typeof v === 'number' && v >= 0) totals[k] = v;
      }
    } catch (err) {
      // Missing: nothing counted yet. Unreadable: start again from zero (a counter reset,
      // which Prometheus' rate() handles) rather than stop the run.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') totals = {};
    }
    if (failedTypes.length === 0) return totals;
    for (const t of failedTypes) totals[t] = (totals[t] ?? 0) + 1;
    await writeFileAtomic(file, `${JSON.stringify(totals)}\n`);
    return totals;
  } finally {
    await lock.release();
  }
}
