import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/index.js';
import { noteTiersSeen } from '../../src/state/first-seen.js';
import { appendRun, type RunRecord } from '../../src/state/history.js';
import { computeStatus, formatStatusTable, isHealthy } from '../../src/state/status.js';
import { makeTempDir } from '../helpers/services.js';

const temps: Array<() => void> = [];
after(() => {
  for (const c of temps) c();
});

const H = 3_600_000;
/** Friday 2024-05-10 12:00 UTC. */
const NOW = Date.UTC(2024, 4, 10, 12, 0);

const YAML = `
timezone: UTC
profiles:
  nfs:
    repository: /srv/repo
    password-file: /etc/resticprom/nfs.pass
    paths: [/srv/nfs]
    tiers:
      sub-daily: { schedule: "0 */4 * * *" }
      daily: { schedule: "30 1 * * *" }
      weekly: { schedule: "0 3 * * 0" }
      monthly: { schedule: "0 4 1 * *" }
  db:
    repository: /srv/db-repo
    password-file: /etc/resticprom/db.pass
    paths: [/var/lib/db]
    tiers:
      daily: { schedule: "0 2 * * *", max-age: 2h }
`;

function run(profile: string, tier: string, endedAt: number, over: Partial<RunRecord> = {}): RunRecord {
  return {
    v: 1,
    id: `${profile}-${tier}-${endedAt}`,
    kind: 'backup',
    profile,
    tier,
    job: 'restic_backup',
    startedAt: endedAt - 60_000,
    endedAt,
    outcome: 'success',
    exitCode: 0,
    ...over,
  };
}

async function setup() {
  const t = makeTempDir('resticprom-status-');
  temps.push(t.cleanup);
  const stateDir = t.dir;
  const config = parseConfigText(YAML, { file: '/c.yaml', env: {} }).config;
  const sum = (bytes: number) => ({ totalBytesProcessed: bytes, filesNew: 1 });
  await appendRun(stateDir, run('nfs', 'sub-daily', NOW - 5 * H, { summary: sum(1000) }));
  await appendRun(stateDir, run('nfs', 'sub-daily', NOW - H, { summary: sum(2048) }));
  await appendRun(stateDir, run('nfs', 'daily', NOW - 30 * H, { summary: sum(5) }));
  await appendRun(stateDir, run('nfs', 'weekly', NOW - 48 * H));
  await appendRun(
    stateDir,
    run('nfs', 'weekly', NOW - 24 * H, { outcome: 'failed', exitCode: 1, reason: 'wrong-password' }),
  );
  // A forget run of the same tier is not a backup: it does not change the backup's state.
  await appendRun(stateDir, run('nfs', 'monthly', NOW - H, { kind: 'forget' }));
  // Warning: restic exit 3, a snapshot was written; counts as a success.
  await appendRun(
    stateDir,
    run('db', 'daily', NOW - H, { outcome: 'warning', exitCode: 3, summary: sum(7) }),
  );
  // The config named nfs/monthly 60 days ago and it never ran: NEVER, not WAITING.
  await noteTiersSeen(stateDir, ['nfs/monthly'], NOW - 60 * 24 * H);
  const outbox = join(stateDir, 'outbox');
  mkdirSync(join(outbox, 'dead'), { recursive: true });
  writeFileSync(join(outbox, '1715342400000-000001-0123abcd.json'), '{}');
  writeFileSync(join(outbox, '.1715342400000-000002-0123abcd.json.1.ab.tmp'), '');
  writeFileSync(join(outbox, '.lock'), '');
  writeFileSync(join(outbox, 'dead', '1715342400000-000000-0123abcd.json'), '{}');
  writeFileSync(join(outbox, 'dead', '1715342400000-000003-0123abcd.corrupt'), 'x');
  return { stateDir, config };
}

