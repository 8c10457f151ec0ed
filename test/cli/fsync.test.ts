/**
 * A backup run fsyncs only what the crash-safety protocol needs (docs/operations.md, "What
 * is fsynced, and why"): the latest metrics and their folder (what a lost entry is re-queued
 * from), the outbox entry, its folder and the history line. Counted with
 * strace on a run whose state directory, history and config cache already exist.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, ensureBuilt, runCli } from '../helpers/cli.js';
import { fakeResticEnv, resticFixture, writeFakeResticConfig } from '../helpers/restic.js';
import { makeTempDir, type RunningService, startPushgateway } from '../helpers/services.js';

const hasStrace = spawnSync('strace', ['-V']).status === 0;

describe('fsyncs of a backup run', { skip: hasStrace ? false : 'strace is not installed' }, () => {
  const tmp = makeTempDir('resticprom-fsync-');
  const fx = resticFixture('0.14.0', 'backup-success');
  const config = join(tmp.dir, 'resticprom.yaml');
  let gw: RunningService;

  before(async () => {
    await ensureBuilt();
    gw = await startPushgateway();
    writeFakeResticConfig(tmp.dir, { metrics: `pushgateway: { url: "${gw.url}" }` });
  });
  after(async () => {
    await gw?.stop();
    tmp.cleanup();
  });

  it('are five: the latest metrics, their folder, the outbox entry, its folder, the history line', async () => {
    const args = ['backup', '--config', config, '--tier', 'daily', '--quiet'];
    // The first runs create the state directory, the history and the config cache.
    for (let i = 0; i < 2; i++) assert.equal((await runCli(args, { env: fakeResticEnv(fx) })).code, 0);
    const trace = join(tmp.dir, 'trace');
    const r = spawnSync(
      'strace',
      ['-f', '-e', 'trace=fsync,fdatasync', '-e', 'signal=none', '-o', trace, process.execPath, CLI, ...args],
      { env: { ...process.env, ...fakeResticEnv(fx) }, encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const calls = readFileSync(trace, 'utf8')
      .split('\n')
      .filter((l) => /\b(fsync|fdatasync)\(/.test(l) && !l.includes('resumed'));
    assert.equal(calls.length, 5, calls.join('\n'));
    const group = await fetch(`${gw.url}/api/v1/metrics`).then((res) => res.json());
    assert.match(JSON.stringify(group), /restic_backup_status/);
  });
});
