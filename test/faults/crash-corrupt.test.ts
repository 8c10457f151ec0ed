/**
 * Fault: `resticprom backup` killed with SIGKILL at random points while, between runs, random
 * outbox files are corrupted, truncated, deleted, or replaced by a folder, a FIFO or a
 * symbolic link, and the real Pushgateway (both versions of the matrix) comes and goes.
 * A lost entry may cost a retry, never a run: at the end, after a flush with the config, every
 * group at the gateway shows the newest run the history records for it; during the loop the
 * gateway never showed a run the history lacks, and a group's end time never went back.
 *
 * The schedule (kills, corruptions, gateway stops) comes from a seeded PRNG; the seed is
 * printed. Rerun one schedule with
 * FAULT_SEED=<seed> node scripts/run-tests.mjs test/faults/crash-corrupt
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readHistory } from '../../src/state/history.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
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
import {
  deadLetters,
  faultConfig,
  pendingEntries,
  runMaybeKilled,
  seededRandom,
  tempFilesUnder,
} from './helpers.js';

const RUNS = Number(process.env.FAULT_RUNS ?? 20);
const JOB = 'corrupt_backup';
const TIERS = ['t1', 't2'] as const;
const END = 'restic_backup_end_timestamp_seconds';
const RUNS_TOTAL = 'restic_backup_runs_total';
const OUTCOMES = ['success', 'warning', 'failed', 'interrupted'] as const;
const FIXTURES = ['backup-success', 'backup-success', 'backup-unreadable', 'backup-wrong-password'];
const ENTRY = /^\d{13}-\d{6}-[0-9a-f]{8}\.json$/;

/** What is done to one outbox file. */
const DAMAGE = ['garbage', 'truncate', 'delete', 'folder', 'fifo', 'symlink'] as const;
type Damage = (typeof DAMAGE)[number];

function damage(file: string, how: Damage, random: () => number): void {
  switch (how) {
    case 'garbage':
      writeFileSync(file, Buffer.from(Array.from({ length: 40 }, () => Math.floor(random() * 256))));
      return;
    case 'truncate':
      truncateSync(file, Math.floor(random() * 200));
      return;
    case 'delete':
      rmSync(file, { force: true });
      return;
    case 'folder':
      rmSync(file, { force: true });
      mkdirSync(file);
      return;
    case 'fifo':
      rmSync(file, { force: true });
      execFileSync('mkfifo', [file]);
      return;
    case 'symlink':
      rmSync(file, { force: true });
      symlinkSync(random() < 0.5 ? '/etc/passwd' : join(file, '..', 'nowhere.json'), file);
      return;
  }
}

