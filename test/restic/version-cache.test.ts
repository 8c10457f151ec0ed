import assert from 'node:assert/strict';
import { chmodSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { getResticVersionCached } from '../../src/restic/version.js';
import { makeTempDir } from '../helpers/services.js';

describe('getResticVersionCached', () => {
  const tmp = makeTempDir();
  after(tmp.cleanup);

  it('asks restic once per binary and asks again when the binary changes', async () => {
    const calls = join(tmp.dir, 'calls');
    writeFileSync(calls, '');
    const wrapper = join(tmp.dir, 'restic');
    writeFileSync(wrapper, `#!/bin/sh\necho x >> ${calls}\nexec restic "$@"\n`);
    chmodSync(wrapper, 0o755);
    const cacheFile = join(tmp.dir, 'restic-version.json');
    const count = () => readFileSync(calls, 'utf8').split('\n').filter(Boolean).length;

    const first = await getResticVersionCached({ resticBinary: wrapper, cacheFile, useCache: false });
    assert.equal(first.version, '0.14.0');
    assert.equal(count(), 1);
    const cached = JSON.parse(readFileSync(cacheFile, 'utf8')) as { path: string; raw: string };
    assert.equal(cached.path, wrapper);
    assert.match(cached.raw, /^restic 0\.14\.0 compiled with go/);

    const second = await getResticVersionCached({ resticBinary: wrapper, cacheFile, useCache: false });
    assert.deepEqual(second, first);
    assert.equal(count(), 1, 'the second call must not start restic');

    utimesSync(wrapper, new Date(), new Date(Date.now() + 5000));
    await getResticVersionCached({ resticBinary: wrapper, cacheFile, useCache: false });
    assert.equal(count(), 2, 'a changed binary is asked again');
  });

  it('a damaged cache file falls back to asking restic', async () => {
    const cacheFile = join(tmp.dir, 'bad.json');
    writeFileSync(cacheFile, '{not json');
    const v = await getResticVersionCached({ resticBinary: 'restic', cacheFile, useCache: false });
    assert.equal(v.version, '0.14.0');
  });
});
