/**
 * A backup run keeps node's code cache for its built-in modules usable: V8 rejects a code
 * cache made under other V8 flags, so the young-generation setting held while restic's output
 * streams (src/util/young-generation.ts) must be back at its default before the run loads
 * `node:http` for the push. Read with node's internal counters (`--expose-internals`).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, ensureBuilt, runCli } from '../helpers/cli.js';
import { FAKE_RESTIC, fakeResticEnv, resticFixture } from '../helpers/restic.js';
import { makeTempDir, type RunningService, startPushgateway } from '../helpers/services.js';

/** A preload that writes, at exit, which built-in modules were compiled with and without a cache. */
const PRELOAD = `
const { writeFileSync } = require('node:fs');
const { internalBinding } = require('internal/test/binding');
const builtins = internalBinding('builtins');
process.on('exit', () => {
  const u = builtins.getCacheUsage();
  writeFileSync(process.env.CACHE_USAGE_FILE, JSON.stringify({
    hasCache: builtins.hasCachedBuiltins(),
    withCache: [...u.compiledWithCache],
    withoutCache: [...u.compiledWithoutCache],
  }));
});
`;

describe("a backup run and node's code cache for built-in modules", () => {
  const tmp = makeTempDir('resticprom-builtin-cache-');
  const fx = resticFixture('0.14.0', 'backup-success');
  const config = join(tmp.dir, 'resticprom.yaml');
  const preload = join(tmp.dir, 'usage.cjs');
  const usageFile = join(tmp.dir, 'usage.json');
  let gw: RunningService;

  before(async () => {
    await ensureBuilt();
    gw = await startPushgateway();
    writeFileSync(preload, PRELOAD);
    writeFileSync(join(tmp.dir, 'pw'), 'pw\n', { mode: 0o600 });
    writeFileSync(
      config,
      `state-dir: ${join(tmp.dir, 'state')}
restic-binary: ${FAKE_RESTIC}
profiles:
  nfs:
    repository: /srv/repo
    password-file: ${join(tmp.dir, 'pw')}
    paths: [/srv/nfs]
    tiers:
      daily: { schedule: "30 1 * * *" }
    metrics:
      pushgateway: { url: "${gw.url}" }
`,
      { mode: 0o600 },
    );
  });
  after(async () => {
    await gw?.stop();
    tmp.cleanup();
  });

  it('compiles none of them from source, node:http (loaded after the stream) included', async () => {
    const args = ['backup', '--config', config, '--tier', 'daily', '--quiet'];
    // The first run creates the state directory and the config cache.
    assert.equal((await runCli(args, { env: fakeResticEnv(fx) })).code, 0);
    const r = spawnSync(
      process.execPath,
      ['--expose-internals', '--no-warnings', '--require', preload, CLI, ...args],
      { env: { ...process.env, ...fakeResticEnv(fx), CACHE_USAGE_FILE: usageFile }, encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const usage = JSON.parse(readFileSync(usageFile, 'utf8')) as {
      hasCache: boolean;
      withCache: string[];
      withoutCache: string[];
    };
    if (!usage.hasCache) return; // a node built without the code cache: nothing to keep
    assert.deepEqual(usage.withoutCache, []);
    assert.ok(usage.withCache.includes('http'), usage.withCache.join(' '));
    assert.ok(usage.withCache.includes('child_process'), usage.withCache.join(' '));
    const group = await fetch(`${gw.url}/api/v1/metrics`).then((res) => res.json());
    assert.match(JSON.stringify(group), /restic_backup_status/);
  });
});
