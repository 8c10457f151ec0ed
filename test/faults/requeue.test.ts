/**
 * A recorded run whose outbox entry is lost (deleted, corrupt) is re-queued from the latest
 * metrics of its group by the next flush or run with the config, against the real
 * Pushgateway: the gateway then shows that run, a second flush sends nothing again, a run
 * that was never recorded is never what is re-sent, and nothing goes where the config no
 * longer sends.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readHistory } from '../../src/state/history.js';
import { acquireLockFile } from '../../src/state/lock.js';
import { ensureBuilt, runCli, spawnCli } from '../helpers/cli.js';
import { pushgatewayMatrix } from '../helpers/matrix.js';
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
import { faultConfig, pendingEntries, type StandIn, startStandIn } from './helpers.js';

const JOB = 'requeue_backup';
const END = 'restic_backup_end_timestamp_seconds';
const LAST_SUCCESS = 'restic_backup_last_success_timestamp_seconds';
const ENTRY = /^\d{13}-\d{6}-[0-9a-f]{8}\.json$/;

const env = (fixture = 'backup-success') =>
  fakeResticEnv(resticFixture('0.14.0', fixture), { FAKE_RESTIC_DELAY_MS: '1' });

function outboxFiles(stateDir: string): string[] {
  return readdirSync(join(stateDir, 'outbox')).filter((n) => ENTRY.test(n));
}

for (const pg of pushgatewayMatrix()) {
  describe(`lost outbox entries are re-queued from the latest metrics (Pushgateway ${pg.version})`, {
    skip: pg.skip,
  }, () => {
    const tmp = makeTempDir('resticprom-faults-requeue-');
    let port = 0;
    let gw: RunningService | undefined;
    let n = 0;

    before(async () => {
      await ensureBuilt();
      port = await freePort();
      writeFileSync(join(tmp.dir, 'password'), 'unused\n', { mode: 0o600 });
    });
    after(async () => {
      await gw?.stop();
      tmp.cleanup();
    });

    const up = async () => {
      if (!gw) gw = await startPushgateway({ port, bin: pg.bin });
    };
    const down = async () => {
      await gw?.stop();
      gw = undefined;
    };
    /** A fresh state directory and its config; `profile` names the profile. */
    const setup = (profile = 'p') => {
      const stateDir = join(tmp.dir, `state-${++n}`);
      const config = join(tmp.dir, `config-${n}.yaml`);
      writeFileSync(config, configText(stateDir, profile), { mode: 0o600 });
      return { stateDir, config };
    };
    const configText = (stateDir: string, profile: string) =>
      faultConfig({
        stateDir,
        dir: tmp.dir,
        restic: FAKE_RESTIC,
        hostname: 'requeue-host',
        job: JOB,
        port,
        profile,
        tiers: ['t1'],
      });
    const group = async (instance: string): Promise<GatewayGroup | undefined> =>
      (await gatewayGroups(gw?.url ?? '')).find(
        (g) => g.labels.job === JOB && g.labels.instance === instance,
      );
    const value = (g: GatewayGroup | undefined, family: string) =>
      g ? Number(groupValues(g, family)[0]?.value) : undefined;
    const lastRecord = async (stateDir: string) => {
      const r = (await readHistory(stateDir)).records.at(-1);
      assert.ok(r, 'a run is recorded');
      return r;
    };
    const gwName = () => `pushgateway http://127.0.0.1:${port}`;

    it('an entry deleted after its run was recorded: flush re-queues and delivers it, once', async () => {
      const { stateDir, config } = setup();
      await down();
      const run = await runCli(['backup', '--config', config, '--tier', 't1', '--quiet'], { env: env() });
      assert.equal(run.code, 75, run.stderr);
      const r = await lastRecord(stateDir);
      const [file] = outboxFiles(stateDir);
      assert.ok(file);
      rmSync(join(stateDir, 'outbox', file));
      await up();

      // Without a config the flush cannot know where the run goes: nothing is re-queued.
      const blind = await runCli(['flush', '--state-dir', stateDir]);
      assert.equal(blind.code, 0, blind.stderr);
      assert.equal(
        blind.stdout,
        `flush: 0 delivered, 0 pending, 0 dead-lettered, 0 superseded (${stateDir}/outbox)\n`,
      );

      const flush = await runCli(['flush', '--config', config]);
      assert.equal(flush.code, 0, flush.stdout + flush.stderr);
      const id = /^requeued (\S+) /.exec(flush.stdout)?.[1];
      assert.ok(id, flush.stdout);
      assert.equal(
        flush.stdout,
        `requeued ${id} for ${gwName()} (job ${JOB}, instance=p-t1): re-queued run ${r.id} of backup p/t1 from the latest metrics: ${gwName()} has not confirmed it and no entry of it waits\n` +
          `delivered ${id} to ${gwName()} (job ${JOB}, instance=p-t1)\n` +
          `flush: 1 delivered, 0 pending, 0 dead-lettered, 0 superseded (${stateDir}/outbox)\n`,
      );
      const g = await group('p-t1');
      assert.equal(value(g, END), r.endedAt / 1000);
      assert.equal(value(g, LAST_SUCCESS), r.endedAt / 1000);

      const again = await runCli(['flush', '--config', config]);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(
        again.stdout,
        `flush: 0 delivered, 0 pending, 0 dead-lettered, 0 superseded (${stateDir}/outbox)\n`,
      );
      const confirmations = JSON.parse(readFileSync(join(stateDir, 'delivered.json'), 'utf8'));
      assert.deepEqual(confirmations.targets[gwName()]['backup--p--t1'].runId, r.id);
    });

    it('a corrupt entry is quarantined and its run re-queued in the same flush', async () => {
      const { stateDir, config } = setup();
      await down();
      await runCli(['backup', '--config', config, '--tier', 't1', '--quiet'], { env: env() });
      const r = await lastRecord(stateDir);
      const [file] = outboxFiles(stateDir);
      assert.ok(file);
      writeFileSync(join(stateDir, 'outbox', file), '{"format":"resticprom-outbox/1","sha');
      await up();
      const flush = await runCli(['flush', '--config', config]);
      // The quarantined file is reported (exit 1), and the run still reaches the gateway.
      assert.equal(flush.code, 1, flush.stdout + flush.stderr);
      assert.match(flush.stdout, new RegExp(`^requeued \\S+ for .*re-queued run ${r.id} `, 'm'));
      assert.match(flush.stdout, /^dead-lettered .*corrupt: not valid JSON/m);
      assert.match(flush.stdout, /flush: 1 delivered, 0 pending, 1 dead-lettered/);
      assert.equal(value(await group('p-t1'), END), r.endedAt / 1000);
    });

    it("the next run re-queues the previous run's lost metrics before its own: a failed run keeps the lost success's families", async () => {
      const { stateDir, config } = setup();
      await down();
      await runCli(['backup', '--config', config, '--tier', 't1', '--quiet'], { env: env() });
      const success = await lastRecord(stateDir);
      for (const f of outboxFiles(stateDir)) rmSync(join(stateDir, 'outbox', f));
      await up();
      const failed = await runCli(['backup', '--config', config, '--tier', 't1', '--verbose'], {
        env: env('backup-wrong-password'),
      });
      assert.equal(failed.code, 12, failed.stderr);
      assert.match(failed.stderr, new RegExp(`re-queued run ${success.id} of backup p/t1`));
      const r = await lastRecord(stateDir);
      assert.equal(r.outcome, 'failed');
      const g = await group('p-t1');
      // The failed run's own push carries no last-success time: it comes from the re-queued run.
      assert.equal(value(g, END), r.endedAt / 1000);
      assert.equal(value(g, LAST_SUCCESS), success.endedAt / 1000);
      assert.deepEqual(pendingEntries(stateDir), []);
    });

    it('a run killed before it was recorded is never what is re-sent: the recorded run before it is', async () => {
      const { stateDir, config } = setup();
      await down();
      await runCli(['backup', '--config', config, '--tier', 't1', '--quiet'], { env: env() });
      const recorded = await lastRecord(stateDir);
      // Holding the history lock stops the next run after its latest metrics and its entry are
      // saved, before its record; it is killed there.
      const lock = await acquireLockFile(join(stateDir, 'locks', 'history.lock'), { command: 'fault test' });
      const child = spawnCli(['backup', '--config', config, '--tier', 't1'], { env: env() });
      child.stdout?.resume();
      child.stderr?.resume();
      const done = new Promise((r) => child.on('close', r));
      while (outboxFiles(stateDir).length < 2) await new Promise((r) => setTimeout(r, 5));
      child.kill('SIGKILL');
      await done;
      await lock.release();
      const latest = JSON.parse(readFileSync(join(stateDir, 'latest', 'backup--p--t1.json'), 'utf8'));
      assert.notEqual(latest.runId, recorded.id, 'the latest metrics are of the unrecorded run');
      assert.equal(latest.before.runId, recorded.id);
      for (const f of outboxFiles(stateDir)) rmSync(join(stateDir, 'outbox', f));
      await up();
      const flush = await runCli(['flush', '--config', config]);
      assert.equal(flush.code, 0, flush.stdout + flush.stderr);
      assert.match(flush.stdout, new RegExp(`re-queued run ${recorded.id} of backup p/t1`));
      assert.equal(value(await group('p-t1'), END), recorded.endedAt / 1000);
    });

    it('a profile the config no longer has is not re-queued anywhere', async () => {
      const { stateDir, config } = setup('gone');
      await down();
      await runCli(['backup', '--config', config, '--tier', 't1', '--quiet'], { env: env() });
      for (const f of outboxFiles(stateDir)) rmSync(join(stateDir, 'outbox', f));
      writeFileSync(config, configText(stateDir, 'other'), { mode: 0o600 });
      await up();
      const flush = await runCli(['flush', '--config', config]);
      assert.equal(flush.code, 0, flush.stdout + flush.stderr);
      assert.equal(
        flush.stdout,
        `flush: 0 delivered, 0 pending, 0 dead-lettered, 0 superseded (${stateDir}/outbox)\n`,
      );
      assert.equal(await group('gone-t1'), undefined);
    });
  });
}

