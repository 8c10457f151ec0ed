/**
 * A crafted state for the web tests: a config with four tiers in four states
 * (OK, LATE, FAILED, NEVER), a history of backup runs, and their latest metrics.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Daemon, startDaemon } from '../../src/schedule/daemon.js';
import { tiersSeenPath } from '../../src/state/first-seen.js';
import { appendRun, type RunRecord } from '../../src/state/history.js';
import { saveLatestMetrics } from '../../src/state/latest.js';

/** The fixed "now" of the fixture: 2024-06-15 12:00 UTC. */
export const NOW = Date.UTC(2024, 5, 15, 12, 0, 0);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** What {@link writeFixture} made. */
export interface WebFixture {
  configFile: string;
  stateDir: string;
  /** The history records, by `profile/tier`, oldest first. */
  runs: Record<string, RunRecord[]>;
}

function summary(i: number) {
  return {
    filesNew: 10 + i,
    filesChanged: 3 * i,
    filesUnmodified: 1000,
    dirsNew: 1,
    dirsChanged: 2,
    dirsUnmodified: 50,
    dataBlobs: 12,
    treeBlobs: 3,
    dataAdded: 1_000_000 * (i + 1),
    totalFilesProcessed: 1013 + 4 * i,
    totalBytesProcessed: 50_000_000 + 1_000_000 * i,
    totalDuration: 30 + i,
    snapshotId: `abcd000${i}`,
    dryRun: false,
  };
}

function record(
  profile: string,
  tier: string,
  startedAt: number,
  durationMs: number,
  outcome: RunRecord['outcome'],
  i: number,
): RunRecord {
  const r: RunRecord = {
    v: 1,
    id: randomUUID(),
    kind: 'backup',
    profile,
    tier,
    job: 'restic_backup',
    startedAt,
    endedAt: startedAt + durationMs,
    outcome,
    exitCode: outcome === 'failed' ? 1 : 0,
  };
  if (outcome === 'failed') r.reason = 'wrong-password';
  else r.summary = summary(i);
  return r;
}

/** Writes the config file, the history and the latest metrics under `dir`. */
export async function writeFixture(
  dir: string,
  opts: { listen?: string; basicAuthPasswordFile?: string } = {},
): Promise<WebFixture> {
  const stateDir = join(dir, 'state');
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  // The config has named these tiers for 90 days: a tier that never ran is NEVER, not WAITING.
  const seen = Object.fromEntries(
    ['nfs/daily', 'nfs/weekly', 'nfs/monthly', 'db/hourly'].map((k) => [k, NOW - 90 * DAY]),
  );
  writeFileSync(tiersSeenPath(stateDir), JSON.stringify({ v: 1, tiers: seen }), { mode: 0o600 });
  writeFileSync(join(dir, 'password'), 'not-used\n', { mode: 0o600 });
  const auth = opts.basicAuthPasswordFile
    ? `  basic-auth:\n    username: monitor\n    password-file: ${opts.basicAuthPasswordFile}\n`
    : '';
  const configFile = join(dir, 'resticprom.yaml');
  writeFileSync(
    configFile,
    `state-dir: ${stateDir}
timezone: UTC
hostname: web-test
daemon:
  listen: ${opts.listen ?? '127.0.0.1:0'}
  run-missed: false
${auth}profiles:
  nfs:
    repository: ${join(dir, 'repo')}
    password-file: ${join(dir, 'password')}
    paths: [${join(dir, 'src')}]
    tiers:
      daily: { schedule: "0 3 * * *" }
      weekly: { schedule: "0 4 * * 0" }
      monthly: { schedule: "0 5 1 * *" }
  db:
    repository: ${join(dir, 'repo-db')}
    password-file: ${join(dir, 'password')}
    paths: [${join(dir, 'db')}]
    tiers:
      hourly: { schedule: "0 * * * *" }
`,
    { mode: 0o600 },
  );

  const runs: Record<string, RunRecord[]> = {
    'nfs/daily': [],
    'nfs/weekly': [],
    'nfs/monthly': [],
    'db/hourly': [],
  };
  // nfs/daily: five daily runs at 03:00, one failed in the middle, the last a success 9h ago -> OK.
  for (let i = 0; i < 5; i++) {
    const startedAt = NOW - 9 * HOUR - (4 - i) * DAY;
    runs['nfs/daily']?.push(
      record('nfs', 'daily', startedAt, 40_000 + 5_000 * i, i === 2 ? 'failed' : 'success', i),
    );
  }
  // nfs/weekly: last success 20 days ago (max age 8d) -> LATE.
  runs['nfs/weekly']?.push(record('nfs', 'weekly', NOW - 27 * DAY, 60_000, 'success', 1));
  runs['nfs/weekly']?.push(record('nfs', 'weekly', NOW - 20 * DAY, 65_000, 'success', 2));
  // db/hourly: one success, then the last run failed -> FAILED.
  runs['db/hourly']?.push(record('db', 'hourly', NOW - 2 * HOUR, 5_000, 'success', 0));
  runs['db/hourly']?.push(record('db', 'hourly', NOW - 1 * HOUR, 1_000, 'failed', 1));
  // nfs/monthly: never ran -> NEVER.
  const all = Object.values(runs)
    .flat()
    .sort((a, b) => a.endedAt - b.endedAt);
  for (const r of all) await appendRun(stateDir, r);

  for (const tier of ['daily', 'weekly']) {
    const last = runs[`nfs/${tier}`]?.at(-1);
    const s = last?.summary as ReturnType<typeof summary>;
    await saveLatestMetrics(
      stateDir,
      {
        kind: 'backup',
        profile: 'nfs',
        tier,
        job: 'restic_backup',
        grouping: { instance: 'web-test', profile: 'nfs', tier },
        text: `# HELP restic_backup_processed_files How many files were processed
# TYPE restic_backup_processed_files gauge
restic_backup_processed_files{host="web-test"} ${s.totalFilesProcessed}
# HELP restic_backup_status Outcome of the last run: 0 failed, 1 warning, 2 success
# TYPE restic_backup_status gauge
restic_backup_status{host="web-test"} 2
`,
      },
      { now: () => last?.endedAt ?? NOW },
    );
  }
  return { configFile, stateDir, runs };
}

/**
 * Starts the daemon in this process on a fixture's config, its clock stopped at {@link NOW},
 * quiet, and with runs that do nothing (the fixture's history is what the page shows).
 */
export function startFixtureDaemon(fx: Pick<WebFixture, 'configFile'>): Promise<Daemon> {
  return startDaemon({
    configFile: fx.configFile,
    now: () => NOW,
    log: { info: () => {}, warn: () => {}, error: () => {} },
    runJob: async () => ({ outcome: 'success', message: '' }),
  });
}