describe('status', () => {
  it('gives each profile and tier its exact state at a fixed time', async () => {
    const { stateDir, config } = await setup();
    const report = await computeStatus({ config, stateDir, now: NOW });
    assert.deepEqual(report.warnings, []);
    assert.equal(report.now, NOW);
    // The outbox holds only files that are no usable entry: they belong to no tier.
    const common = { pendingDeliveries: 0, deadLetters: 0 };
    assert.deepEqual(report.rows, [
      {
        profile: 'nfs',
        tier: 'sub-daily',
        state: 'OK',
        schedule: '0 */4 * * *',
        lastRun: { startedAt: NOW - H - 60_000, endedAt: NOW - H, outcome: 'success', exitCode: 0 },
        lastSuccess: NOW - H,
        ageMs: H,
        maxAgeMs: 6 * H,
        nextRun: Date.UTC(2024, 4, 10, 16, 0),
        lastSize: 2048,
        ...common,
      },
      {
        profile: 'nfs',
        tier: 'daily',
        state: 'LATE',
        schedule: '30 1 * * *',
        lastRun: { startedAt: NOW - 30 * H - 60_000, endedAt: NOW - 30 * H, outcome: 'success', exitCode: 0 },
        lastSuccess: NOW - 30 * H,
        ageMs: 30 * H,
        maxAgeMs: 26 * H,
        nextRun: Date.UTC(2024, 4, 11, 1, 30),
        lastSize: 5,
        ...common,
      },
      {
        profile: 'nfs',
        tier: 'weekly',
        state: 'FAILED',
        schedule: '0 3 * * 0',
        lastRun: {
          startedAt: NOW - 24 * H - 60_000,
          endedAt: NOW - 24 * H,
          outcome: 'failed',
          exitCode: 1,
          reason: 'wrong-password',
        },
        lastSuccess: NOW - 48 * H,
        ageMs: 48 * H,
        maxAgeMs: 8 * 24 * H,
        nextRun: Date.UTC(2024, 4, 12, 3, 0),
        ...common,
      },
      {
        profile: 'nfs',
        tier: 'monthly',
        state: 'NEVER',
        schedule: '0 4 1 * *',
        firstSeen: NOW - 60 * 24 * H,
        maxAgeMs: 32 * 24 * H,
        nextRun: Date.UTC(2024, 5, 1, 4, 0),
        ...common,
      },
      {
        profile: 'db',
        tier: 'daily',
        state: 'OK',
        schedule: '0 2 * * *',
        lastRun: { startedAt: NOW - H - 60_000, endedAt: NOW - H, outcome: 'warning', exitCode: 3 },
        lastSuccess: NOW - H,
        ageMs: H,
        maxAgeMs: 2 * H,
        nextRun: Date.UTC(2024, 4, 11, 2, 0),
        lastSize: 7,
        ...common,
      },
    ]);
    assert.equal(isHealthy(report.rows), false);
    assert.equal(isHealthy(report.rows.filter((r) => r.state === 'OK')), true);
  });

  it('turns OK into LATE exactly when the max age is passed', async () => {
    const { stateDir, config } = await setup();
    const at = async (now: number) =>
      (await computeStatus({ config, stateDir, now })).rows.find((r) => r.profile === 'db')?.state;
    assert.equal(await at(NOW + H), 'OK'); // age 2h = max age
    assert.equal(await at(NOW + H + 1), 'LATE');
  });

  it('renders the table', async () => {
    const { stateDir, config } = await setup();
    const report = await computeStatus({ config, stateDir, now: NOW });
    assert.equal(
      formatStatusTable(report, { timeZone: 'UTC' }),
      [
        'PROFILE  TIER       STATE   LAST RUN                                          LAST SUCCESS                  MAX AGE  NEXT RUN          LAST SIZE  PENDING  DEAD',
        'nfs      sub-daily  OK      2024-05-10 11:00 success                          2024-05-10 11:00 (1h00m ago)  6h00m    2024-05-10 16:00  2.00 KiB   0        0',
        'nfs      daily      LATE    2024-05-09 06:00 success                          2024-05-09 06:00 (1d6h ago)   1d2h     2024-05-11 01:30  5 B        0        0',
        'nfs      weekly     FAILED  2024-05-09 12:00 failed (exit 1, wrong-password)  2024-05-08 12:00 (2d0h ago)   8d0h     2024-05-12 03:00  -          0        0',
        'nfs      monthly    NEVER   -                                                 -                             32d0h    2024-06-01 04:00  -          0        0',
        'db       daily      OK      2024-05-10 11:00 warning (exit 3)                 2024-05-10 11:00 (1h00m ago)  2h00m    2024-05-11 02:00  7 B        0        0',
        '',
      ].join('\n'),
    );
    const colored = formatStatusTable(report, { timeZone: 'UTC', isColored: true });
    assert.match(colored, /\n\S+\s+\S+\s+\x1b\[31mFAILED\x1b\[0m {2}/);
  });

  it('reports WAITING everywhere for an empty state directory (a fresh install)', async () => {
    const t = makeTempDir('resticprom-status-');
    temps.push(t.cleanup);
    const config = parseConfigText(YAML, { file: '/c.yaml', env: {} }).config;
    const report = await computeStatus({ config, stateDir: t.dir, now: NOW });
    assert.deepEqual(
      report.rows.map((r) => [r.state, r.pendingDeliveries, r.deadLetters]),
      Array(5).fill(['WAITING', 0, 0]),
    );
    assert.equal(isHealthy(report.rows), true);
  });
});
