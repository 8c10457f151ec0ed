/**
 * One repository, one lock: `/srv/repo`, `/srv//repo/`, `local:/srv/repo`, a relative path and
 * a symbolic link to it all take the same lock, so two profiles naming it differently never
 * run at once; remote repositories keep their own spelling.
 */
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { LockBusyError } from '../../src/errors.js';
import { acquireRepositoryLock, repositoryIdentity, repositoryLockPath } from '../../src/state/lock.js';
import { makeTempDir } from '../helpers/services.js';

describe('repository identity for locking', () => {
  const tmp = makeTempDir('resticprom-lock-id-');
  after(() => tmp.cleanup());

  it('resolves every spelling of a local repository to its real path', () => {
    const repo = join(tmp.dir, 'srv', 'repo');
    mkdirSync(repo, { recursive: true });
    const link = join(tmp.dir, 'link');
    symlinkSync(repo, link);
    const spellings = [
      repo,
      `${join(tmp.dir, 'srv')}//repo/`,
      `local:${repo}`,
      relative(process.cwd(), repo),
      link,
    ];
    for (const s of spellings) assert.equal(repositoryIdentity(s), repo, s);
    const paths = new Set(spellings.map((s) => repositoryLockPath(tmp.dir, s)));
    assert.equal(paths.size, 1);
  });

  it('keeps remote repositories as written, without a trailing slash', () => {
    assert.equal(repositoryIdentity('sftp:backup@host:/srv/repo/'), 'sftp:backup@host:/srv/repo');
    assert.equal(repositoryIdentity('rest:https://host:8000/repo'), 'rest:https://host:8000/repo');
    assert.notEqual(repositoryIdentity('s3:s3.amazonaws.com/a'), repositoryIdentity('s3:s3.amazonaws.com/b'));
  });

  it('a second spelling of a held repository is busy', async () => {
    const state = join(tmp.dir, 'state');
    const held = await acquireRepositoryLock(state, '/srv/repo', { command: 'backup a/daily' });
    try {
      await assert.rejects(acquireRepositoryLock(state, '/srv//repo/'), LockBusyError);
    } finally {
      await held.release();
    }
  });
});
