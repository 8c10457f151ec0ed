/**
 * What `resticprom backup` prints, with the fake restic replaying recorded output:
 * the config's log-format, the fallback textfile printed on stdout.
 */
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { FAKE_RESTIC, fakeResticEnv, resticFixture, writeFakeResticConfig } from '../helpers/restic.js';
import { makeTempDir } from '../helpers/services.js';

describe('backup output', () => {
  const tmp = makeTempDir();
  const fx = resticFixture('0.14.0', 'backup-success');
  const config = (head: string) =>
    writeFakeResticConfig(tmp.dir, { name: `c-${Math.random().toString(36).slice(2)}.yaml`, head });
  before(ensureBuilt);
  after(tmp.cleanup);

  it("follows the config's log-format: json lines on stderr", async () => {
    const r = await runCli(['backup', '--tier', 'daily', '--config', config('log-format: json\n')], {
      env: fakeResticEnv(fx),
    });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stderr.split('\n').filter(Boolean);
    assert.ok(lines.length > 0);
    const parsed = lines.map((l) => JSON.parse(l) as { level: string; msg: string; outcome?: string });
    const done = parsed.find((p) => p.msg.startsWith('backup nfs/daily succeeded'));
    assert.equal(done?.outcome, 'success');
    assert.equal(done?.level, 'info');
  });

  it('--log-format text overrides the config', async () => {
    const r = await runCli(
      ['backup', '--tier', 'daily', '--log-format', 'text', '--config', config('log-format: json\n')],
      { env: fakeResticEnv(fx) },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^backup nfs\/daily succeeded in [\d.]+m?s: snapshot [0-9a-f]+/m);
  });

  it('with no destination the metrics go to the fallback textfile and are printed on stdout', async () => {
    const r = await runCli(['backup', '--tier', 'daily', '--quiet', '--config', config('')], {
      env: fakeResticEnv(fx),
    });
    assert.equal(r.code, 0, r.stderr);
    // The default grouping: instance = hostname, profile, tier; the textfile carries them as labels.
    assert.match(
      r.stdout,
      /^restic_backup_status\{job="restic_backup",instance="[^"]+",profile="nfs",tier="daily",host="[^"]+"\} 2$/m,
    );
    assert.match(r.stdout, /^# TYPE restic_backup_processed_files gauge$/m);
  });

  it('prints a config warning once (an inline password in a file others can read)', async () => {
    const file = join(tmp.dir, 'inline.yaml');
    writeFileSync(
      file,
      `state-dir: ${join(tmp.dir, 'state')}
restic-binary: ${FAKE_RESTIC}
profiles:
  nfs:
    repository: /srv/repo
    password: inline-secret
    paths: [/srv/nfs]
    tiers:
      daily: { schedule: "30 1 * * *" }
`,
      { mode: 0o644 },
    );
    chmodSync(file, 0o644);
    const r = await runCli(['backup', '--tier', 'daily', '--quiet', '--config', file], {
      env: fakeResticEnv(fx),
    });
    assert.equal(r.code, 0, r.stderr);
    const warnings = r.stderr.split('\n').filter((l) => l.includes('readable by others'));
    assert.equal(warnings.length, 1, r.stderr);
    assert.ok(!r.stderr.includes('inline-secret'));
  });
});
