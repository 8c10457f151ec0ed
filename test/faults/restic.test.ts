/**
 * Faults of restic itself, replayed by the fake restic (the real one cannot do these on
 * demand): killed mid-run, silent until the inactivity timeout, garbage lines, a 20 MB
 * line, invalid UTF-8, and no summary. Each run must end with its documented outcome, say
 * what happened, and still push its metrics to the real Pushgateway.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readHistory } from '../../src/state/history.js';
import { ensureBuilt, runCli, spawnCli } from '../helpers/cli.js';
import { FAKE_RESTIC, resticFixture } from '../helpers/restic.js';
import {
  type GatewayGroup,
  gatewayGroups,
  groupValues,
  makeTempDir,
  type RunningService,
  startPushgateway,
} from '../helpers/services.js';

const SUCCESS = resticFixture('0.14.0', 'backup-success');

describe('restic faults', () => {
  const tmp = makeTempDir('resticprom-faults-restic-');
  let gw: RunningService;
  let n = 0;

  before(async () => {
    await ensureBuilt();
    gw = await startPushgateway();
    writeFileSync(join(tmp.dir, 'password'), 'unused\n', { mode: 0o600 });
  });
  after(async () => {
    await gw?.stop();
    tmp.cleanup();
  });

  /** A fresh state directory and config whose only tier pushes to its own group `instance=<name>`. */
  function setup(name: string) {
    const state = join(tmp.dir, `state-${++n}`);
    const config = join(tmp.dir, `${name}.yaml`);
    writeFileSync(
      config,
      `state-dir: ${state}
hostname: fault-host
restic-binary: ${FAKE_RESTIC}
profiles:
  p:
    repository: ${join(tmp.dir, 'repo')}
    password-file: ${join(tmp.dir, 'password')}
    paths: [${tmp.dir}]
    inactivity-timeout: 3s
    tiers:
      daily: { schedule: "30 1 * * *" }
    metrics:
      job: restic_faults
      grouping: { instance: "${name}" }
      pushgateway: { url: "${gw.url}", retries: 0 }
`,
      { mode: 0o600 },
    );
    return { state, config };
  }

  const env = (stdoutFile: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    FAKE_RESTIC_STDOUT: stdoutFile,
    FAKE_RESTIC_VERSION: '0.14.0',
    ...extra,
  });

  async function group(name: string): Promise<GatewayGroup> {
    const g = (await gatewayGroups(gw.url)).find(
      (x) => x.labels.job === 'restic_faults' && x.labels.instance === name,
    );
    assert.ok(g, `no group instance=${name} at the gateway`);
    return g;
  }
  const value = (g: GatewayGroup, family: string, outcome?: string) =>
    groupValues(g, family).find((m) => outcome === undefined || m.labels.outcome === outcome)?.value;

  async function lastRecord(state: string) {
    const h = await readHistory(state);
    assert.deepEqual(h.warnings, []);
    return h.records.at(-1);
  }

  it('restic killed mid-run (SIGKILL): failed with the reason, status 0 pushed, exit 1', async () => {
    const { state, config } = setup('killed');
    const record = join(tmp.dir, 'killed-restic.json');
    const child = spawnCli(['backup', '--config', config, '--tier', 'daily'], {
      env: env(SUCCESS.stdoutFile, { FAKE_RESTIC_HANG: '1', FAKE_RESTIC_RECORD: record }),
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdout?.resume();
    const code = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    // The fake restic records its pid on start (`version`, which may run alongside, records elsewhere).
    let pid: number | undefined;
    const deadline = Date.now() + 20_000;
    while (pid === undefined) {
      assert.ok(Date.now() < deadline, `the fake restic never started its backup; stderr: ${stderr}`);
      if (existsSync(record)) {
        const rec = JSON.parse(readFileSync(record, 'utf8') || '{}') as { argv?: string[]; pid?: number };
        if (rec.argv?.[0] === 'backup') pid = rec.pid;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 100)); // let it replay its lines and hang
    process.kill(pid, 'SIGKILL');
    assert.equal(await code, 1);
    assert.match(
      stderr,
      /^error: backup p\/daily failed after \S+: restic backup failed \(killed by SIGKILL\)$/m,
    );
    assert.match(stderr, /^metrics delivered to pushgateway /m);
    const g = await group('killed');
    assert.equal(value(g, 'restic_backup_status'), '0');
    // Killed by a signal: 128 + its number, as a shell reports it (SIGKILL is 9).
    assert.equal(value(g, 'restic_backup_exit_code'), '137');
    assert.equal(value(g, 'restic_backup_runs_total', 'failed'), '1');
    assert.equal(value(g, 'restic_backup_processed_files'), undefined);
    const r = await lastRecord(state);
    assert.deepEqual([r?.outcome, r?.reason, r?.exitCode], ['failed', 'other', null]);
  });

  it('restic silent past inactivity-timeout 3s: stopped, exit 124, the message names the timeout, metrics pushed', async () => {
    const { state, config } = setup('silent');
    const r = await runCli(['backup', '--config', config, '--tier', 'daily'], {
      env: env(SUCCESS.stdoutFile, { FAKE_RESTIC_HANG: '1' }),
    });
    assert.equal(r.code, 124);
    assert.match(
      r.stderr,
      /^error: backup p\/daily failed after \S+: restic backup was stopped: it printed nothing for 3s$/m,
    );
    const g = await group('silent');
    assert.equal(value(g, 'restic_backup_status'), '0');
    assert.equal(value(g, 'restic_backup_exit_code'), '130');
    const rec = await lastRecord(state);
    assert.deepEqual([rec?.outcome, rec?.reason], ['failed', 'inactivity-timeout']);
  });

  it('garbage lines among the JSON: skipped, counted and named in a warning; the summary still counts', async () => {
    const { state, config } = setup('garbage');
    const file = join(tmp.dir, 'garbage.jsonl');
    writeFileSync(
      file,
      `plain text from restic\n{not json\n{"message_type":"from_the_future"}\n${readFileSync(SUCCESS.stdoutFile, 'utf8')}`,
    );
    const r = await runCli(['backup', '--config', config, '--tier', 'daily'], { env: env(file) });
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /^warning: restic printed 2 malformed JSON line\(s\); they were skipped \(the first: \{not json\)$/m,
    );
    assert.match(r.stderr, /^backup p\/daily succeeded in \S+: snapshot fe7ef11e, 3 files/m);
    const g = await group('garbage');
    assert.equal(value(g, 'restic_backup_status'), '2');
    assert.equal(value(g, 'restic_backup_processed_files'), '3');
    assert.equal((await lastRecord(state))?.outcome, 'success');
  });

  it('a 20 MB line: cut, counted as one malformed line, no crash; the summary after it counts', async () => {
    const { config } = setup('huge');
    const file = join(tmp.dir, 'huge.jsonl');
    const huge = `{"message_type":"status","current_files":["${'x'.repeat(20 * 1024 * 1024)}"]}\n`;
    writeFileSync(file, `${huge}${readFileSync(SUCCESS.stdoutFile, 'utf8')}`);
    const r = await runCli(['backup', '--config', config, '--tier', 'daily'], { env: env(file) });
    assert.equal(r.code, 0, r.stderr.slice(0, 2000));
    assert.match(
      r.stderr,
      /^warning: restic printed 1 malformed JSON line\(s\); they were skipped \(the first: \{"message_type":"status","current_files":\["x{150,}\)$/m,
    );
    assert.ok(r.stderr.length < 4096, `the warning quotes a bounded sample (${r.stderr.length} bytes)`);
    const g = await group('huge');
    assert.equal(value(g, 'restic_backup_processed_files'), '3');
  });

  it('invalid UTF-8 in a log line and in a file name: no crash, no malformed line, the summary counts', async () => {
    const { config } = setup('utf8');
    const file = join(tmp.dir, 'utf8.jsonl');
    const lines = readFileSync(SUCCESS.stdoutFile);
    writeFileSync(
      file,
      Buffer.concat([
        Buffer.from('log line \xff\xfe broken\n', 'latin1'),
        Buffer.from('{"message_type":"verbose_status","action":"new","item":"/data/caf', 'latin1'),
        Buffer.from([0xc3, 0x28]),
        Buffer.from(
          '.txt","duration":0.001,"data_size":1,"data_size_in_repo":1,"metadata_size":0,"metadata_size_in_repo":0,"total_files":0}\n',
        ),
        lines,
      ]),
    );
    const r = await runCli(['backup', '--config', config, '--tier', 'daily'], { env: env(file) });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /malformed/);
    const g = await group('utf8');
    assert.equal(value(g, 'restic_backup_status'), '2');
    assert.equal(value(g, 'restic_backup_processed_files'), '3');
  });

  it('no summary and exit 0: still a success (restic says so) but with a warning; only status and times are pushed', async () => {
    const { state, config } = setup('nosummary');
    const file = join(tmp.dir, 'nosummary.jsonl');
    writeFileSync(
      file,
      readFileSync(SUCCESS.stdoutFile, 'utf8')
        .split('\n')
        .filter((l) => !l.includes('"summary"'))
        .join('\n'),
    );
    const r = await runCli(['backup', '--config', config, '--tier', 'daily'], { env: env(file) });
    assert.equal(r.code, 0);
    assert.match(
      r.stderr,
      /^warning: restic exited 0 but printed no summary: the snapshot and its figures are unknown; only the run's status and times are pushed$/m,
    );
    assert.match(r.stderr, /^backup p\/daily succeeded in \S+: no summary from restic$/m);
    const g = await group('nosummary');
    assert.equal(value(g, 'restic_backup_status'), '2');
    assert.equal(value(g, 'restic_backup_processed_files'), undefined);
    assert.equal(value(g, 'restic_backup_snapshot_info'), undefined);
    assert.equal((await lastRecord(state))?.outcome, 'success');
  });
});
