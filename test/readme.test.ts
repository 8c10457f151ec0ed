import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ExitCode } from '../src/cli/exit-codes.js';
import { parseConfigText } from '../src/config/index.js';
import {
  BACKUP_METRICS,
  BUILD_INFO,
  CHECK_METRICS,
  DAEMON_METRICS,
  FORGET_METRICS,
  hooksDurationMetric,
  JOB_METRICS,
  NOTIFY_METRICS,
  SEED_METRICS,
  STATS_METRICS,
} from '../src/metrics/names.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('README stays true', () => {
  it('documents every exit code', () => {
    for (const [name, code] of Object.entries(ExitCode)) {
      assert.match(
        readme,
        new RegExp(`^\\| ${code} \\|`, 'm'),
        `exit code ${code} (${name}) missing from README`,
      );
    }
  });

  it('documents every metric name', () => {
    const documented = (name: string) => {
      if (readme.includes(`\`${name}`)) return true;
      // Families written as `prefix_*` with suffix lists, e.g. `restic_forget_*` and `_status`.
      const m = /^(restic_[a-z]+|resticprom_job)_(.+)$/.exec(name);
      return Boolean(m && readme.includes(`\`${m[1]}_*\``) && readme.includes(`\`_${m[2]}\``));
    };
    const all = [
      SEED_METRICS,
      BACKUP_METRICS,
      FORGET_METRICS,
      CHECK_METRICS,
      STATS_METRICS,
      JOB_METRICS,
      DAEMON_METRICS,
      NOTIFY_METRICS,
    ].flatMap((t) => Object.values(t).map((d) => d.name));
    all.push(BUILD_INFO.name, hooksDurationMetric('restic_backup').name);
    for (const name of all) {
      const short = name.replace(/^restic_backup(_files|_dirs)_/, '$1_');
      assert.ok(documented(name) || readme.includes(`\`${short}\``), `${name} missing from README`);
    }
  });

  it('shows a config file that loads as written', () => {
    const block = /## Using it[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(block, 'no yaml block under "Using it"');
    const { config } = parseConfigText(block, { file: 'README.md', env: {} });
    const nfs = config.profiles.nfs;
    assert.deepEqual(Object.keys(nfs?.tiers ?? {}), ['sub-daily', 'daily', 'weekly', 'monthly']);
    assert.equal(nfs?.metrics.job, 'nfs_backup');
    assert.deepEqual(nfs?.metrics.grouping, { instance: '{tier}' });
    assert.equal(nfs?.forgetAfterBackup, true);
  });

  it('gives the quick start commands that CI runs', () => {
    assert.ok(readme.includes('npm run setup && npm run demo'));
    assert.ok(readme.includes('npm run setup && npm test'));
    const ci = readFileSync(new URL('../.ci/run', import.meta.url), 'utf8');
    assert.match(ci, /^npm run setup$/m);
    assert.match(ci, /^npm test$/m);
  });
});
