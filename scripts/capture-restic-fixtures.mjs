#!/usr/bin/env node
// Captures the fixtures of one real restic binary into test/fixtures/restic/<version>/, in the
// fixture format the tests read: <name>.jsonl (stdout), <name>.stderr and <name>.meta.json
// ({ restic, provenance: "captured", exitCode, command }).
//
// Usage (as root: the unreadable-file and unremovable-snapshot cases run restic as nobody):
//   node scripts/capture-restic-fixtures.mjs --restic /path/to/restic [--rest-server /path/to/restic-rest-server] [--out DIR]
// --rest-server adds the cases of a rest-server that answers 401 (wrong credentials); without
// it they are left out. --out defaults to test/fixtures/restic/<version>.
//
// Everything runs in /tmp/resticprom-fixture (removed before and after), with the source tree
// of test/fixtures/restic/capture-0.14.sh, `--host fixture-host` and relative source paths, so
// that two captures differ only in ids, times and durations.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BASE = '/tmp/resticprom-fixture';
const NOBODY = 65534;
const HOST = 'fixture-host';

function usage(msg) {
  console.error(`capture-restic-fixtures: ${msg}`);
  console.error(
    'usage: node scripts/capture-restic-fixtures.mjs --restic BIN [--rest-server BIN] [--out DIR]',
  );
  process.exit(2);
}

const argv = process.argv.slice(2);
const flag = (name) => {
  const i = argv.indexOf(name);
  if (i === -1) return undefined;
  const v = argv[i + 1];
  if (v === undefined || v.startsWith('--')) usage(`${name} needs a value`);
  return v;
};
const RESTIC = flag('--restic') ?? usage('--restic is required');
const REST_SERVER = flag('--rest-server');
if (process.getuid?.() !== 0) usage('run as root (some cases run restic as nobody)');

const versionText = spawnSync(RESTIC, ['version'], { encoding: 'utf8' });
const VERSION = /restic (\d+\.\d+\.\d+)/.exec(versionText.stdout ?? '')?.[1];
if (!VERSION) usage(`${RESTIC} version printed no version: ${versionText.stderr ?? versionText.error}`);
const OUT = resolve(flag('--out') ?? join(ROOT, 'test', 'fixtures', 'restic', VERSION));

const ENV = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: BASE,
  RESTIC_REPOSITORY: join(BASE, 'repo'),
  RESTIC_PASSWORD_FILE: join(BASE, 'pw'),
  RESTIC_CACHE_DIR: join(BASE, 'cache'),
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs restic and resolves to { code, stdout, stderr }. `onStart(child)` may stop or signal it;
 * `stdin: 'pipe'` keeps restic's stdin open (for `--stdin`) until it is killed.
 */
