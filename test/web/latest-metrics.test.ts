import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseExposition, validateExposition } from '../../src/metrics/exposition.js';
import {
  latestPath,
  mergeLatestMetrics,
  readLatestMetrics,
  saveLatestMetrics,
} from '../../src/state/latest.js';
import { makeTempDir } from '../helpers/services.js';

const tmp = makeTempDir('resticprom-latest-');
after(() => tmp.cleanup());

const SUCCESS = `# HELP restic_backup_processed_files How many files were processed
# TYPE restic_backup_processed_files gauge
restic_backup_processed_files{profile="nfs",host="h1"} 120
# HELP restic_backup_last_success_timestamp_seconds When the last successful run ended, Unix seconds
# TYPE restic_backup_last_success_timestamp_seconds gauge
restic_backup_last_success_timestamp_seconds{profile="nfs",host="h1"} 1700000000
# HELP restic_backup_status Outcome of the last run
# TYPE restic_backup_status gauge
restic_backup_status{profile="nfs",host="h1"} 2
`;

const FAILURE = `# HELP restic_backup_status Outcome of the last run
# TYPE restic_backup_status gauge
restic_backup_status{profile="nfs",host="h1"} 0
`;

function values(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const fam = parseExposition(text).find((f) => f.name === name);
  return (fam?.samples ?? []).map((s) => ({ labels: s.labels, value: s.value }));
}

describe('latest metrics', () => {
  it('names the file by kind, profile and tier, and writes it 0600', async () => {
    const dir = join(tmp.dir, 'a');
    const file = await saveLatestMetrics(
      dir,
      {
        kind: 'backup',
        profile: 'nfs',
        tier: 'daily',
        job: 'restic_backup',
        grouping: { instance: 'daily' },
        text: SUCCESS,
      },
      { now: () => 1_700_000_000_000 },
    );
    assert.equal(file, join(dir, 'latest', 'backup--nfs--daily.json'));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(join(dir, 'latest')), ['backup--nfs--daily.json']);
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    assert.equal(saved.savedAt, 1_700_000_000_000);
    assert.equal(saved.job, 'restic_backup');
    assert.equal(
      latestPath(dir, { kind: 'run', job: 'db-dump' }),
      join(dir, 'latest', 'run--job%3Ddb%2Ddump--_.json'),
    );
  });

  it('merges a later run like a Pushgateway POST: a failure keeps the last success timestamp', async () => {
    const dir = join(tmp.dir, 'b');
    const input = {
      kind: 'backup',
      profile: 'nfs',
      tier: 'daily',
      job: 'restic_backup',
      grouping: { instance: 'daily' },
    };
    await saveLatestMetrics(dir, { ...input, text: SUCCESS }, { now: () => 1_000 });
    await saveLatestMetrics(dir, { ...input, text: FAILURE }, { now: () => 2_000 });
    const { text, warnings } = await readLatestMetrics(dir);
    assert.deepEqual(warnings, []);
    const labels = { profile: 'nfs', host: 'h1', job: 'restic_backup', instance: 'daily' };
    assert.deepEqual(values(text, 'restic_backup_status'), [{ labels, value: 0 }]);
    assert.deepEqual(values(text, 'restic_backup_last_success_timestamp_seconds'), [
      { labels, value: 1700000000 },
    ]);
    assert.deepEqual(values(text, 'restic_backup_processed_files'), [{ labels, value: 120 }]);
    assert.deepEqual(values(text, 'push_time_seconds'), [
      { labels: { job: 'restic_backup', instance: 'daily' }, value: 2 },
    ]);
  });

  it('a changed grouping replaces the file instead of merging', async () => {
    const dir = join(tmp.dir, 'c');
    const input = { kind: 'backup', profile: 'nfs', tier: 'daily', job: 'restic_backup' };
    await saveLatestMetrics(dir, { ...input, grouping: { instance: 'daily' }, text: SUCCESS });
    await saveLatestMetrics(dir, { ...input, grouping: { instance: 'nfs-daily' }, text: FAILURE });
    const { text } = await readLatestMetrics(dir);
    assert.deepEqual(values(text, 'restic_backup_processed_files'), []);
    assert.equal(values(text, 'restic_backup_status')[0]?.labels.instance, 'nfs-daily');
  });

  it('merges groups into valid exposition text: one HELP/TYPE per family, each series once, instance="" added', () => {
    const merged = mergeLatestMetrics([
      {
        v: 1,
        kind: 'backup',
        profile: 'nfs',
        tier: 'daily',
        job: 'restic_backup',
        grouping: { instance: 'daily' },
        text: SUCCESS,
        savedAt: 5_000,
      },
      {
        v: 1,
        kind: 'backup',
        profile: 'nfs',
        tier: 'weekly',
        job: 'restic_backup',
        grouping: { instance: 'weekly' },
        text: SUCCESS,
        savedAt: 6_000,
      },
      // Same group as the first (another kind, same job and grouping): the newer series wins.
      {
        v: 1,
        kind: 'check',
        profile: 'nfs',
        tier: 'daily',
        job: 'restic_backup',
        grouping: { instance: 'daily' },
        text: FAILURE,
        savedAt: 7_000,
      },
      // No instance in the grouping: the gateway exposes instance="".
      {
        v: 1,
        kind: 'run',
        job: 'db_dump',
        grouping: {},
        text: '# TYPE resticprom_job_status gauge\nresticprom_job_status 2\n',
        savedAt: 8_000,
      },
      // A type clash with the first entry's family is left out with a warning.
      {
        v: 1,
        kind: 'run',
        job: 'odd',
        grouping: {},
        text: '# TYPE restic_backup_status counter\nrestic_backup_status 1\n',
        savedAt: 9_000,
      },
    ]);
    const fams = validateExposition(merged.text, { allowTimestamps: false });
    const statusFam = fams.find((f) => f.name === 'restic_backup_status');
    assert.deepEqual(
      statusFam?.samples.map((s) => [s.labels.instance, s.value]),
      [
        ['daily', 0],
        ['weekly', 2],
      ],
    );
    assert.equal(merged.text.match(/^# TYPE restic_backup_status /gm)?.length, 1);
    assert.deepEqual(values(merged.text, 'resticprom_job_status'), [
      { labels: { job: 'db_dump', instance: '' }, value: 2 },
    ]);
    assert.deepEqual(
      values(merged.text, 'push_time_seconds').map((s) => [s.labels.job, s.labels.instance, s.value]),
      [
        ['restic_backup', 'daily', 7],
        ['restic_backup', 'weekly', 6],
        ['db_dump', '', 8],
        ['odd', '', 9],
      ],
    );
    assert.deepEqual(merged.warnings, [
      'latest run/odd/-: restic_backup_status is a counter here but a gauge elsewhere; left out',
    ]);
  });

  it('an empty or missing state directory gives empty text', async () => {
    assert.deepEqual(await readLatestMetrics(join(tmp.dir, 'nothing')), { text: '', warnings: [] });
  });
});
