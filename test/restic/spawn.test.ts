import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ResticError } from '../../src/errors.js';
import { runBackup } from '../../src/restic/backup.js';
import { buildResticEnv, LineSplitter, spawnRestic } from '../../src/restic/spawn.js';
import { FAKE_RESTIC, fakeResticEnv, resticFixture } from '../helpers/restic.js';
import { makeTempDir } from '../helpers/services.js';

function split(chunks: Array<string | Buffer>, max = 64): { lines: string[]; truncated: number } {
  const lines: string[] = [];
  const s = new LineSplitter(max, (l) => lines.push(l));
  for (const c of chunks) s.push(typeof c === 'string' ? Buffer.from(c) : c);
  s.end();
  return { lines, truncated: s.truncated };
}

describe('LineSplitter', () => {
  it('joins lines split across chunks, strips CRLF, emits a last line without break', () => {
    assert.deepEqual(split(['ab', 'c\nde', 'f\r\n', '\n', 'tail']).lines, ['abc', 'def', '', 'tail']);
  });

  it('cuts a long line at max bytes and goes on with the next one', () => {
    const r = split(['x'.repeat(50), 'y'.repeat(50), 'z'.repeat(50), '\nshort\n', 'w'.repeat(100), '\n'], 64);
    assert.deepEqual(r.lines, ['x'.repeat(50) + 'y'.repeat(14), 'short', 'w'.repeat(64)]);
    assert.equal(r.truncated, 2);
  });

  it('tolerates invalid UTF-8 (replacement characters), even split across chunks', () => {
    const r = split([Buffer.from([0x61, 0xff, 0xfe, 0x0a]), Buffer.from([0xc3]), Buffer.from([0xa9, 0x0a])]);
    assert.deepEqual(r.lines, ['a\uFFFD\uFFFD', 'é']);
  });
});