function run(args, opts = {}) {
  return new Promise((resolvePromise, reject) => {
    const cmd = opts.asNobody ? 'setpriv' : RESTIC;
    const cmdArgs = opts.asNobody
      ? [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', RESTIC, ...args]
      : args;
    const child = spawn(cmd, cmdArgs, {
      cwd: BASE,
      env: { ...ENV, ...opts.env },
      stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'],
    });
    const out = [];
    const err = [];
    child.stdout.on('data', (b) => out.push(b));
    child.stderr.on('data', (b) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolvePromise({
        code: code ?? (signal ? 128 : -1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
    opts.onStart?.(child);
  });
}

async function mustRun(args, opts) {
  const r = await run(args, opts);
  if (r.code !== 0) throw new Error(`restic ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r;
}

const written = [];
/** Runs one case and writes its three files. */
async function capture(name, args, what, opts = {}) {
  const r = await run(args, opts);
  writeFileSync(join(OUT, `${name}.jsonl`), r.stdout);
  writeFileSync(join(OUT, `${name}.stderr`), r.stderr);
  const command = `restic ${args.join(' ')}${what ? ` (${what})` : ''}`;
  writeFileSync(
    join(OUT, `${name}.meta.json`),
    `${JSON.stringify({ restic: VERSION, provenance: 'captured', exitCode: r.code, command })}\n`,
  );
  written.push(`${name} (exit ${r.code})`);
  return r;
}

/**
 * Waits until `dir` holds a finished file (a restic lock), polling every millisecond. restic's
 * local backend writes `<id>-tmp-<n>` and renames it: a process stopped before the rename holds
 * no lock.
 */
async function waitForFile(dir, timeoutMs) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (existsSync(dir) && readdirSync(dir).some((f) => !f.includes('-tmp-'))) return true;
    await new Promise((r) => setImmediate(r));
  }
  return false;
}

/** Starts `restic <args>`, waits for its lock file and stops it (SIGSTOP): the lock stays. */
async function holdLock(args) {
  const locks = join(BASE, 'repo', 'locks');
  let child;
  const done = run(args, { stdin: 'pipe', onStart: (c) => (child = c) });
  if (!(await waitForFile(locks, 20_000))) throw new Error(`restic ${args[0]} made no lock`);
  child.kill('SIGSTOP');
  return async () => {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await done;
    for (const f of readdirSync(locks)) unlinkSync(join(locks, f));
  };
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** Deterministic bytes that do not compress (xorshift). */
function pseudoRandom(seed, n) {
  const buf = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    buf[i] = x & 0xff;
  }
  return buf;
}

function chownTree(path, uid) {
  chownSync(path, uid, uid);
  if (statSync(path).isDirectory()) for (const f of readdirSync(path)) chownTree(join(path, f), uid);
}

async function main() {
  rmSync(BASE, { recursive: true, force: true });
  mkdirSync(BASE, { mode: 0o755 });
  chmodSync(BASE, 0o755);
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(BASE, 'pw'), 'fixture-password\n', { mode: 0o644 });
  writeFileSync(join(BASE, 'badpw'), 'wrong\n', { mode: 0o644 });
  await mustRun(['init']);
  // The source tree of capture-0.14.sh: 3 files, 12,061 bytes, in 3 directories.
  mkdirSync(join(BASE, 'data', 'docs'), { recursive: true });
  mkdirSync(join(BASE, 'data', 'photos'), { recursive: true });
  writeFileSync(join(BASE, 'data', 'docs', 'a.txt'), 'hello restic\n');
  writeFileSync(join(BASE, 'data', 'docs', 'b.txt'), 'b'.repeat(2048));
  writeFileSync(join(BASE, 'data', 'photos', 'c.jpg'), 'c'.repeat(10000));
  const tag = ['--tag', 'daily', '--host', HOST];

  // backup
  await capture('backup-success', ['backup', '--json', '-vv', ...tag, 'data'], '');
  writeFileSync(join(BASE, 'data', 'docs', 'a.txt'), 'hello restic\nchanged\n');
  writeFileSync(join(BASE, 'data', 'docs', 'new.txt'), 'new\n');
  await capture('backup-changed', ['backup', '--json', ...tag, 'data'], 'a.txt changed, new.txt added');
  await capture(
    'backup-source-missing',
    ['backup', '--json', ...tag, 'data', 'missing'],
    'source path missing does not exist',
  );
  // An unreadable file: restic runs as nobody, the file is root's with mode 000.
  const secret = join(BASE, 'data', 'docs', 'secret.txt');
  writeFileSync(secret, 'secret\n');
  chmodSync(secret, 0o000);
  chownTree(join(BASE, 'repo'), NOBODY);
  chownTree(join(BASE, 'cache'), NOBODY);
  await capture(
    'backup-unreadable',
    ['backup', '--json', ...tag, 'data'],
    'data/docs/secret.txt unreadable, run as nobody',
    { asNobody: true },
  );
  chownTree(join(BASE, 'repo'), 0);
  chownTree(join(BASE, 'cache'), 0);
  unlinkSync(secret);
  await capture('backup-wrong-password', ['backup', '--json', ...tag, 'data'], 'wrong password', {
    env: { RESTIC_PASSWORD_FILE: join(BASE, 'badpw') },
  });
  await capture('backup-repo-missing', ['backup', '--json', ...tag, 'data'], 'no repository', {
    env: { RESTIC_REPOSITORY: join(BASE, 'missing') },
  });

  // A repository locked exclusively: a stopped `restic check --read-data` on enough data.
  writeFileSync(join(BASE, 'big.bin'), pseudoRandom(7, 64 * 1024 * 1024));
  const big = await mustRun(['backup', '--json', '--host', HOST, '--tag', 'big', 'big.bin']);
  const bigId = /"snapshot_id":"([0-9a-f]+)"/.exec(big.stdout)?.[1];
  if (!bigId) throw new Error('the backup of big.bin printed no snapshot id');
  const release = await holdLock(['check', '--read-data']);
  await capture('backup-locked', ['backup', '--json', ...tag, 'data'], 'exclusive lock held by restic check');
  await capture('check-locked', ['check', '--json'], 'exclusive lock held by restic check');
  await release();
  await mustRun(['forget', bigId, '--prune']);
  unlinkSync(join(BASE, 'big.bin'));

  // Interrupted: `--stdin` keeps restic waiting for data; SIGINT once it has started.
  await capture(
    'backup-interrupted',
    ['backup', '--json', ...tag, '--stdin', '--stdin-filename', 'stream.bin'],
    'SIGINT while reading stdin',
    {
      stdin: 'pipe',
      onStart: (child) => {
        child.stdin.write('some data\n');
        setTimeout(() => child.kill('SIGINT'), 1500);
        // restic stays blocked in its read until stdin ends; the snapshot is not saved then
        setTimeout(() => child.stdin.end(), 1800);
      },
    },
  );
  {
    const locks = join(BASE, 'repo', 'locks');
    for (const f of existsSync(locks) ? readdirSync(locks) : []) unlinkSync(join(locks, f));
  }

  // other commands on the healthy repository
  await capture('snapshots', ['snapshots', '--json'], '');
  await capture('stats-restore-size', ['stats', '--json'], '');
  await capture('stats-raw-data', ['stats', '--json', '--mode', 'raw-data'], '');
  await mustRun(['backup', '--json', ...tag, 'data']);
  await capture('forget', ['forget', '--json', '--tag', 'daily', '--keep-last', '2'], '');
  // Snapshots that cannot be removed: the snapshots folder is root's, restic runs as nobody.
  await mustRun(['backup', '--json', ...tag, 'data']);
  await mustRun(['backup', '--json', ...tag, 'data']);
  chownTree(join(BASE, 'repo'), NOBODY);
  chownTree(join(BASE, 'cache'), NOBODY);
  chownSync(join(BASE, 'repo', 'snapshots'), 0, 0);
  chmodSync(join(BASE, 'repo', 'snapshots'), 0o755);
  await capture(
    'forget-unremovable',
    ['forget', '--json', '--tag', 'daily', '--keep-last', '1'],
    'the snapshots folder is not writable, run as nobody',
    { asNobody: true },
  );
  chownTree(join(BASE, 'repo'), 0);
  chownTree(join(BASE, 'cache'), 0);

  // check: healthy, unopenable, damaged
  await capture('check-ok', ['check', '--json'], '');
  await capture('check-wrong-password', ['check', '--json'], 'wrong password', {
    env: { RESTIC_PASSWORD_FILE: join(BASE, 'badpw') },
  });
  await capture('check-repo-missing', ['check', '--json'], 'no repository', {
    env: { RESTIC_REPOSITORY: join(BASE, 'missing') },
  });

  // A rest-server answering 401: the right user with a wrong password.
  if (REST_SERVER) {
    const port = await freePort();
    const served = join(BASE, 'served');
    mkdirSync(served);
    // htpasswd's {SHA} form: base64 of the password's SHA-1
    const hash = createHash('sha1').update('right-secret').digest('base64');
    writeFileSync(join(served, '.htpasswd'), `fixture:{SHA}${hash}\n`);
    const server = spawn(REST_SERVER, ['--path', served, '--listen', `127.0.0.1:${port}`], {
      stdio: 'ignore',
    });
    await sleep(500);
    const url = (pw) => `rest:http://fixture:${pw}@127.0.0.1:${port}/repo`;
    try {
      await mustRun(['init'], { env: { RESTIC_REPOSITORY: url('right-secret') } });
      const wrong = { env: { RESTIC_REPOSITORY: url('wrong-secret') } };
      await capture(
        'backup-unauthorized',
        ['backup', '--json', ...tag, 'data'],
        'rest-server answers 401',
        wrong,
      );
      await capture('check-unauthorized', ['check', '--json'], 'rest-server answers 401', wrong);
    } finally {
      server.kill('SIGTERM');
    }
  }

  // Damaged: a repository of one backup whose pack of tree blobs is gone (restic counts 2 errors
  // and prints more lines: a header, the items, a closing "The repository is damaged").
  const damaged = { env: { RESTIC_REPOSITORY: join(BASE, 'damaged') } };
  await mustRun(['init'], damaged);
  await mustRun(['backup', '--host', HOST, 'data'], damaged);
  const treePacks = new Set();
  const indexes = (await mustRun(['list', 'index'], damaged)).stdout.split('\n').filter(Boolean);
  for (const id of indexes) {
    const index = JSON.parse((await mustRun(['cat', 'index', id], damaged)).stdout);
    for (const p of index.packs ?? []) if (p.blobs?.some((b) => b.type === 'tree')) treePacks.add(p.id);
  }
  if (treePacks.size === 0) throw new Error('no pack of tree blobs to remove');
  for (const id of treePacks) unlinkSync(join(BASE, 'damaged', 'data', id.slice(0, 2), id));
  await capture('check-damaged', ['check', '--json'], 'the pack of tree blobs removed', damaged);

  writeFileSync(join(OUT, 'version.txt'), versionText.stdout);
  console.log(`captured restic ${VERSION} into ${OUT}: ${written.join(', ')}`);
}

try {
  await main();
} finally {
  rmSync(BASE, { recursive: true, force: true });
}
