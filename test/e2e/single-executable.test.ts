/**
 * The single executable (`npm run build:sea`) on a backup host without Node.js: the one file
 * installed into an empty folder by the README's install line, run with a PATH on which there
 * is no node (Debian's /usr/bin minus node, npm, npx and corepack, since this machine's node
 * lives in /usr/bin), from a working directory outside the clone. It prints its version, runs the demo, backs up a real
 * repository with Debian's restic to a real Pushgateway, and schedules itself in systemd units.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureSeaBuilt, ROOT, SEA } from '../helpers/cli.js';
import { gatewayGroup, groupValue } from '../helpers/e2e.js';
import { makeRepo, makeSourceTree } from '../helpers/restic.js';
import {
  makeTempDir,
  type RunningPrometheus,
  type RunningService,
  startPrometheus,
  startPushgateway,
} from '../helpers/services.js';

/** The marker node's binary carries when it can become a single executable. */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const NODE_TOOLS = new Set(['node', 'nodejs', 'npm', 'npx', 'corepack']);

const skip = readFileSync(process.execPath).includes(SEA_FUSE)
  ? false
  : `${process.execPath} was built without single-executable support (no ${SEA_FUSE})`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('the single executable, alone on a host without node (npm run build:sea)', { skip }, () => {
  const tmp = makeTempDir('resticprom-sea-');
  const bin = join(tmp.dir, 'bin');
  const system = join(tmp.dir, 'usr-bin-without-node');
  const home = join(tmp.dir, 'home');
  const env = { PATH: `${bin}:${system}`, HOME: home, LANG: 'C.UTF-8', NO_COLOR: '1' };
  let gw: RunningService | undefined;
  let prom: RunningPrometheus | undefined;

  /** Runs `cmd` in the host's environment (nothing inherited from the test's), cwd `home`. */
  const run = (cmd: string, args: string[], timeoutMs = 120_000): Promise<Run> =>
    new Promise((resolve, reject) => {
      const child = spawn(cmd, args, { cwd: home, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });

  before(async () => {
    await ensureSeaBuilt();
    mkdirSync(bin);
    mkdirSync(system);
    mkdirSync(home, { mode: 0o700 });
    // The README's install line, as written, with the scratch folder for /usr/local/bin.
    const line = readFileSync(join(ROOT, 'README.md'), 'utf8')
      .split('\n')
      .find((l) => l.includes('install -m 0755 dist/sea/resticprom'));
    assert.match(line ?? '', /^sudo install -m 0755 dist\/sea\/resticprom \/usr\/local\/bin\/resticprom +#/);
    execFileSync('sh', ['-c', (line ?? '').replace(/^sudo /, '').replaceAll('/usr/local/bin', bin)], {
      cwd: ROOT,
    });
    assert.equal(statSync(join(bin, 'resticprom')).size, statSync(SEA).size);
    // /bin is /usr/bin on Debian 12: one folder stands for both.
    for (const name of readdirSync('/usr/bin')) {
      if (!NODE_TOOLS.has(name)) symlinkSync(join('/usr/bin', name), join(system, name));
    }
    gw = await startPushgateway();
    prom = await startPrometheus({
      config: 'global:\n  scrape_interval: 1m\nscrape_configs: []\n',
      args: ['--web.enable-remote-write-receiver'],
    });
  });
  after(async () => {
    await gw?.stop();
    await prom?.stop();
    tmp.cleanup();
  });

  it('is one file, and the host has no node on PATH and no clone around it', async () => {
    assert.deepEqual(readdirSync(bin), ['resticprom']);
    const which = spawnSync('sh', ['-c', 'command -v node; command -v npm; command -v resticprom'], {
      cwd: home,
      env,
      encoding: 'utf8',
    });
    assert.equal(which.stdout, `${join(bin, 'resticprom')}\n`);
    assert.ok(!home.startsWith(ROOT));
  });

  it('resticprom --version', async () => {
    const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
    const r = await run('resticprom', ['--version']);
    assert.deepEqual(r, { code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it("resticprom demo: Debian's restic, Pushgateway and Prometheus answer the seed's queries", async () => {
    const r = await run('resticprom', ['demo']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /^demo: backup daily: success in [\d.]+s, 22 files, snapshot [0-9a-f]{8}; metrics pushed$/m,
    );
    assert.match(r.stdout, /^ {2}1 {2}files processed by the sub-daily backup +22$/m);
    assert.match(r.stdout, /^ {2}3 {2}the seed's alert: no backup in 24 h \(empty = quiet\) +\(empty\)$/m);
    assert.match(r.stdout, /Stopped the Pushgateway and Prometheus and removed the demo files\./);
  });

  it('resticprom backup: a real restic backup, its metrics on the real Pushgateway', async () => {
    const repoDir = join(tmp.dir, 'r');
    mkdirSync(repoDir);
    const repo = makeRepo(repoDir, 'sea-backup-password');
    const tree = makeSourceTree(join(tmp.dir, 'data'), { files: 17, bytes: 900 });
    const config = join(home, 'resticprom.yaml');
    writeFileSync(
      config,
      `state-dir: ${join(home, 'state')}
hostname: backup-host
profiles:
  nfs:
    repository: ${repo.repository}
    password-file: ${repo.passwordFile}
    paths: [${tree.dir}]
    tiers:
      daily: { schedule: "30 1 * * *" }
    metrics:
      job: nfs_backup
      grouping: { instance: "{tier}" }
      pushgateway: { url: "${gw?.url}" }
`,
      { mode: 0o600 },
    );
    const r = await run('resticprom', ['backup', '--config', config, '--tier', 'daily', '--quiet']);
    assert.deepEqual({ code: r.code, stderr: r.stderr }, { code: 0, stderr: '' });
    const group = await gatewayGroup(gw?.url ?? '', { job: 'nfs_backup', instance: 'daily' });
    assert.equal(groupValue(group, 'restic_backup_status'), 2);
    assert.equal(groupValue(group, 'restic_backup_exit_code'), 0);
    assert.equal(groupValue(group, 'restic_backup_processed_files'), 17);
    assert.equal(groupValue(group, 'restic_backup_files_new'), 17);
    assert.equal(groupValue(group, 'restic_backup_processed_bytes'), tree.totalBytes);
    // restic counts the tree's folders and each folder above it (/tmp, /tmp/resticprom-sea-X).
    assert.equal(groupValue(group, 'restic_backup_dirs_new'), tree.dirs + tree.dir.split('/').length - 2);

    // The units it installs start the executable itself, not node with a script.
    const units = join(home, 'units');
    const s = await run('resticprom', ['schedule', 'install', '--config', config, '--dir', units]);
    assert.equal(s.code, 0, s.stderr);
    const service = readFileSync(join(units, 'resticprom-nfs-daily.service'), 'utf8');
    assert.match(
      service,
      new RegExp(
        `^ExecStart=${join(bin, 'resticprom')} backup --config ${config} --profile nfs --tier daily --quiet$`,
        'm',
      ),
    );
  });

  it('push --remote-write: the bundled protobufjs and snappyjs encode what Prometheus stores', async () => {
    const file = join(home, 'probe.prom');
    writeFileSync(file, '# TYPE sea_probe gauge\nsea_probe{tier="daily"} 42\n');
    const r = await run('resticprom', [
      'push',
      '--remote-write',
      `${prom?.url}/api/v1/write`,
      '--job',
      'sea',
      '--state-dir',
      join(home, 'push-state'),
      '--quiet',
      file,
    ]);
    assert.deepEqual({ code: r.code, stderr: r.stderr }, { code: 0, stderr: '' });
    const samples = (await prom?.query('sea_probe')) ?? [];
    assert.deepEqual(
      samples.map((x) => [x.metric, x.value[1]]),
      [[{ __name__: 'sea_probe', job: 'sea', tier: 'daily' }, '42']],
    );
  });
});
