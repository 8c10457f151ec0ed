import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { appendRun, type RunRecord } from '../../src/state/history.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/services.js';

const temps: Array<() => void> = [];
after(() => {
  for (const c of temps) c();
});

function setup(): { config: string; stateDir: string } {
  const t = makeTempDir('resticprom-cli-status-');
  temps.push(t.cleanup);
  const stateDir = join(t.dir, 'state');
  const config = join(t.dir, 'resticprom.yaml');
  writeFileSync(
    config,
    `timezone: UTC
state-dir: ${stateDir}
profiles:
  nfs:
    repository: /srv/repo
    password-file: /etc/resticprom/nfs.pass
    paths: [/srv/nfs]
    tiers:
      daily: { schedule: "30 1 * * *" }
      weekly: { schedule: "0 3 * * 0" }
`,
    { mode: 0o600 },
  );
  return { config, stateDir };
}

function run(tier: string, outcome: RunRecord['outcome'], endedAt: number): RunRecord {
  return {
    v: 1,
    id: `${tier}-${endedAt}`,
    kind: 'backup',
    profile: 'nfs',
    tier,
    job: 'restic_backup',
    startedAt: endedAt - 1000,
    endedAt,
    outcome,
    exitCode: outcome === 'failed' ? 1 : 0,
    summary: { totalBytesProcessed: 1536 },
  };
}

describe('resticprom status', () => {
  before(async () => {
    await ensureBuilt();
  });

  it('exits 0 and shows WAITING when nothing ran yet on a fresh install', async () => {
    const { config } = setup();
    const res = await runCli(['status', '--config', config]);
    assert.equal(res.code, 0, res.stderr);
    const lines = res.stdout.trimEnd().split('\n');
    assert.match(
      lines[0] ?? '',
      /^PROFILE {2}TIER {4}STATE {4}LAST RUN {2}LAST SUCCESS {2}MAX AGE {2}NEXT RUN/,
    );
    assert.match(lines[1] ?? '', /^nfs {6}daily {3}WAITING {2}- /);
    assert.match(lines[2] ?? '', /^nfs {6}weekly {2}WAITING {2}- /);
    assert.equal(lines.length, 3);
    assert.doesNotMatch(res.stdout, /\x1b\[/); // not a terminal: no colours
  });

  it('exits 0 when every tier is OK, and prints JSON with --json', async () => {
    const { config, stateDir } = setup();
    const now = Date.now();
    await appendRun(stateDir, run('daily', 'success', now - 60_000));
    await appendRun(stateDir, run('weekly', 'warning', now - 120_000));
    const table = await runCli(['status', '--config', config]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /\nnfs {6}daily {3}OK {5}\d{4}-\d\d-\d\d \d\d:\d\d success {10}/);
    assert.match(table.stdout, /1\.50 KiB/);
    const json = await runCli(['status', '--config', config, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const out = JSON.parse(json.stdout) as { rows: Array<Record<string, unknown>> };
    assert.deepEqual(
      out.rows.map((r) => [r.tier, r.state, r.lastSuccess, r.lastSize, r.maxAgeMs]),
      [
        ['daily', 'OK', now - 60_000, 1536, 26 * 3_600_000],
        ['weekly', 'OK', now - 120_000, 1536, 8 * 24 * 3_600_000],
      ],
    );
  });

  it('exits 4 when a tier failed, and warns about a torn history line on stderr', async () => {
    const { config, stateDir } = setup();
    const now = Date.now();
    await appendRun(stateDir, run('daily', 'success', now - 60_000));
    await appendRun(stateDir, run('weekly', 'failed', now - 60_000));
    writeFileSync(join(stateDir, 'history.jsonl'), '{"v":1,"id":"torn', { flag: 'a' });
    const res = await runCli(['status', '--config', config, '--json']);
    assert.equal(res.code, 4);
    const out = JSON.parse(res.stdout) as { rows: Array<{ state: string }> };
    assert.deepEqual(
      out.rows.map((r) => r.state),
      ['OK', 'FAILED'],
    );
    assert.equal(
      res.stderr,
      `warning: ${join(stateDir, 'history.jsonl')} line 3: incomplete last line (a crash during a write), skipped\n`,
    );
  });

  it('exits 2 for a config that cannot be read', async () => {
    const t = makeTempDir('resticprom-cli-status-');
    temps.push(t.cleanup);
    const res = await runCli(['status', '--config', join(t.dir, 'missing.yaml')]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /missing\.yaml: the configuration file does not exist/);
  });
});
