/**
 * Fault: `resticprom backup` killed with SIGKILL at random points, again and again, while
 * the real Pushgateway comes and goes. The fake restic replays a recorded run with a small
 * delay per line, so the kill points spread over the restic run, the history append, the
 * outbox write and the delivery. After every run: the newest run the history records for
 * each group has its metrics either at the gateway or waiting in the outbox. At the end,
 * after `resticprom flush`: the gateway holds exactly the newest recorded run of each group,
 * nothing waits, nothing is dead, and no temporary file is left in the state directory.
 *
 * The kill schedule comes from a seeded PRNG; the seed is printed. Rerun one schedule with
 * FAULT_SEED=<seed> node scripts/run-tests.mjs test/faults/crash
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readHistory } from '../../src/state/history.js';
import { acquireLockFile } from '../../src/state/lock.js';
import { ensureBuilt, runCli, spawnCli } from '../helpers/cli.js';
import { FAKE_RESTIC, fakeResticEnv, resticFixture } from '../helpers/restic.js';
import {
  freePort,
  type GatewayGroup,
  gatewayGroups,
  groupValues,
  makeTempDir,
  type RunningService,
  startPushgateway,
} from '../helpers/services.js';
import {
  deadLetters,
  faultConfig,
  pendingEntries,
  runMaybeKilled,
  sampleValue,
  seededRandom,
  tempFilesUnder,
} from './helpers.js';

const RUNS = 50;
const JOB = 'crash_backup';
const TIERS = ['t1', 't2'] as const;
const END = 'restic_backup_end_timestamp_seconds';
const RUNS_TOTAL = 'restic_backup_runs_total';
const OUTCOMES = ['success', 'warning', 'failed', 'interrupted'] as const;

/** The fixtures a run replays: mostly successes, some incomplete (exit 3) and failed (exit 1) runs. */
const FIXTURES = [
  'backup-success',
  'backup-success',
  'backup-success',
  'backup-unreadable',
  'backup-wrong-password',
];

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
}