for (const pg of pushgatewayMatrix()) {
  describe(`kill -9 and a damaged outbox (Pushgateway ${pg.version})`, { skip: pg.skip }, () => {
    const tmp = makeTempDir('resticprom-faults-corrupt-');
    const stateDir = join(tmp.dir, 'state');
    const config = join(tmp.dir, 'resticprom.yaml');
    const persistence = join(tmp.dir, 'gateway.data');
    let port = 0;
    let gw: RunningService | undefined;

    before(async () => {
      await ensureBuilt();
      port = await freePort();
      writeFileSync(join(tmp.dir, 'password'), 'unused\n', { mode: 0o600 });
      writeFileSync(
        config,
        faultConfig({
          stateDir,
          dir: tmp.dir,
          restic: FAKE_RESTIC,
          hostname: 'corrupt-host',
          job: JOB,
          port,
        }),
        { mode: 0o600 },
      );
    });
    after(async () => {
      await gw?.stop();
      tmp.cleanup();
    });

    const startGateway = async () => {
      gw = await startPushgateway({ port, persistenceFile: persistence, bin: pg.bin });
    };
    const stopGateway = async () => {
      await gw?.stop();
      gw = undefined;
    };
    const groupOf = (groups: GatewayGroup[], tier: string) =>
      groups.find((g) => g.labels.job === JOB && g.labels.instance === `p-${tier}`);
    const endAt = (groups: GatewayGroup[], tier: string) => {
      const g = groupOf(groups, tier);
      return g ? Number(groupValues(g, END)[0]?.value) : undefined;
    };
    const backupEnv = (fixture: string) =>
      fakeResticEnv(resticFixture('0.14.0', fixture), { FAKE_RESTIC_DELAY_MS: '3' });

    it(`${RUNS} runs, some killed, outbox files damaged between runs: the gateway ends with every group's newest recorded run`, async () => {
      const seed = Number(process.env.FAULT_SEED ?? Date.now() % 1_000_000);
      console.log(`schedule seed: ${seed} (rerun with FAULT_SEED=${seed})`);
      const random = seededRandom(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;

      await startGateway();
      const calibrateStart = performance.now();
      const first = await runCli(['backup', '--config', config, '--tier', 't1', '--quiet'], {
        env: backupEnv('backup-success'),
      });
      assert.equal(first.code, 0, first.stderr);
      let runMs = performance.now() - calibrateStart;

      let kills = 0;
      let damaged = 0;
      const damages = new Map<Damage, number>();
      /** The newest end time each group showed so far: it must never go back. */
      const seenEnd = new Map<string, number>();
      const checkGateway = async (at: string) => {
        if (!gw) return;
        const groups = await gatewayGroups(gw.url);
        const ends = new Set((await readHistory(stateDir)).records.map((r) => r.endedAt / 1000));
        for (const t of TIERS) {
          const shown = endAt(groups, t);
          if (shown === undefined) continue;
          assert.ok(ends.has(shown), `${at}: ${t} shows end ${shown}, a run the history does not record`);
          const before = seenEnd.get(t) ?? 0;
          assert.ok(shown >= before, `${at}: ${t} went back from end ${before} to ${shown}`);
          seenEnd.set(t, shown);
        }
      };

      /** Damages one waiting outbox file, when there is one; true when it did. */
      const damageOne = (): boolean => {
        const names = readdirSync(join(stateDir, 'outbox')).filter(
          (n) => ENTRY.test(n) && lstatSync(join(stateDir, 'outbox', n)).isFile(),
        );
        if (names.length === 0) return false;
        const how = pick(DAMAGE);
        damage(join(stateDir, 'outbox', pick(names)), how, random);
        damaged++;
        damages.set(how, (damages.get(how) ?? 0) + 1);
        return true;
      };
      const backup = async (at: string, killAfterMs: number | undefined) => {
        const end = await runMaybeKilled(
          ['backup', '--config', config, '--tier', pick(TIERS)],
          backupEnv(pick(FIXTURES)),
          killAfterMs,
        );
        const { stderr } = end;
        if (end.signal === 'SIGKILL') kills++;
        else {
          runMs = 0.7 * runMs + 0.3 * end.ms;
          // 1: a damaged file was quarantined in this run (reported as dead-lettered).
          assert.ok([0, 1, 3, 12, 75].includes(end.code ?? -1), `${at}: exit ${end.code}: ${stderr}`);
          assert.doesNotMatch(stderr, /this is a bug/, at);
        }
        await checkGateway(at);
      };

      for (let i = 0; i < RUNS; i++) {
        const at = `seed ${seed}, run ${i}`;
        if (random() < 0.25) {
          if (gw) await stopGateway();
          else await startGateway();
        }
        // Damage up to two outbox files (entries waiting for a gateway that was down, or left by a kill).
        for (let k = 0; k < 2; k++) if (random() >= 0.4) damageOne();
        await backup(at, random() < 0.4 ? undefined : random() * runMs * 1.1);
      }
      // Some schedules leave few entries to damage (the gateway up whenever a run got through,
      // or the runs killed before they stored anything): a few more runs with the gateway down,
      // each leaving its entry, damage at least three files before the final checks.
      let extraRuns = 0;
      for (; damaged < 3 && extraRuns < 10; extraRuns++) {
        if (gw) await stopGateway();
        await backup(`seed ${seed}, extra run ${extraRuns}`, undefined);
        damageOne();
      }

      if (!gw) await startGateway();
      const at = `seed ${seed}, after the final flush`;
      // The first flush may still quarantine what the last damage left (exit 1); the second has
      // nothing left to do: every run is confirmed, nothing waits.
      const flush = await runCli(['flush', '--config', config]);
      assert.ok([0, 1].includes(flush.code ?? -1), `${at}: ${flush.stdout}${flush.stderr}`);
      assert.match(flush.stdout, /flush: \d+ delivered, 0 pending, /, `${at}: ${flush.stdout}`);
      const again = await runCli(['flush', '--config', config]);
      assert.equal(again.code, 0, `${at} (second): ${again.stdout}${again.stderr}`);
      assert.equal(
        again.stdout,
        `flush: 0 delivered, 0 pending, 0 dead-lettered, 0 superseded (${stateDir}/outbox)\n`,
        at,
      );
      assert.deepEqual(pendingEntries(stateDir), [], at);
      assert.deepEqual(tempFilesUnder(stateDir), [], at);
      // Every dead letter is a damaged file, quarantined; the gateway refused nothing.
      for (const d of deadLetters(stateDir))
        assert.match(d.dead.reason, /^(corrupt: |not a regular file of ours: )/, `${at}: ${d.dead.reason}`);

      const read = await readHistory(stateDir);
      const groups = await gatewayGroups(gw?.url ?? '');
      await checkGateway(at);
      for (const t of TIERS) {
        const records = read.records.filter((r) => r.tier === t);
        const newest = records.at(-1);
        if (!newest) continue;
        assert.equal(
          endAt(groups, t),
          newest.endedAt / 1000,
          `${at}: ${t}: the newest recorded run ${newest.id}`,
        );
        const g = groupOf(groups, t);
        assert.ok(g);
        const runs = Object.fromEntries(
          OUTCOMES.map((o) => [
            o,
            Number(groupValues(g, RUNS_TOTAL).find((m) => m.labels.outcome === o)?.value),
          ]),
        );
        const counts = Object.fromEntries(
          OUTCOMES.map((o) => [o, records.filter((r) => r.outcome === o).length]),
        );
        assert.deepEqual(runs, counts, `${at}: ${t}: runs_total by outcome`);
      }
      console.log(
        `seed ${seed}: ${RUNS} runs and ${extraRuns} more with the gateway down (${kills} killed), ${damaged} outbox files damaged (${[...damages].map(([h, n]) => `${h} x${n}`).join(', ')}); ` +
          `the history records ${read.records.length} runs; final flush: ${flush.stdout.trim().split('\n').at(-1)}, ` +
          `${(flush.stdout.match(/^requeued /gm) ?? []).length} re-queued`,
      );
      assert.ok(damaged >= 3, `seed ${seed}: only ${damaged} files damaged`);
    });
  });
}
