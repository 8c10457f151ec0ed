/**
 * Faults of the state directory: not writable (a path under a file; a root-owned folder
 * while resticprom runs as nobody) and full (a 64 KiB tmpfs, filled before the run or
 * leaving one 4 KiB block, so restic runs and the bookkeeping after it fails). Each ends
 * with exit 73 and one line that says what could not be written, and, for a backup that
 * ran, how the backup went.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, ensureBuilt, runCli } from '../helpers/cli.js';
import { FAKE_RESTIC, fakeResticEnv, resticFixture } from '../helpers/restic.js';
import { freePort, makeTempDir } from '../helpers/services.js';
import { tempFilesUnder } from './helpers.js';

const SUCCESS = resticFixture('0.14.0', 'backup-success');
const METRICS = '# TYPE disk_value gauge\ndisk_value 1\n';

/** Runs the CLI as `nobody` (root is not stopped by file modes). */
function runAsNobody(args: string[], env: NodeJS.ProcessEnv, input: string) {
  return new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn(
      'setpriv',
      ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, CLI, ...args],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NO_COLOR: '1', ...env } },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdout.resume();
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
    child.stdin.end(input);
  });
}

describe('disk faults', () => {
  const tmp = makeTempDir('resticprom-faults-disk-');
  const mnt = join(tmp.dir, 'small');
  let isMounted = false;
  let port = 0;

  before(async () => {
    await ensureBuilt();
    chmodSync(tmp.dir, 0o755); // nobody must reach the config and its own folders
    port = await freePort(); // nothing listens: delivery is not what these tests are about
    writeFileSync(join(tmp.dir, 'password'), 'unused\n', { mode: 0o600 });
    mkdirSync(mnt);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'tmpfs', mnt], { stdio: 'pipe' });
      isMounted = true;
    } catch {
      // not root or no mount here: the full-disk tests are skipped (said in their output)
    }
  });
  after(() => {
    if (isMounted) execFileSync('umount', [mnt]);
    tmp.cleanup();
  });

  const config = (stateDir: string) => {
    const file = join(tmp.dir, `config-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(
      file,
      `state-dir: ${stateDir}
hostname: disk-host
restic-binary: ${FAKE_RESTIC}
profiles:
  p:
    repository: ${join(tmp.dir, 'repo')}
    password-file: ${join(tmp.dir, 'password')}
    paths: [${tmp.dir}]
    tiers:
      daily: { schedule: "30 1 * * *" }
    metrics:
      job: disk_backup
      pushgateway: { url: "http://127.0.0.1:${port}", retries: 0 }
`,
      { mode: 0o644 },
    );
    return file;
  };
  const push = (stateDir: string) =>
    runCli(['push', '--gateway', `http://127.0.0.1:${port}`, '--job', 'disk', '--state-dir', stateDir, '-'], {
      input: METRICS,
    });
  const backup = (stateDir: string) =>
    runCli(['backup', '--config', config(stateDir), '--tier', 'daily', '--quiet'], {
      env: fakeResticEnv(SUCCESS, { HOME: tmp.dir }),
    });

  it('state dir under a file (/dev/null/x): push and backup exit 73 with one line', async () => {
    const line =
      'resticprom: state directory /dev/null/x is not usable (ENOTDIR); choose another with --state-dir or RESTICPROM_STATE_DIR\n';
    const p = await push('/dev/null/x');
    assert.equal(p.stderr, line);
    assert.equal(p.code, 73);
    const b = await backup('/dev/null/x');
    assert.equal(b.stderr, line);
    assert.equal(b.code, 73);
  });

  it('state dir not writable for the user (root-owned 0700, resticprom runs as nobody): exit 73 with one line', async () => {
    const state = join(tmp.dir, 'root-only');
    mkdirSync(state, { mode: 0o700 });
    const p = await runAsNobody(
      ['push', '--gateway', `http://127.0.0.1:${port}`, '--job', 'disk', '--state-dir', state, '-'],
      { HOME: tmp.dir },
      METRICS,
    );
    assert.equal(
      p.stderr,
      `resticprom: state directory ${state} is not usable (EACCES); choose another with --state-dir or RESTICPROM_STATE_DIR\n`,
    );
    assert.equal(p.code, 73);
    const b = await runAsNobody(
      ['backup', '--config', config(state), '--tier', 'daily', '--quiet'],
      fakeResticEnv(SUCCESS, { HOME: tmp.dir }),
      '',
    );
    assert.equal(
      b.stderr,
      `resticprom: state directory ${state} is not usable (EACCES); choose another with --state-dir or RESTICPROM_STATE_DIR\n`,
    );
    assert.equal(b.code, 73);
  });

  /** Fills the tmpfs so that `freeBlocks` 4 KiB blocks remain, in a fresh state dir on it. */
  function fill(name: string, freeBlocks: number): string {
    execFileSync('sh', ['-c', `rm -rf ${mnt}/*`]);
    const state = join(mnt, name);
    mkdirSync(state, { mode: 0o700 });
    writeFileSync(join(mnt, 'fill'), Buffer.alloc((16 - freeBlocks) * 4096));
    return state;
  }

  it('state dir full before the run: nothing starts, exit 73, the line says ENOSPC; no temp file left', async (t) => {
    if (!isMounted) return t.skip('cannot mount a tmpfs here');
    const state = fill('full-before', 0);
    const b = await backup(state);
    assert.match(
      b.stderr,
      /^resticprom: cannot write the lock file \S+\/locks\/[0-9a-f]{16}\.lock: ENOSPC: no space left on device, write\n$/,
    );
    assert.equal(b.code, 73);
    assert.equal(existsSync(join(state, 'history.jsonl')), false);
    assert.deepEqual(tempFilesUnder(state), []);
    const p = await push(state);
    assert.match(p.stderr, /ENOSPC: no space left on device/);
    assert.equal(p.stderr.split('\n').length, 2, p.stderr);
    assert.equal(p.code, 73);
  });

  it('state dir full once restic has run: exit 73, and the line still says how the backup went', async (t) => {
    if (!isMounted) return t.skip('cannot mount a tmpfs here');
    // Three free blocks: the validated config cache, the tiers first seen (for WAITING) and
    // the repository lock take them; the history, outbox and latest metrics find none.
    const state = fill('full-after', 3);
    const b = await backup(state);
    assert.match(
      b.stderr,
      /^resticprom: backup p\/daily succeeded \(restic exit 0, snapshot fe7ef11e\), but cannot write the lock file \S+: ENOSPC: no space left on device, write\n$/,
    );
    assert.equal(b.code, 73);
    assert.deepEqual(tempFilesUnder(state), []);
  });
});
