/**
 * state/io.ts: the same operations, results and errors in both modes (the thread pool, the
 * library's and the daemon's; direct calls, a one-shot command's).
 */
import assert from 'node:assert/strict';
import { readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import * as io from '../../src/state/io.js';
import { makeTempDir } from '../helpers/services.js';

describe('state file operations, asynchronous and direct', () => {
  const tmp = makeTempDir('resticprom-io-');
  after(() => {
    io.useSynchronousIo(false);
    tmp.cleanup();
  });

  for (const mode of ['thread pool', 'direct'] as const) {
    it(`${mode}: a file written, read, changed and removed through a handle and by path`, async () => {
      io.useSynchronousIo(mode === 'direct');
      const dir = join(tmp.dir, mode.replace(' ', '-'));
      await io.mkdir(join(dir, 'sub'), { recursive: true, mode: 0o700 });
      const file = join(dir, 'sub', 'f.json');
      const fh = await io.open(file, 'wx', 0o600);
      await fh.writeFile('{"a":1}\n');
      await fh.write(Buffer.from('more\n'), 0, 5);
      await fh.chmod(0o640);
      await fh.sync();
      assert.equal((await fh.stat()).size, 13);
      await fh.truncate(8);
      await fh.close();
      assert.equal(readFileSync(file, 'utf8'), '{"a":1}\n');
      const rh = await io.open(file, io.constants.O_RDONLY | io.constants.O_NOFOLLOW);
      const buf = Buffer.alloc(3);
      assert.equal((await rh.read(buf, 0, 3, 2)).bytesRead, 3);
      assert.equal(buf.toString(), 'a":');
      assert.equal(await rh.readFile('utf8'), '{"a":1}\n');
      await rh.close();
      assert.equal(((await io.stat(file)).mode & 0o777).toString(8), '640');
      assert.deepEqual(await io.readdir(join(dir, 'sub')), ['f.json']);
      assert.equal(await io.readFile(file, 'utf8'), '{"a":1}\n');
      await io.rename(file, join(dir, 'g.json'));
      symlinkSync(join(dir, 'g.json'), join(dir, 'link'));
      assert.ok((await io.lstat(join(dir, 'link'))).isSymbolicLink());
      assert.equal(await io.readlink(join(dir, 'link')), join(dir, 'g.json'));
      assert.equal(await io.realpath(join(dir, 'link')), join(dir, 'g.json'));
      await io.unlink(join(dir, 'link'));
      await io.rm(join(dir, 'sub'), { recursive: true });
      await io.access(join(dir, 'g.json'));
    });

    it(`${mode}: errors are rejections with node's codes, never thrown at the call`, async () => {
      io.useSynchronousIo(mode === 'direct');
      const missing = join(tmp.dir, 'missing', 'x');
      const codeOf = (p: Promise<unknown>) =>
        p.then(
          () => 'resolved',
          (err: NodeJS.ErrnoException) => err.code,
        );
      assert.equal(await codeOf(io.stat(missing)), 'ENOENT');
      assert.equal(await codeOf(io.open(missing, 'r')), 'ENOENT');
      assert.equal(await codeOf(io.readFile(missing)), 'ENOENT');
      const link = join(tmp.dir, `link-${mode.replace(' ', '-')}`);
      symlinkSync('/etc/passwd', link);
      assert.equal(await codeOf(io.open(link, io.constants.O_RDONLY | io.constants.O_NOFOLLOW)), 'ELOOP');
    });
  }
});
