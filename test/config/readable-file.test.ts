/**
 * One wording for a file that cannot be read, wherever the config names it: the config
 * file itself, the env-file read at a run, and `config validate`'s checks of password-file,
 * exclude-file and the rest, all through src/config/readable-file.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readEnvFile } from '../../src/config/env-file.js';
import { readConfigFile } from '../../src/config/find.js';
import { loadConfig } from '../../src/config/load.js';
import { checkReadableFile } from '../../src/config/readable-file.js';
import { ConfigError } from '../../src/errors.js';
import { preflightConfig } from '../../src/jobs/preflight.js';
import { makeTempDir } from '../helpers/services.js';

describe('readable files', () => {
  const tmp = makeTempDir();
  after(tmp.cleanup);
  const file = join(tmp.dir, 'plain.txt');
  const folder = join(tmp.dir, 'folder');
  const fifo = join(tmp.dir, 'fifo');
  writeFileSync(file, 'x\n', { mode: 0o640 });
  mkdirSync(folder);
  execFileSync('mkfifo', [fifo]);

  it('a regular file is readable, with its mode; the rest say why not', async () => {
    const ok = await checkReadableFile(file);
    assert.ok(ok.isReadable);
    assert.equal(ok.mode & 0o777, 0o640);
    assert.deepEqual(await checkReadableFile(join(tmp.dir, 'gone')), {
      isReadable: false,
      reason: 'does not exist',
    });
    assert.deepEqual(await checkReadableFile(folder), { isReadable: false, reason: 'is a directory' });
    assert.deepEqual(await checkReadableFile(fifo), { isReadable: false, reason: 'is not a regular file' });
    assert.deepEqual(await checkReadableFile(join(file, 'below')), {
      isReadable: false,
      reason: 'does not exist (a folder on its path is a file)',
    });
  });

  it('a file this user may not read', {
    skip: process.getuid?.() === 0 ? 'root may read every file' : false,
  }, async () => {
    const locked = join(tmp.dir, 'locked');
    writeFileSync(locked, 'x\n', { mode: 0o000 });
    assert.deepEqual(await checkReadableFile(locked), { isReadable: false, reason: 'is not readable' });
  });

  const message = async (p: Promise<unknown>) => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  };

  it('the config file and the env-file use the same words', async () => {
    assert.equal(await message(readConfigFile(folder)), `${folder}: the configuration file is a directory`);
    const gone = join(tmp.dir, 'gone.yaml');
    assert.equal(await message(readConfigFile(gone)), `${gone}: the configuration file does not exist`);
    // A FIFO in the config's place is refused at once, not waited on.
    assert.equal(
      await message(readConfigFile(fifo)),
      `${fifo}: the configuration file is not a regular file`,
    );
    const env = join(tmp.dir, 'cloud.env');
    assert.equal(await message(readEnvFile(env)), `${env}: the env-file does not exist`);
    assert.equal(await message(readEnvFile(fifo)), `${fifo}: the env-file is not a regular file`);
  });

  it('config validate: an exclude-file that is a directory, a files-from that is a FIFO', async () => {
    writeFileSync(join(tmp.dir, 'pw'), 'pw\n', { mode: 0o600 });
    const config = join(tmp.dir, 'c.yaml');
    writeFileSync(
      config,
      `profiles:
  nfs:
    repository: /srv/repo
    password-file: ${join(tmp.dir, 'pw')}
    paths: [/srv/nfs]
    exclude-file: ${folder}
    files-from: ${fifo}
    tiers:
      daily: { schedule: "30 1 * * *" }
`,
      { mode: 0o600 },
    );
    const loaded = await loadConfig({ file: config, env: { HOME: tmp.dir } });
    const report = await preflightConfig(loaded, { env: { PATH: process.env.PATH } });
    assert.deepEqual(
      report.problems.map((p) => p.message),
      [`exclude-file ${folder} is a directory`, `files-from ${fifo} is not a regular file`],
    );
    assert.deepEqual(
      report.problems.map((p) => p.line),
      [6, 7],
    );
  });
});