describe('kill -9 at random points of backup-and-push', () => {
  const tmp = makeTempDir('resticprom-faults-crash-');
  const stateDir = join(tmp.dir, 'state');
  const config = join(tmp.dir, 'resticprom.yaml');
  const configFor = (dir: string) => {
    const file = join(tmp.dir, `${dir.split('/').pop()}.yaml`);
    writeFileSync(file, configText(dir), { mode: 0o600 });
    return file;
  };
  const persistence = join(tmp.dir, 'gateway.data');
  let port = 0;
  let gw: RunningService | undefined;
  /** What the gateway held when it was last stopped (it persists it and loads it on restart). */
  let gatewayAtStop: GatewayGroup[] = [];

  const startGateway = async () => {
    gw = await startPushgateway({ port, persistenceFile: persistence });
  };
  const stopGateway = async () => {
    if (!gw) return;
    gatewayAtStop = await gatewayGroups(gw.url);
    await gw.stop();
    gw = undefined;
  };

  before(async () => {
    await ensureBuilt();
    port = await freePort();
    writeFileSync(join(tmp.dir, 'password'), 'unused\n', { mode: 0o600 });
    writeFileSync(config, configText(stateDir), { mode: 0o600 });
  });

  const configText = (dir: string) =>
    faultConfig({ stateDir: dir, dir: tmp.dir, restic: FAKE_RESTIC, hostname: 'crash-host', job: JOB, port });

  after(async () => {
    await gw?.stop();
    tmp.cleanup();
  });

  /** The newest recorded run of each tier, and the history's counts per tier and outcome. */
  async function recorded(dir = stateDir) {
    const read = await readHistory(dir);
    const newest = new Map<string, (typeof read.records)[number]>();
    const counts = new Map<string, Record<string, number>>();
    for (const r of read.records) {
      const tier = r.tier ?? '';
      newest.set(tier, r);
      const c = counts.get(tier) ?? { success: 0, warning: 0, failed: 0, interrupted: 0 };
      c[r.outcome] = (c[r.outcome] ?? 0) + 1;
      counts.set(tier, c);
    }
    return { newest, counts, warnings: read.warnings, total: read.records.length };
  }

  const groupOf = (groups: GatewayGroup[], tier: string) =>
    groups.find((g) => g.labels.job === JOB && g.labels.instance === `p-${tier}`);

  const backupEnv = (fixture = 'backup-success') =>
    fakeResticEnv(resticFixture('0.14.0', fixture), { FAKE_RESTIC_DELAY_MS: '5' });

  it('killed right after recording the run: its metrics wait in the outbox and the next flush sends them', async () => {
    const dir = join(tmp.dir, 'state-after-record');
    mkdirSync(dir, { mode: 0o700 });
    const history = join(dir, 'history.jsonl');
    writeFileSync(history, '', { mode: 0o600 });
    const cfg = configFor(dir);
    await stopGateway(); // even a flush that gets that far cannot send: the entry must be there
    const child = spawnCli(['backup', '--config', cfg, '--tier', 't1'], { env: backupEnv() });
    child.stdout?.resume();
    child.stderr?.resume();
    const watcher = watch(history, () => child.kill('SIGKILL'));
    const end = await exited(child);
    watcher.close();
    assert.equal(end.signal, 'SIGKILL');
    const { newest } = await recorded(dir);
    const r = newest.get('t1');
    assert.ok(r, 'the run is recorded');
    const entries = pendingEntries(dir);
    assert.deepEqual(
      entries.map((e) => Number(sampleValue(e.payload.text, END))),
      [r.endedAt / 1000],
    );

    await startGateway();
    const flush = await runCli(['flush', '--state-dir', dir]);
    assert.equal(flush.code, 0, flush.stdout + flush.stderr);
    assert.equal(
      flush.stdout,
      `delivered ${entries[0]?.id} to pushgateway http://127.0.0.1:${port} (job ${JOB}, instance=p-t1)\n` +
        `flush: 1 delivered, 0 pending, 0 dead-lettered, 0 superseded (${dir}/outbox)\n`,
    );
    const g = groupOf(await gatewayGroups(gw?.url ?? ''), 't1');
    assert.ok(g);
    assert.equal(Number(groupValues(g, END)[0]?.value), r.endedAt / 1000);
  });

  it('killed after storing the metrics but before recording the run: the next flush drops them unsent', async () => {
    const dir = join(tmp.dir, 'state-before-record');
    const cfg = configFor(dir);
    if (!gw) await startGateway();
    // A first run, recorded and delivered: what the gateway must keep showing.
    const ok = await runCli(['backup', '--config', cfg, '--tier', 't2', '--quiet'], { env: backupEnv() });
    assert.equal(ok.code, 0, ok.stderr);
    const before = (await recorded(dir)).newest.get('t2');
    assert.ok(before);
    // Holding the history lock stops the next run between storing its metrics and recording the run.
    const lock = await acquireLockFile(join(dir, 'locks', 'history.lock'), { command: 'fault test' });
    const child = spawnCli(['backup', '--config', cfg, '--tier', 't2'], {
      env: backupEnv('backup-unreadable'),
    });
    child.stdout?.resume();
    child.stderr?.resume();
    const done = exited(child);
    while (pendingEntries(dir).length === 0) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    assert.equal((await done).signal, 'SIGKILL');
    await lock.release();
    const [orphan] = pendingEntries(dir) as (ReturnType<typeof pendingEntries>[number] & {
      runId?: string;
    })[];
    assert.ok(orphan?.runId);
    assert.equal((await recorded(dir)).total, 1);

    const flush = await runCli(['flush', '--state-dir', dir]);
    assert.equal(flush.code, 0, flush.stdout + flush.stderr);
    assert.equal(
      flush.stdout,
      `superseded ${orphan.id} for pushgateway http://127.0.0.1:${port} (job ${JOB}, instance=p-t2): ` +
        `dropped unsent: its run ${orphan.runId} was never recorded in the history (the process ended between storing the metrics and recording the run)\n` +
        `flush: 0 delivered, 0 pending, 0 dead-lettered, 1 superseded (${dir}/outbox)\n`,
    );
    const g = groupOf(await gatewayGroups(gw?.url ?? ''), 't2');
    assert.ok(g);
    assert.equal(Number(groupValues(g, END)[0]?.value), before.endedAt / 1000);
    assert.deepEqual(pendingEntries(dir), []);
  });

  it("flush removes a dead writer's temp files from every folder of the state directory, and only those", async () => {
    const dir = join(tmp.dir, 'state-leftovers');
    for (const sub of ['outbox', 'locks', 'latest', 'metrics'])
      mkdirSync(join(dir, sub), { recursive: true, mode: 0o700 });
    // The pid of a process that has ended: what a kill -9 mid-write leaves in a temp file's name.
    const gone = spawnSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }).stdout.trim();
    const dead = [
      join(dir, `history.jsonl.${gone}.0a1b2c3d.tmp`), // history rotation
      join(dir, 'locks', `history.lock.${gone}.0a1b2c3d.tmp`), // lock creation
      join(dir, 'latest', `.backup--p--t1.json.${gone}.0a1b2c3d.tmp`), // latest metrics
      join(dir, 'metrics', `.p-t1.prom.${gone}.0a1b2c3d.tmp`), // fallback textfile
      join(dir, 'outbox', `.1795598714758-000001-f4280110.json.${gone}.0a1b2c3d.tmp`), // outbox entry
    ];
    const live = join(dir, 'latest', `.backup--p--t2.json.${process.pid}.0a1b2c3d.tmp`);
    for (const f of [...dead, live]) writeFileSync(f, 'half');
    const flush = await runCli(['flush', '--state-dir', dir]);
    assert.equal(flush.code, 0, flush.stderr);
    assert.deepEqual(tempFilesUnder(dir), [live]);
    assert.ok(!existsSync(dead[0] ?? ''));
  });

  it(`${RUNS} runs, each killed at a random point or not, the gateway up for some and down for others`, async () => {
    const seed = Number(process.env.FAULT_SEED ?? Date.now() % 1_000_000);
    console.log(`kill schedule seed: ${seed} (rerun with FAULT_SEED=${seed})`);
    const random = seededRandom(seed);

    if (!gw) await startGateway();
    // One undisturbed run tells how long a run takes here; kill points spread over 0..1.1 of it.
    const calibrateStart = performance.now();
    const first = await runCli(['backup', '--config', config, '--tier', 't1', '--quiet'], {
      env: backupEnv(),
    });
    // Load changes how long a run takes: follow it with a moving average of the runs that ended.
    let runMs = performance.now() - calibrateStart;
    assert.equal(first.code, 0, first.stderr);

    let kills = 0;
    let completed = 0;
    let runsWithGatewayDown = 0;
    const exitCodes = new Map<number, number>();
    const stderrs: string[] = [];
    for (let i = 0; i < RUNS; i++) {
      if (random() < 0.3) {
        if (gw) await stopGateway();
        else await startGateway();
      }
      if (!gw) runsWithGatewayDown++;
      const tier = TIERS[Math.floor(random() * TIERS.length)] ?? 't1';
      const fixture = FIXTURES[Math.floor(random() * FIXTURES.length)] ?? 'backup-success';
      const killAfterMs = random() < 0.15 ? undefined : random() * runMs * 1.1;
      const end = await runMaybeKilled(
        ['backup', '--config', config, '--tier', tier],
        backupEnv(fixture),
        killAfterMs,
      );
      const { stderr } = end;
      stderrs.push(stderr);
      if (end.signal === 'SIGKILL') kills++;
      else {
        runMs = 0.7 * runMs + 0.3 * end.ms;
        completed++;
        exitCodes.set(end.code ?? -1, (exitCodes.get(end.code ?? -1) ?? 0) + 1);
        // A run that ended by itself ends with its documented code: the backup's own, or 75 when
        // the gateway is down (0 -> 75; 3 and 12, wrong password, stay).
        assert.ok(
          [0, 3, 12, 75].includes(end.code ?? -1),
          `seed ${seed}, run ${i}: exit ${end.code}: ${stderr}`,
        );
      }

      // Invariant after every run: the newest recorded run of each tier has its metrics at the
      // gateway (as it is now, or as it was when stopped) or waiting in the outbox.
      const { newest } = await recorded();
      const groups = gw ? await gatewayGroups(gw.url) : gatewayAtStop;
      const pending = pendingEntries(stateDir);
      for (const [t, r] of newest) {
        const want = r.endedAt / 1000;
        const g = groupOf(groups, t);
        const atGateway = g ? Number(groupValues(g, END)[0]?.value) === want : false;
        const waiting = pending.some(
          (e) =>
            e.payload.grouping.instance === `p-${t}` && Number(sampleValue(e.payload.text, END)) === want,
        );
        assert.ok(
          atGateway || waiting,
          `seed ${seed}, run ${i} (${killAfterMs === undefined ? 'not killed' : `killed after ${Math.round(killAfterMs)} ms`}): ` +
            `the history records run ${r.id} of ${t} (ended ${want}), but its metrics are neither at the gateway nor in the outbox`,
        );
      }
    }

    // Everything is sent once the gateway is up.
    if (!gw) await startGateway();
    const flush = await runCli(['flush', '--state-dir', stateDir]);
    const at = `seed ${seed}, after the flush`;
    assert.equal(flush.code, 0, `${at}: ${flush.stdout}${flush.stderr}`);
    assert.match(flush.stdout, /flush: \d+ delivered, 0 pending, 0 dead-lettered, \d+ superseded/, at);
    assert.deepEqual(pendingEntries(stateDir), [], at);
    assert.deepEqual(deadLetters(stateDir), [], at);
    assert.deepEqual(tempFilesUnder(stateDir), [], at);

    const { newest, counts, warnings, total } = await recorded();
    const groups = await gatewayGroups(gw?.url ?? '');
    for (const t of TIERS) {
      const r = newest.get(t);
      if (!r) continue;
      const g = groupOf(groups, t);
      assert.ok(g, `${at}: no group for ${t} at the gateway`);
      assert.equal(Number(groupValues(g, END)[0]?.value), r.endedAt / 1000, `${at}: ${t}: end timestamp`);
      const runs = Object.fromEntries(
        OUTCOMES.map((o) => [
          o,
          Number(groupValues(g, RUNS_TOTAL).find((m) => m.labels.outcome === o)?.value),
        ]),
      );
      assert.deepEqual(runs, counts.get(t), `${at}: ${t}: runs_total by outcome`);
    }
    // Torn lines (a kill during the history append) are skipped with a warning, each once.
    assert.equal(new Set(warnings).size, warnings.length, `${at}: ${warnings.join('; ')}`);
    assert.ok(warnings.length <= kills, `${at}: ${warnings.join('; ')}`);
    for (const w of warnings) assert.match(w, /torn by a crash|incomplete last line/, at);

    console.log(
      `seed ${seed}: ${RUNS} runs (${kills} killed, ${completed} ended by themselves: ${[...exitCodes].map(([c, n]) => `exit ${c} x${n}`).join(', ')}), ` +
        `${runsWithGatewayDown} with the gateway down; the history records ${total} runs (a run took ${Math.round(runMs)} ms at the end), ` +
        `${warnings.length} torn history lines, ${/(\d+) superseded/.exec(flush.stdout)?.[1]} never-recorded runs dropped by the final flush`,
    );
    assert.ok(kills >= RUNS / 4, `seed ${seed}: only ${kills} kills`);
  });
});
