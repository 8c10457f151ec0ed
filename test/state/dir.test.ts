import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { StateError } from '../../src/errors.js';
import { ensureStateDir, resolveStateDir, tempFileOwner, writeFileAtomic } from '../../src/state/dir.js';
import { makeTempDir } from '../helpers/services.js';

describe('state directory', () => {
  const tmp = makeTempDir('resticprom-state-');
  after(() => tmp.cleanup());

  it('one precedence: --state-dir, then $RESTICPROM_STATE_DIR, then the config, then the default', () => {
    const env = { RESTICPROM_STATE_DIR: '/srv/env', HOME: '/h' };
    assert.equal(resolveStateDir({ flag: '/srv/flag', env, configured: '/srv/conf', uid: 0 }), '/srv/flag');
    assert.equal(resolveStateDir({ env, configured: '/srv/conf', uid: 0 }), '/srv/env');
    assert.equal(resolveStateDir({ env: { HOME: '/h' }, configured: '/srv/conf', uid: 0 }), '/srv/conf');
    assert.equal(resolveStateDir({ env: { HOME: '/h' }, uid: 0 }), '/var/lib/resticprom');
    // A relative XDG_STATE_HOME is ignored, as the XDG spec says.
    assert.equal(
      resolveStateDir({ env: { HOME: '/h', XDG_STATE_HOME: 'rel' }, uid: 1000 }),
      '/h/.local/state/resticprom',
    );
  });

  it('resolves $RESTICPROM_STATE_DIR, then root, XDG_STATE_HOME, ~/.local/state', () => {
    assert.equal(resolveStateDir({ env: { RESTICPROM_STATE_DIR: '/srv/s', HOME: '/h' }, uid: 0 }), '/srv/s');
    assert.equal(
      resolveStateDir({ env: { HOME: '/h', XDG_STATE_HOME: '/x' }, uid: 0 }),
      '/var/lib/resticprom',
    );
    assert.equal(resolveStateDir({ env: { HOME: '/h', XDG_STATE_HOME: '/x' }, uid: 1000 }), '/x/resticprom');
    assert.equal(
      resolveStateDir({ env: { HOME: '/home/ann' }, uid: 1000 }),
      '/home/ann/.local/state/resticprom',
    );
  });

  it('creates the directory 0700 and tightens a looser one', async () => {
    const fresh = join(tmp.dir, 'a', 'b', 'state');
    assert.equal(await ensureStateDir(fresh), fresh);
    assert.equal(statSync(fresh).mode & 0o777, 0o700);
    const loose = join(tmp.dir, 'loose');
    mkdirSync(loose);
    chmodSync(loose, 0o755);
    await ensureStateDir(loose);
    assert.equal(statSync(loose).mode & 0o777, 0o700);
  });

  it('throws a StateError with the path and a hint when the directory cannot be made', async () => {
    const file = join(tmp.dir, 'plain-file');
    writeFileSync(file, 'x');
    await assert.rejects(ensureStateDir(join(file, 'state')), (err: unknown) => {
      assert.ok(err instanceof StateError);
      assert.equal(err.path, join(file, 'state'));
      assert.equal(
        err.message,
        `state directory ${join(file, 'state')} is not usable (ENOTDIR); choose another with --state-dir or RESTICPROM_STATE_DIR`,
      );
      return true;
    });
  });

  it('writes files atomically with the given mode and leaves no temp file, also on failure', async () => {
    const dir = join(tmp.dir, 'atomic');
    mkdirSync(dir);
    const target = join(dir, 'out.json');
    await writeFileAtomic(target, 'one\n');
    await writeFileAtomic(target, 'two\n', { mode: 0o640 });
    assert.equal(readFileSync(target, 'utf8'), 'two\n');
    assert.equal(statSync(target).mode & 0o777, 0o640);
    mkdirSync(join(dir, 'is-a-dir'));
    await assert.rejects(writeFileAtomic(join(dir, 'is-a-dir'), 'x'), /EISDIR/);
    assert.deepEqual(readdirSync(dir).sort(), ['is-a-dir', 'out.json']);
  });

  it('names temp files after their writer', () => {
    assert.equal(tempFileOwner('.out.json.4242.0a1b2c3d.tmp'), 4242);
    assert.equal(tempFileOwner('out.json'), undefined);
  });
});
