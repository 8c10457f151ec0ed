/**
 * The CLI's code cache (src/cli/code-cache.ts, src/cli/loader.ts): a command's first run
 * writes V8's code cache of cli.js, private, and later runs use it; a cache that is damaged,
 * made for another build, not the user's, writable by others, a link or a FIFO is ignored
 * and the command works all the same; a folder that cannot be used costs nothing but the
 * cache. Each case runs the real bin with RESTICPROM_DEBUG_CODE_CACHE=1, which says on
 * stderr what the entry point did.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { codeCacheDir, codeCacheFile } from '../../src/cli/code-cache.js';
import { CLI, ensureBuilt } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/services.js';

const isRoot = process.getuid?.() === 0;

describe('code cache of the CLI', () => {
  const tmp = makeTempDir('resticprom-code-cache-');
  const bin = join(tmp.dir, 'bin');
  const config = join(tmp.dir, 'resticprom.yaml');
  let n = 0;
  /** A fresh cache folder per case. */
  const freshDir = () => join(tmp.dir, `cache-${++n}`);
  const run = (dir: string, args: string[], extra: NodeJS.ProcessEnv = {}) => {
    const r = spawnSync(process.execPath, [join(bin, 'resticprom.js'), ...args], {
      env: {
        PATH: process.env.PATH,
        HOME: tmp.dir,
        NO_COLOR: '1',
        RESTICPROM_CODE_CACHE: dir,
        RESTICPROM_DEBUG_CODE_CACHE: '1',
        ...extra,
      },
      encoding: 'utf8',
      timeout: 60_000,
    });
    const notes = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('resticprom: code cache: '))
      .map((l) => l.slice('resticprom: code cache: '.length));
    return { code: r.status, stdout: r.stdout, stderr: r.stderr, notes };
  };
  const validate = ['config', 'validate', '--config', config];

  before(async () => {
    await ensureBuilt();
    // A copy of the bin, so that changing its cli.js (another build) touches no other test.
    cpSync(join(CLI, '..'), bin, { recursive: true });
    writeFileSync(
      config,
      `state-dir: ${join(tmp.dir, 'state')}
profiles:
  nfs:
    repository: /srv/repo
    password: inline-secret-pw-3141
    paths: [/srv/nfs]
    tiers:
      daily: { schedule: "30 1 * * *" }
`,
      { mode: 0o600 },
    );
  });
  after(tmp.cleanup);

  it('the first run writes the cache (0600, in a 0700 folder), the next uses it, with the same output', () => {
    const dir = freshDir();
    const first = run(dir, validate);
    assert.equal(first.code, 0, first.stderr);
    const file = join(dir, 'cli-config.v8');
    assert.deepEqual(first.notes, [
      `${file}: written (${statSync(file).size - 8 - 12 - keyLength(file)} bytes)`,
    ]);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const second = run(dir, validate);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(second.notes, [`${file}: used`]);
    assert.equal(second.stdout, first.stdout);
    // Compiled code only: nothing the run read is in it.
    assert.ok(!readFileSync(file).includes('inline-secret-pw-3141'));
    // Each command has its own; a usage error writes none.
    assert.equal(run(dir, ['--version']).code, 0);
    assert.equal(run(dir, ['bogus-command']).code, 2);
    assert.deepEqual(readdirSync(dir).sort(), ['cli-config.v8', 'cli-other.v8']);
  });

  it('a damaged or foreign file is not used, and is replaced', () => {
    const dir = freshDir();
    assert.equal(run(dir, validate).code, 0);
    const file = join(dir, 'cli-config.v8');
    const good = readFileSync(file);
    const cases: Array<[string, Buffer, string]> = [
      ['a flipped byte', flip(good, good.length - 100), 'damaged (checksum)'],
      ['cut short', good.subarray(0, good.length - 1000), 'damaged (checksum)'],
      ['random bytes', Buffer.from('not a cache at all, just some bytes'), 'not a code cache'],
      ['empty', Buffer.alloc(0), 'not a code cache'],
    ];
    for (const [what, bytes, why] of cases) {
      writeFileSync(file, bytes, { mode: 0o600 });
      const r = run(dir, validate);
      assert.equal(r.code, 0, `${what}: ${r.stderr}`);
      assert.equal(r.notes[0], `${file}: ${why}: not used`, what);
      assert.match(r.notes[1] ?? '', /: written \(\d+ bytes\)$/, what);
      assert.deepEqual(run(dir, validate).notes, [`${file}: used`], what);
    }
  });

  it('a cache of another build of cli.js is not used', () => {
    const dir = freshDir();
    assert.equal(run(dir, validate).code, 0);
    const later = new Date(Date.now() + 5_000);
    utimesSync(join(bin, 'cli.js'), later, later);
    const r = run(dir, validate);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.notes[0], `${join(dir, 'cli-config.v8')}: made for another build or node: not used`);
    assert.deepEqual(run(dir, validate).notes, [`${join(dir, 'cli-config.v8')}: used`]);
  });

  it('a link, a FIFO, a file others may write and a folder others may write are not trusted', () => {
    const dir = freshDir();
    assert.equal(run(dir, validate).code, 0);
    const file = join(dir, 'cli-config.v8');
    const good = readFileSync(file);
    const real = join(tmp.dir, 'elsewhere.v8');
    writeFileSync(real, good, { mode: 0o600 });
    const planted: Array<[string, () => void, string]> = [
      ['a link', () => symlinkSync(real, file), 'is a symbolic link'],
      ['a FIFO', () => spawnSync('mkfifo', ['-m', '600', file]), 'is not a regular file'],
      [
        'group-writable',
        () => writeFileSync(file, good, { mode: 0o620 }),
        'is writable by its group or others (mode 620)',
      ],
    ];
    for (const [what, plant, why] of planted) {
      spawnSync('rm', ['-f', file]);
      plant();
      if (what === 'group-writable') chmodSync(file, 0o620); // past the umask
      const r = run(dir, validate);
      assert.equal(r.code, 0, `${what}: ${r.stderr}`);
      assert.equal(r.notes[0], `${file}${why === 'is a symbolic link' ? ':' : ''} ${why}: not used`, what);
    }
    assert.ok(readFileSync(real).equals(good), "the link's target is never written");
    spawnSync('rm', ['-f', file]);
    chmodSync(dir, 0o770);
    const lax = run(dir, validate);
    assert.equal(lax.code, 0, lax.stderr);
    assert.deepEqual(lax.notes, [`${dir} is writable by its group or others (mode 770): not used`]);
    assert.ok(!existsSync(file), 'nothing is written into a folder others may write');
  });

  it('a cache file of another user is not used', { skip: isRoot ? false : 'needs root to chown' }, () => {
    const dir = freshDir();
    assert.equal(run(dir, validate).code, 0);
    const file = join(dir, 'cli-config.v8');
    chownSync(file, 65534, 65534);
    const r = run(dir, validate);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.notes[0], `${file} is owned by uid 65534: not used`);
  });

  it('off, or a folder that cannot be made: the command runs and says nothing of it', () => {
    const off = run('off', validate, { RESTICPROM_DEBUG_CODE_CACHE: undefined });
    assert.equal(off.code, 0, off.stderr);
    assert.equal(run('off', validate).notes[0], 'off');
    const blocker = join(tmp.dir, 'a-file');
    writeFileSync(blocker, 'x');
    const quiet = run(join(blocker, 'cache'), validate, { RESTICPROM_DEBUG_CODE_CACHE: undefined });
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(quiet.stderr, off.stderr);
    assert.match(run(join(blocker, 'cache'), validate).notes[0] ?? '', /ENOTDIR.*: not used$/);
  });

  it('with source maps on, node loads cli.js itself (so traces map to src/), and no cache is made', () => {
    const dir = freshDir();
    const r = run(dir, validate, { NODE_OPTIONS: '--enable-source-maps' });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.notes, []);
    assert.ok(!existsSync(dir));
  });

  it('finds its folder: the variable, systemd, root, XDG, HOME', () => {
    assert.equal(codeCacheDir({ RESTICPROM_CODE_CACHE: '/srv/cc', HOME: '/h' }, 1000), '/srv/cc');
    assert.equal(codeCacheDir({ RESTICPROM_CODE_CACHE: 'off', CACHE_DIRECTORY: '/c' }, 0), undefined);
    assert.equal(codeCacheDir({ RESTICPROM_CODE_CACHE: 'relative/dir' }, 0), undefined);
    assert.equal(
      codeCacheDir({ CACHE_DIRECTORY: '/var/cache/resticprom:/other', HOME: '/h' }, 1000),
      '/var/cache/resticprom/code',
    );
    assert.equal(codeCacheDir({ HOME: '/root' }, 0), '/var/cache/resticprom/code');
    assert.equal(codeCacheDir({ XDG_CACHE_HOME: '/x', HOME: '/h' }, 1000), '/x/resticprom/code');
    assert.equal(codeCacheDir({ XDG_CACHE_HOME: 'rel', HOME: '/h' }, 1000), '/h/.cache/resticprom/code');
    assert.equal(codeCacheDir({}, 1000), undefined);
    assert.equal(codeCacheFile('/c', ['backup', '--tier', 'daily']), '/c/cli-backup.v8');
    assert.equal(codeCacheFile('/c', ['--version']), '/c/cli-other.v8');
    assert.equal(codeCacheFile('/c', ['../../etc/x']), '/c/cli-other.v8');
  });
});

/** The key's length, from the file's header (magic, CRC-32, flags, key length). */
function keyLength(file: string): number {
  return readFileSync(file).readUInt32LE(16);
}

function flip(buf: Buffer, at: number): Buffer {
  const out = Buffer.from(buf);
  out[at] = (out[at] ?? 0) ^ 0xff;
  return out;
}
