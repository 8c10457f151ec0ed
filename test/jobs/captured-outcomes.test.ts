/**
 * What the check and forget jobs deliver for the outcomes of the real restic 0.18.0 and 0.19.1
 * (captured fixtures, replayed by the fake restic, written to a textfile): a check that could not
 * open the repository writes no `restic_check_errors`, so `ResticCheckErrors`
 * (`restic_check_errors > 0`) has nothing to fire on; a damaged repository writes restic's own
 * count; a forget that could not remove its snapshots writes what was really removed.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { runCheckJob, runForgetJob } from '../../src/jobs/maintenance.js';
import { FAKE_RESTIC, fakeResticEnv, resticFixture } from '../helpers/restic.js';
import { makeTempDir } from '../helpers/services.js';

// check is about the repository (no tier label); forget belongs to its tier
const LABELS = (instance: string) =>
  instance === 'check'
    ? '{job="nfs_backup",instance="check",profile="nfs",host="h"}'
    : `{job="nfs_backup",instance="${instance}",profile="nfs",tier="${instance}",host="h"}`;

describe('check and forget jobs on captured restic outcomes', () => {
  const tmp = makeTempDir('resticprom-jobs-captured-');
  after(() => tmp.cleanup());
  let n = 0;

  async function setup() {
    const dir = join(tmp.dir, `run-${n++}`);
    const textfile = `${dir}.prom`;
    const passwordFile = `${dir}.pw`;
    writeFileSync(passwordFile, 'unused\n', { mode: 0o600 });
    const configFile = `${dir}.yaml`;
    writeFileSync(
      configFile,
      `state-dir: ${dir}
hostname: h
restic-binary: ${FAKE_RESTIC}
profiles:
  nfs:
    repository: ${join(dir, 'repo')}
    password-file: ${passwordFile}
    paths: [/srv]
    tiers:
      daily: { schedule: "30 1 * * *", keep-last: 1 }
    metrics:
      job: nfs_backup
      grouping: { instance: "{tier}" }
      textfile: ${textfile}
`,
      { mode: 0o600 },
    );
    return { loaded: await loadConfig({ file: configFile }), textfile };
  }

  for (const v of ['0.18.0', '0.19.1']) {
    for (const [name, exit, reason] of [
      ['check-wrong-password', 12, 'wrong-password'],
      ['check-repo-missing', 10, 'repository-missing'],
      ['check-locked', 11, 'repository-locked'],
      ['check-unauthorized', 1, 'authentication-failed'],
    ] as const) {
      it(`${v} ${name}: reason ${reason}, no restic_check_errors written`, async () => {
        const { loaded, textfile } = await setup();
        const job = await runCheckJob({ loaded, env: fakeResticEnv(resticFixture(v, name)) });
        assert.equal(job.result.reason, reason);
        const text = readFileSync(textfile, 'utf8');
        assert.doesNotMatch(text, /^restic_check_errors/m);
        assert.match(text, new RegExp(`^restic_check_status${LABELS('check')} 0$`, 'm'));
        assert.match(text, new RegExp(`^restic_check_exit_code${LABELS('check')} ${exit}$`, 'm'));
      });
    }

    it(`${v} check-damaged: restic_check_errors is restic's num_errors, 2`, async () => {
      const { loaded, textfile } = await setup();
      const job = await runCheckJob({ loaded, env: fakeResticEnv(resticFixture(v, 'check-damaged')) });
      assert.equal(job.result.errorCount, 2);
      assert.match(
        readFileSync(textfile, 'utf8'),
        new RegExp(`^restic_check_errors${LABELS('check')} 2$`, 'm'),
      );
    });

    it(`${v} forget-unremovable: removed 0, status warning`, async () => {
      const { loaded, textfile } = await setup();
      const job = await runForgetJob({
        loaded,
        tier: 'daily',
        env: fakeResticEnv(resticFixture(v, 'forget-unremovable')),
      });
      assert.equal(job.result.outcome, 'incomplete');
      const text = readFileSync(textfile, 'utf8');
      assert.match(text, new RegExp(`^restic_forget_snapshots_removed${LABELS('daily')} 0$`, 'm'));
      assert.match(text, new RegExp(`^restic_forget_snapshots_kept${LABELS('daily')} 1$`, 'm'));
      assert.match(text, new RegExp(`^restic_forget_status${LABELS('daily')} 1$`, 'm'));
    });
  }
});