describe('buildResticEnv', () => {
  const saved = { ...process.env };
  before(() => {
    process.env.RESTIC_PASSWORD = 'inherited-secret';
    process.env.RESTIC_PASSWORD_COMMAND = 'echo inherited';
  });
  after(() => {
    for (const k of ['RESTIC_PASSWORD', 'RESTIC_PASSWORD_COMMAND']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });

  it('drops inherited RESTIC_PASSWORD* and sets exactly the given password source', () => {
    const a = buildResticEnv({ repository: '/r', password: { file: '/pw' }, cpuLimit: 2 });
    assert.equal(a.RESTIC_PASSWORD, undefined);
    assert.equal(a.RESTIC_PASSWORD_COMMAND, undefined);
    assert.equal(a.RESTIC_PASSWORD_FILE, '/pw');
    assert.equal(a.RESTIC_REPOSITORY, '/r');
    assert.equal(a.GOMAXPROCS, '2');
    assert.equal(buildResticEnv({}).RESTIC_PASSWORD, undefined);
    assert.equal(
      buildResticEnv({ password: { command: 'pass show x' } }).RESTIC_PASSWORD_COMMAND,
      'pass show x',
    );
    assert.equal(buildResticEnv({ password: { value: 'v' } }).RESTIC_PASSWORD, 'v');
  });

  it('keeps RESTIC_PASSWORD* of an explicitly given env', () => {
    const e = buildResticEnv({ env: { RESTIC_PASSWORD_FILE: '/given' } });
    assert.equal(e.RESTIC_PASSWORD_FILE, '/given');
    assert.throws(
      () => buildResticEnv({ cpuLimit: 0 }),
      /cpuLimit must be a whole number of cores >= 1, got 0/,
    );
  });
});

describe('spawnRestic with the fake restic', () => {
  let tmp: { dir: string; cleanup: () => void };
  before(() => {
    tmp = makeTempDir('resticprom-spawn-');
  });
  after(() => tmp.cleanup());

  it('passes repository and password in the environment only; argv as built', async () => {
    const record = join(tmp.dir, 'record.json');
    const fx = resticFixture('0.17.3', 'backup-success');
    const r = await runBackup({
      resticBinary: FAKE_RESTIC,
      env: fakeResticEnv(fx, { FAKE_RESTIC_RECORD: record }),
      repository: 'sftp:backup@host:/srv/restic',
      password: { value: 'hunter2-secret' },
      paths: ['/srv/nfs', '-weird'],
      tags: ['daily'],
      exclude: ['*.tmp'],
      excludeIfPresent: ['.nobackup'],
      extraArgs: ['--one-file-system'],
      cpuLimit: 1,
    });
    assert.equal(r.outcome, 'success');
    const rec = JSON.parse(readFileSync(record, 'utf8')) as { argv: string[]; env: Record<string, string> };
    assert.deepEqual(rec.argv, [
      'backup',
      '--json',
      '--tag',
      'daily',
      '--exclude',
      '*.tmp',
      '--exclude-if-present',
      '.nobackup',
      '--one-file-system',
      '--',
      '/srv/nfs',
      '-weird',
    ]);
    assert.deepEqual(rec.env, {
      RESTIC_REPOSITORY: 'sftp:backup@host:/srv/restic',
      RESTIC_PASSWORD: 'hunter2-secret',
      GOMAXPROCS: '1',
    });
  });

  it('survives a 10 MB line: cut to maxLineBytes, counted malformed, the rest parsed', async () => {
    const out = join(tmp.dir, 'huge.jsonl');
    const summary = readFileSync(resticFixture('0.16.4', 'backup-success').stdoutFile, 'utf8');
    writeFileSync(
      out,
      `{"message_type":"status","current_files":["${'a'.repeat(10 * 1024 * 1024)}"]}\n${summary}`,
    );
    const r = await runBackup({
      resticBinary: FAKE_RESTIC,
      env: { PATH: process.env.PATH ?? '', FAKE_RESTIC_STDOUT: out },
      paths: ['x'],
    });
    assert.equal(r.outcome, 'success');
    assert.equal(r.malformedLines, 1);
    assert.equal(r.summary?.filesNew, 3);
    assert.match(
      r.message ?? '',
      /; 1 malformed JSON line\(s\) from restic, first: \{"message_type":"status","current_files":\["a+$/,
    );
  });

  it('streams a million lines with flat memory', async () => {
    const fx = resticFixture('0.16.4', 'backup-success');
    let n = 0;
    const rssBefore = process.memoryUsage().rss;
    const r = await spawnRestic({
      resticBinary: FAKE_RESTIC,
      args: ['backup'],
      env: fakeResticEnv(fx, { FAKE_RESTIC_REPEAT: '125000' }),
      onStdoutLine: () => {
        n++;
      },
    });
    assert.equal(r.exitCode, 0);
    assert.equal(n, 125_000 * 9);
    assert.equal(r.stdoutLines, 125_000 * 9);
    // 1.1 M lines (~200 MB) went through; memory must not have grown by anything like that
    assert.ok(process.memoryUsage().rss - rssBefore < 150 * 1024 * 1024);
  });

  it('rejects with ResticError when the binary is missing', async () => {
    await assert.rejects(
      spawnRestic({ resticBinary: join(tmp.dir, 'nope'), args: ['snapshots'] }),
      (e: unknown) => {
        assert.ok(e instanceof ResticError);
        assert.equal(e.command, 'snapshots');
        assert.equal(e.message, `cannot start restic snapshots (${join(tmp.dir, 'nope')}): not found`);
        return true;
      },
    );
  });

  it('an already aborted signal stops restic at once', async () => {
    const fx = resticFixture('0.18.0', 'backup-success');
    const ac = new AbortController();
    ac.abort();
    const r = await spawnRestic({
      resticBinary: FAKE_RESTIC,
      args: ['backup'],
      env: fakeResticEnv(fx, { FAKE_RESTIC_HANG: '1', FAKE_RESTIC_STDOUT: '' }),
      signal: ac.signal,
    });
    assert.equal(r.stopReason, 'interrupted');
    assert.ok(r.exitCode === 130 || r.signal === 'SIGINT');
  });
});
