/**
 * The CLI with a warm validated config cache: `backup` and `status` run from a copy of the
 * bundle without the vendor files of yaml, zod, protobufjs and the Grafana SDK, so they cannot
 * have loaded any of them, nor run any of our modules that import them (the config schema and
 * validation, the deploy generators: a module of the CLI file requires its packages when it is
 * first imported); warnings are still printed on every run; a changed file is validated again.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, ensureBuilt, runCli } from '../helpers/cli.js';
import { FAKE_RESTIC, fakeResticEnv, resticFixture } from '../helpers/restic.js';
import { makeTempDir } from '../helpers/services.js';

/** Packages whose vendor files a run served from the cache must not need. */
const NOT_LOADED = [
  /node_modules\/yaml\//,
  /node_modules\/zod\//,
  /node_modules\/protobufjs\//,
  /node_modules\/@grafana\//,
];

describe('CLI with a warm config cache', () => {
  const tmp = makeTempDir('resticprom-cli-cache-');
  const fx = resticFixture('0.14.0', 'backup-success');
  const stripped = join(tmp.dir, 'bin');
  const removed: string[] = [];
  const config = join(tmp.dir, 'resticprom.yaml');
  const state = join(tmp.dir, 'state');
  const runStripped = (args: string[]) => {
    const r = spawnSync(process.execPath, [join(stripped, 'resticprom.js'), ...args], {
      env: { ...fakeResticEnv(fx), NO_COLOR: '1', HOME: tmp.dir },
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  before(async () => {
    await ensureBuilt();
    cpSync(join(CLI, '..'), stripped, { recursive: true });
    for (const name of readdirSync(join(stripped, 'vendor'))) {
      if (!name.endsWith('.js')) continue;
      const map = JSON.parse(readFileSync(join(stripped, 'vendor', `${name}.map`), 'utf8')) as {
        sources: string[];
      };
      if (map.sources.some((s) => NOT_LOADED.some((re) => re.test(s)))) {
        rmSync(join(stripped, 'vendor', name));
        removed.push(name);
      }
    }
    // An inline password in a file others can read: a warning on every run.
    writeFileSync(
      config,
      `state-dir: ${state}
restic-binary: ${FAKE_RESTIC}
profiles:
  nfs:
    repository: /srv/repo
    password: inline-secret-pw
    paths: [/srv/nfs]
    tiers:
      daily: { schedule: "30 1 * * *" }
`,
    );
    chmodSync(config, 0o644);
  });
  after(tmp.cleanup);

  it('the copy lacks the files of yaml, zod and the config validation', () => {
    assert.deepEqual(removed.sort(), ['grafana.js', 'protobufjs.js', 'yaml.js', 'zod.js']);
    // Without a cache entry the copy cannot load the config: it really lacks them.
    const r = runStripped(['backup', '--tier', 'daily', '--quiet', '--config', config]);
    assert.notEqual(r.code, 0);
  });

  it('backup runs from the cache without them, and prints the warning every time', async () => {
    // The first run creates the state directory, the second stores the validated config.
    for (let i = 0; i < 2; i++) {
      const r = await runCli(['backup', '--tier', 'daily', '--quiet', '--config', config], {
        env: { ...fakeResticEnv(fx), HOME: tmp.dir },
      });
      assert.equal(r.code, 0, r.stderr);
    }
    const cacheFiles = readdirSync(join(state, 'cache'));
    assert.equal(cacheFiles.length, 1);
    assert.ok(
      !readFileSync(join(state, 'cache', cacheFiles[0] as string), 'utf8').includes('inline-secret-pw'),
    );
    for (let i = 0; i < 2; i++) {
      const r = runStripped(['backup', '--tier', 'daily', '--quiet', '--config', config]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        r.stderr.match(/^warning: .*contains a password inline \(profiles\.nfs\.password\)/gm)?.length,
        1,
        r.stderr,
      );
      // The fallback textfile, printed on stdout: the run's metrics as usual.
      assert.match(r.stdout, /^restic_backup_status\{.*tier="daily".*\} 2$/m);
    }
  });

  it('status runs from the cache without them', () => {
    const r = runStripped(['status', '--json', '--config', config]);
    assert.equal(r.stderr.match(/contains a password inline/g)?.length, 1, r.stderr);
    const report = JSON.parse(r.stdout) as { rows: Array<{ profile: string; tier: string; state: string }> };
    assert.deepEqual(
      report.rows.map((row) => [row.profile, row.tier, row.state]),
      [['nfs', 'daily', 'OK']],
    );
  });

  it('a changed file is validated again: the copy without yaml cannot, the full CLI can', async () => {
    writeFileSync(config, readFileSync(config, 'utf8').replace('/srv/nfs', '/srv/nfs2'));
    assert.notEqual(runStripped(['backup', '--tier', 'daily', '--quiet', '--config', config]).code, 0);
    const r = await runCli(['config', 'validate', '--config', config], { env: { HOME: tmp.dir } });
    assert.equal(r.code, 0, r.stderr);
  });
});
