import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { type DaemonRunRequest, startDaemon } from '../../src/schedule/daemon.js';
import { planSchedule } from '../../src/schedule/plan.js';
import { makeTempDir } from '../helpers/services.js';

describe('daemon: scheduled restore drills', () => {
  it('runs verify on its own schedule, in the repository queue, and lists it in the plan', async () => {
    const tmp = makeTempDir('resticprom-daemon-verify-');
    try {
      mkdirSync(join(tmp.dir, 'state'), { mode: 0o700 });
      writeFileSync(join(tmp.dir, 'pw'), 'x\n', { mode: 0o600 });
      const configFile = join(tmp.dir, 'resticprom.yaml');
      writeFileSync(
        configFile,
        `state-dir: ${join(tmp.dir, 'state')}
timezone: UTC
daemon: { listen: "127.0.0.1:0", run-missed: false }
profiles:
  nfs:
    repository: ${join(tmp.dir, 'repo')}
    password-file: ${join(tmp.dir, 'pw')}
    paths: [${tmp.dir}]
    verify: { schedule: "* * * * * *", tier: weekly }
    tiers:
      daily: { schedule: "0 3 * * *" }
      weekly: { schedule: "0 4 * * 0" }
`,
        { mode: 0o600 },
      );
      const loaded = await loadConfig({ file: configFile });
      assert.deepEqual(
        planSchedule(loaded.config).map((e) => [e.job, e.profile, e.tier ?? null, e.schedule]),
        [
          ['backup', 'nfs', 'daily', '0 3 * * *'],
          ['backup', 'nfs', 'weekly', '0 4 * * 0'],
          ['verify', 'nfs', null, '* * * * * *'],
        ],
      );
      const runs: DaemonRunRequest[] = [];
      const lines: string[] = [];
      const log = (level: string) => (m: string) => lines.push(`${level}: ${m}`);
      const daemon = await startDaemon({
        configFile,
        log: { info: log('info'), warn: log('warn'), error: log('error') },
        runJob: async (req) => {
          runs.push(req);
          return { outcome: 'success', message: 'succeeded in 1s: 200 file(s), 1 GiB restored as backed up' };
        },
      });
      try {
        const deadline = Date.now() + 10_000;
        while (runs.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      } finally {
        await daemon.stop(0);
      }
      assert.equal(runs[0]?.job, 'verify');
      assert.equal(runs[0]?.profile, 'nfs');
      assert.equal(runs[0]?.tier, undefined);
      assert.ok(
        lines.some((l) => /^info: 2 tier\(s\), 1 restore drill\(s\) scheduled in UTC/.test(l)),
        lines.join('\n'),
      );
      assert.ok(
        lines.includes('info: verify nfs succeeded in 1s: 200 file(s), 1 GiB restored as backed up'),
        lines.join('\n'),
      );
    } finally {
      tmp.cleanup();
    }
  });
});
