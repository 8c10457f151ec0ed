/**
 * Every command that touches the state directory finds it through one precedence:
 * `--state-dir`, then `$RESTICPROM_STATE_DIR`, then the config's `state-dir`, then the
 * default. Here only the environment variable is set (the config names no state-dir, and
 * as root the default would be /var/lib/resticprom): backup, forget, check, stats, status,
 * run, push, flush and the daemon all use it, and the default folder gets none of it.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { ensureBuilt, runCli, spawnCli } from '../helpers/cli.js';
import { readHistory, waitUntil } from '../helpers/e2e.js';
import { makeRepo, makeSourceTree } from '../helpers/restic.js';
import { freePort, makeTempDir } from '../helpers/services.js';

describe('RESTICPROM_STATE_DIR alone is honoured by every command', () => {
  const tmp = makeTempDir('resticprom-statedir-env-');
  const envDir = join(tmp.dir, 'env-state');
  const confDir = join(tmp.dir, 'config-state');
  const env = { HOME: tmp.dir, RESTICPROM_STATE_DIR: envDir };
  let config: string;
  let configWithDir: string;
  const defaultHistory = '/var/lib/resticprom/history.jsonl';
  const defaultBefore = () => (existsSync(defaultHistory) ? readFileSync(defaultHistory, 'utf8') : '');
  let before0: string;

  before(async () => {
    await ensureBuilt();
    before0 = defaultBefore();
    const repo = makeRepo(tmp.dir, 'state-dir-env-password');
    const src = makeSourceTree(join(tmp.dir, 'src'), { files: 3, bytes: 100 }).dir;
    const body = `hostname: h
profiles:
  nfs:
    repository: ${repo.repository}
    password-file: ${repo.passwordFile}
    env: { RESTIC_CACHE_DIR: ${repo.cacheDir} }
    paths: [${src}]
    tiers:
      daily: { schedule: "30 1 * * *", keep-last: 3 }
`;
    config = join(tmp.dir, 'resticprom.yaml');
    writeFileSync(config, body, { mode: 0o600 });
    configWithDir = join(tmp.dir, 'with-dir.yaml');
    writeFileSync(configWithDir, `state-dir: ${confDir}\n${body}`, { mode: 0o600 });
  });
  after(() => tmp.cleanup());

  it('backup, forget, check and stats record in $RESTICPROM_STATE_DIR', async () => {
    for (const args of [['backup', '--tier', 'daily'], ['forget', '--tier', 'daily'], ['check'], ['stats']]) {
      const r = await runCli([...args, '--config', config], { env });
      assert.equal(r.code, ExitCode.OK, `${args.join(' ')}: ${r.stderr}`);
    }
    assert.deepEqual(
      readHistory(envDir).map((h) => h.kind),
      ['backup', 'forget', 'check', 'stats'],
    );
    // No destination configured: the textfile fallback is in the same state directory.
    assert.ok(existsSync(join(envDir, 'metrics', 'nfs-daily.prom')));
  });

  it("the environment wins over the config file's state-dir, and --state-dir over both", async () => {
    const r = await runCli(['backup', '--tier', 'daily', '--config', configWithDir], { env });
    assert.equal(r.code, ExitCode.OK, r.stderr);
    assert.equal(readHistory(envDir).filter((h) => h.kind === 'backup').length, 2);
    assert.equal(existsSync(join(confDir, 'history.jsonl')), false);
    const flagDir = join(tmp.dir, 'flag-state');
    const f = await runCli(['status', '--config', configWithDir, '--state-dir', flagDir], { env });
    // An empty state directory: the tier has not run there yet.
    assert.equal(f.code, ExitCode.OK, f.stdout);
    assert.match(f.stdout, /^nfs\s+daily\s+WAITING\b/m);
    // Without the variable the config's state-dir is used (where nothing ran either).
    const c = await runCli(['status', '--config', configWithDir], { env: { HOME: tmp.dir } });
    assert.match(c.stdout, /^nfs\s+daily\s+WAITING\b/m);
  });

  it('status reads the history there: the tier is OK, not NEVER', async () => {
    const r = await runCli(['status', '--config', config], { env });
    assert.equal(r.code, ExitCode.OK, r.stdout + r.stderr);
    assert.match(r.stdout, /^nfs\s+daily\s+OK\b/m);
  });

  it('run, push and flush use it: what push queues, flush finds', async () => {
    const run = await runCli(['run', '--job', 'nightly', '--', 'true'], { env });
    assert.equal(run.code, ExitCode.OK, run.stderr);
    assert.ok(existsSync(join(envDir, 'metrics', 'job-nightly.prom')));
    assert.equal(readHistory(envDir).at(-1)?.kind, 'run');

    const dead = `http://127.0.0.1:${await freePort()}`;
    const push = await runCli(['push', '--gateway', dead, '--job', 'j', '--retries', '0'], {
      env,
      input: 'some_metric 1\n',
    });
    assert.equal(push.code, ExitCode.TEMPFAIL, push.stderr);
    const flush = await runCli(['flush', '--retries', '0'], { env });
    assert.equal(flush.code, ExitCode.TEMPFAIL, flush.stdout + flush.stderr);
    assert.match(flush.stdout, /flush: 0 delivered, 1 pending/);
    assert.ok(flush.stdout.includes(join(envDir, 'outbox')), flush.stdout);
  });

  it('the daemon reads and writes there', async () => {
    const port = await freePort();
    const daemonConfig = join(tmp.dir, 'daemon.yaml');
    writeFileSync(daemonConfig, `daemon: { listen: "127.0.0.1:${port}" }\n${readFileSync(config, 'utf8')}`, {
      mode: 0o600,
    });
    const child = spawnCli(['daemon', '--config', daemonConfig], { env });
    try {
      const status = await waitUntil('the daemon status', async () => {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/api/status`);
          return res.ok ? ((await res.json()) as { rows?: { tier: string; state: string }[] }) : undefined;
        } catch {
          return undefined;
        }
      });
      const daily = JSON.stringify(status);
      assert.match(daily, /"tier":"daily"/);
      assert.match(daily, /"state":"OK"/, daily);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('close', r));
    }
  });

  it('nothing went to the default state directory', () => {
    assert.equal(defaultBefore(), before0);
  });
});

describe('output to a closed pipe', () => {
  it('`resticprom push --help | head -2` ends quietly: no EPIPE stack trace', async () => {
    await ensureBuilt();
    const { spawnSync } = await import('node:child_process');
    const { CLI } = await import('../helpers/cli.js');
    const r = spawnSync('sh', ['-c', `"${process.execPath}" "${CLI}" push --help | head -2`], {
      encoding: 'utf8',
    });
    assert.equal(r.stdout.split('\n').length, 3, r.stdout);
    assert.equal(r.stderr, '');
  });
});