describe('a run the destination refused is not re-queued', () => {
  const tmp = makeTempDir('resticprom-faults-requeue-refused-');
  let standIn: StandIn | undefined;
  before(async () => {
    await ensureBuilt();
    writeFileSync(join(tmp.dir, 'password'), 'unused\n', { mode: 0o600 });
  });
  after(async () => {
    await standIn?.close();
    tmp.cleanup();
  });

  it('its dead letter is its confirmation: the next flush sends nothing to be refused again', async () => {
    standIn = await startStandIn(() => ({ status: 400, body: 'text format parsing error' }));
    const stateDir = join(tmp.dir, 'state');
    const config = join(tmp.dir, 'resticprom.yaml');
    writeFileSync(
      config,
      faultConfig({
        stateDir,
        dir: tmp.dir,
        restic: FAKE_RESTIC,
        hostname: 'requeue-host',
        job: JOB,
        port: standIn.port,
        tiers: ['t1'],
      }),
      { mode: 0o600 },
    );
    const run = await runCli(['backup', '--config', config, '--tier', 't1', '--quiet'], { env: env() });
    assert.equal(run.code, 1, run.stderr);
    assert.equal(standIn.requests.length, 1);
    const flush = await runCli(['flush', '--config', config]);
    assert.equal(flush.code, 0, flush.stdout + flush.stderr);
    assert.equal(
      flush.stdout,
      `flush: 0 delivered, 0 pending, 0 dead-lettered, 0 superseded (${stateDir}/outbox)\n`,
    );
    assert.equal(standIn.requests.length, 1);
  });
});
