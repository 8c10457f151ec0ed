/**
 * End to end, the rotating data check (`check: { read-data: rotate, cycle: 3 }`) with the
 * real restic of each matrix version and the real Pushgateway: each check reads the next
 * third of the data, the position survives between runs (state directory), and the full
 * cycle's completion is pushed once all three parts were read without errors.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { gatewayGroup, groupValue, readHistory } from '../helpers/e2e.js';
import { resticMatrix } from '../helpers/matrix.js';
import { makeRepo, makeSourceTree, type TestRepo } from '../helpers/restic.js';
import { makeTempDir, type RunningService, startPushgateway } from '../helpers/services.js';

for (const restic of resticMatrix()) {
  describe(`check read-data: rotate (e2e, restic ${restic.version})`, { skip: restic.skip }, () => {
    const tmp = makeTempDir('resticprom-e2e-rotate-');
    const stateDir = join(tmp.dir, 'state');
    const configFile = join(tmp.dir, 'resticprom.yaml');
    const env = { HOME: tmp.dir };
    let gw: RunningService;
    let repo: TestRepo;

    const cli = (args: string[]) => runCli([...args, '--config', configFile], { env, timeoutMs: 180_000 });
    const checks = () => readHistory(stateDir).filter((r) => r.kind === 'check');

    before(async () => {
      await ensureBuilt();
      gw = await startPushgateway();
      repo = makeRepo(tmp.dir, 'e2e-rotate-password', { restic: restic.bin });
      const src = makeSourceTree(join(tmp.dir, 'nfs'), { files: 20, bytes: 4000 }).dir;
      writeFileSync(
        configFile,
        `state-dir: ${stateDir}
restic-binary: ${restic.bin}
hostname: e2e-host
profiles:
  nfs:
    repository: ${repo.repository}
    password-file: ${repo.passwordFile}
    env: { RESTIC_CACHE_DIR: ${repo.cacheDir} }
    paths: [${src}]
    check: { schedule: "0 5 * * *", read-data: rotate, cycle: 3 }
    tiers:
      daily: { schedule: "30 1 * * *" }
    metrics:
      job: nfs_backup
      grouping: { instance: "{tier}" }
      pushgateway: { url: "${gw.url}", retries: 0 }
`,
        { mode: 0o600 },
      );
      const b = await cli(['backup', '--tier', 'daily']);
      assert.equal(b.code, ExitCode.OK, b.stderr);
    });

    after(async () => {
      await gw?.stop();
      tmp.cleanup();
    });

    it('reads 1/3, 2/3, 3/3, then 1/3 again, and pushes the full cycle once it completed', async () => {
      const completed: (number | undefined)[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await cli(['check']);
        assert.equal(r.code, ExitCode.OK, r.stderr);
        const g = await gatewayGroup(gw.url, { job: 'nfs_backup', instance: 'check' });
        assert.equal(groupValue(g, 'restic_check_read_data_fraction'), 1 / 3);
        completed.push(groupValue(g, 'restic_check_full_cycle_completed_timestamp_seconds'));
      }
      const runs = checks();
      assert.deepEqual(
        runs.map((r) => (r.summary as { readDataSubset?: string }).readDataSubset),
        ['1/3', '2/3', '3/3', '1/3'],
      );
      const third = runs[2]?.endedAt ?? 0;
      assert.deepEqual(completed, [undefined, undefined, third / 1000, third / 1000]);
    });

    it('--read-data-subset on the command line overrides the rotation without advancing it', async () => {
      const r = await cli(['check', '--read-data-subset', '10%']);
      assert.equal(r.code, ExitCode.OK, r.stderr);
      const g = await gatewayGroup(gw.url, { job: 'nfs_backup', instance: 'check' });
      assert.equal(groupValue(g, 'restic_check_read_data_fraction'), 0.1);
      const next = await cli(['check']);
      assert.equal(next.code, ExitCode.OK, next.stderr);
      assert.deepEqual(
        checks()
          .slice(-2)
          .map((x) => (x.summary as { readDataSubset?: string }).readDataSubset),
        ['10%', '2/3'],
      );
    });
  });
}
