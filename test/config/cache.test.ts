/**
 * The validated config cache: what invalidates an entry (the file, an environment value the
 * config reads, resticprom's version), that secrets are never written to it, and that a
 * cache file that is corrupt, foreign-owned, open to others or a symlink is ignored.
 */
import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfigCached } from '../../src/config/cache.js';
import { loadConfig } from '../../src/config/load.js';
import { makeTempDir } from '../helpers/services.js';

const tmp = makeTempDir('resticprom-config-cache-');
after(tmp.cleanup);

let n = 0;
/** A fresh folder with a config file in it; the state directory is `<dir>/state`. */
function setup(body: string, mode = 0o600) {
  const dir = join(tmp.dir, `c${n++}`);
  const state = join(dir, 'state');
  const file = join(dir, 'resticprom.yaml');
  require0700(dir);
  mkdirSync(state, { mode: 0o700 });
  writeFileSync(file, `state-dir: ${state}\n${body}`, { mode });
  chmodSync(file, mode);
  const cacheFile = () => {
    const names = readdirSync(join(state, 'cache'));
    assert.equal(names.length, 1, names.join(', '));
    return join(state, 'cache', names[0] as string);
  };
  return { dir, state, file, cacheFile };
}

function require0700(dir: string) {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

const PROFILE = `profiles:
  nfs:
    repository: /srv/repo
    password: \${PW}
    paths: [/srv/nfs]
    env:
      AWS_ACCESS_KEY_ID: AKIA-not-secret
      AWS_SECRET_ACCESS_KEY: 'inline-aws-secret'
    tiers:
      daily: { schedule: "30 1 * * *" }
      weekly: { schedule: "0 3 * * 0" }
    metrics:
      grouping: { instance: "{hostname}" }
      pushgateway:
        url: http://127.0.0.1:9091
        basic-auth: { username: ann, password: "gw-secret-pass" }
        headers: { X-Scope-OrgID: "\${TENANT:-tenant-a}" }
`;

describe('validated config cache', () => {
  const env = { PW: 'repo-pass-from-env', HOME: '/home/ann', PATH: '/usr/bin' };

  it('validates and stores on the first load, serves the same result from the cache on the next', async () => {
    const c = setup(PROFILE);
    const full = await loadConfig({ file: c.file, env });
    const first = await loadConfigCached({ file: c.file, env });
    assert.equal(first.cache.status, 'stored', first.cache.reason);
    const second = await loadConfigCached({ file: c.file, env });
    assert.equal(second.cache.status, 'hit', second.cache.reason);
    assert.equal(second.cache.file, c.cacheFile());
    assert.deepEqual(second.config, full.config);
    assert.deepEqual(second.warnings, full.warnings);
    // The grouping warning (two tiers share a group) is printed on every run: it is stored.
    assert.match(second.warnings.join('\n'), /no value contains \{tier\}/);
    // The secrets were read again from the file and the environment.
    const p = second.config.profiles.nfs;
    assert.deepEqual(p?.password, { value: 'repo-pass-from-env' });
    assert.equal(p?.env.AWS_SECRET_ACCESS_KEY, 'inline-aws-secret');
    assert.deepEqual(p?.metrics.pushgateway[0]?.basicAuth, {
      username: 'ann',
      password: { value: 'gw-secret-pass' },
    });
    assert.equal(p?.metrics.pushgateway[0]?.headers?.['X-Scope-OrgID'], 'tenant-a');
  });

  it('never writes a secret to the cache file, which is 0600 in a 0700 folder', async () => {
    const c = setup(PROFILE);
    assert.equal((await loadConfigCached({ file: c.file, env })).cache.status, 'stored');
    const text = readFileSync(c.cacheFile(), 'utf8');
    for (const secret of ['repo-pass-from-env', 'inline-aws-secret', 'gw-secret-pass', 'tenant-a'])
      assert.ok(!text.includes(secret), `${secret} in the cache file`);
    assert.ok(text.includes('AKIA-not-secret') === false, 'env values are kept out whatever their name');
    assert.equal(statSync(c.cacheFile()).mode & 0o777, 0o600);
    assert.equal(statSync(join(c.state, 'cache')).mode & 0o777, 0o700);
  });

  it('a changed file is validated again, and its new content served', async () => {
    const c = setup(PROFILE);
    await loadConfigCached({ file: c.file, env });
    writeFileSync(c.file, readFileSync(c.file, 'utf8').replace('/srv/nfs', '/srv/other'));
    const changed = await loadConfigCached({ file: c.file, env });
    assert.equal(changed.cache.status, 'stored');
    assert.equal(changed.cache.reason, 'changed');
    assert.deepEqual(changed.config.profiles.nfs?.paths, ['/srv/other']);
    assert.equal((await loadConfigCached({ file: c.file, env })).cache.status, 'hit');
    // An invalid edit is reported as always, and the old entry is not served.
    writeFileSync(c.file, readFileSync(c.file, 'utf8').replace('paths: [/srv/other]', 'paths: []'));
    await assert.rejects(loadConfigCached({ file: c.file, env }), /profiles\.nfs\.paths: nothing to back up/);
  });

  it('a changed mode of the file is validated again (the inline password warning depends on it)', async () => {
    const c = setup(PROFILE.replace(/password: \$\{PW\}/, 'password: inline-pw'), 0o600);
    assert.deepEqual(
      (await loadConfigCached({ file: c.file, env })).warnings.filter((w) => w.includes('inline')),
      [],
    );
    chmodSync(c.file, 0o644);
    const lax = await loadConfigCached({ file: c.file, env });
    assert.equal(lax.cache.reason, 'changed');
    assert.match(lax.warnings[0] ?? '', /contains a password inline \(profiles\.nfs\.password, .*mode 0644/);
    const again = await loadConfigCached({ file: c.file, env });
    assert.equal(again.cache.status, 'hit');
    assert.deepEqual(again.warnings, lax.warnings);
  });

  it('a changed environment value the config reads is validated again; others are not', async () => {
    const c = setup(PROFILE);
    await loadConfigCached({ file: c.file, env });
    const other = await loadConfigCached({ file: c.file, env: { ...env, UNRELATED: 'x' } });
    assert.equal(other.cache.status, 'hit', 'a variable the config does not read changes nothing');
    const changed = await loadConfigCached({ file: c.file, env: { ...env, TENANT: 'tenant-b' } });
    assert.equal(changed.cache.reason, 'changed');
    assert.equal(changed.config.profiles.nfs?.metrics.pushgateway[0]?.headers?.['X-Scope-OrgID'], 'tenant-b');
    const pw = await loadConfigCached({ file: c.file, env: { ...env, TENANT: 'tenant-b', PW: 'new-pw' } });
    assert.equal(pw.cache.reason, 'changed');
    assert.deepEqual(pw.config.profiles.nfs?.password, { value: 'new-pw' });
    // An unset variable is the usual error, not a stale value.
    const { PW: _unset, ...noPw } = env;
    await assert.rejects(loadConfigCached({ file: c.file, env: noPw }), /environment variable PW is not set/);
  });

  const isRoot = process.getuid?.() === 0;
  it('the default state directory follows HOME, and a changed HOME is validated again', {
    skip: isRoot ? 'root always uses /var/lib/resticprom' : false,
  }, async () => {
    const dir = join(tmp.dir, 'home-case');
    require0700(dir);
    const file = join(dir, 'resticprom.yaml');
    writeFileSync(file, PROFILE, { mode: 0o600 });
    const home = (h: string) => ({ ...env, HOME: join(dir, h), XDG_STATE_HOME: undefined });
    for (const h of ['a', 'b']) mkdirSync(join(dir, h, '.local', 'state', 'resticprom'), { recursive: true });
    assert.equal((await loadConfigCached({ file, env: home('a') })).cache.status, 'stored');
    const a = await loadConfigCached({ file, env: home('a') });
    assert.equal(a.cache.status, 'hit');
    assert.equal(a.config.stateDir, join(dir, 'a', '.local', 'state', 'resticprom'));
    const b = await loadConfigCached({ file, env: home('b') });
    assert.equal(b.cache.status, 'stored');
    assert.equal(b.config.stateDir, join(dir, 'b', '.local', 'state', 'resticprom'));
  });

  it('a new resticprom version is validated again', async () => {
    const c = setup(PROFILE);
    await loadConfigCached({ file: c.file, env, version: '0.1.0' });
    assert.equal((await loadConfigCached({ file: c.file, env, version: '0.1.0' })).cache.status, 'hit');
    const newer = await loadConfigCached({ file: c.file, env, version: '0.2.0' });
    assert.equal(newer.cache.status, 'stored');
    assert.equal(newer.cache.reason, 'changed');
  });

  it('lives in --state-dir or $RESTICPROM_STATE_DIR when given', async () => {
    const c = setup(PROFILE);
    const flag = join(c.dir, 'flag-state');
    mkdirSync(flag);
    const r = await loadConfigCached({ file: c.file, env, stateDir: flag });
    assert.equal(r.cache.status, 'stored');
    assert.ok(r.cache.file?.startsWith(join(flag, 'cache', 'config-')));
    const byEnv = join(c.dir, 'env-state');
    mkdirSync(byEnv);
    const e = await loadConfigCached({ file: c.file, env: { ...env, RESTICPROM_STATE_DIR: byEnv } });
    assert.ok(e.cache.file?.startsWith(join(byEnv, 'cache', 'config-')));
  });

  it('ignores a corrupt cache file and stores a good one over it', async () => {
    const c = setup(PROFILE);
    await loadConfigCached({ file: c.file, env });
    const cacheFile = c.cacheFile();
    for (const [content, reason] of [
      ['{"format":1,"key":', 'it is not valid JSON'],
      ['null\n', 'it is not a cache entry'],
      [readFileSync(cacheFile, 'utf8').replace(/"key":"[0-9a-f]+"/, `"key":"${'0'.repeat(64)}"`), 'changed'],
    ] as const) {
      writeFileSync(cacheFile, content, { mode: 0o600 });
      const r = await loadConfigCached({ file: c.file, env });
      assert.equal(r.cache.status, 'stored');
      assert.equal(r.cache.reason, reason);
      assert.deepEqual(r.config, (await loadConfig({ file: c.file, env })).config);
      assert.equal((await loadConfigCached({ file: c.file, env })).cache.status, 'hit');
    }
  });

  it('does not trust a cache file that is a symlink, open to others or owned by another user', async () => {
    const c = setup(PROFILE);
    await loadConfigCached({ file: c.file, env });
    const cacheFile = c.cacheFile();
    const good = readFileSync(cacheFile, 'utf8');
    // A planted entry that would be served if trusted: same key, another repository.
    const planted = good.replace('"repository":"/srv/repo"', '"repository":"/srv/planted"');
    const elsewhere = join(c.dir, 'planted.json');
    writeFileSync(elsewhere, planted, { mode: 0o600 });

    rmSync(cacheFile);
    symlinkSync(elsewhere, cacheFile);
    const viaLink = await loadConfigCached({ file: c.file, env });
    assert.equal(viaLink.cache.reason, 'it is a symlink');
    assert.equal(viaLink.config.profiles.nfs?.repository, '/srv/repo');

    writeFileSync(cacheFile, planted, { mode: 0o644 });
    chmodSync(cacheFile, 0o644);
    const lax = await loadConfigCached({ file: c.file, env });
    assert.equal(lax.cache.reason, 'it is open to others (mode 0644)');
    assert.equal(lax.config.profiles.nfs?.repository, '/srv/repo');

    if (process.getuid?.() === 0) {
      writeFileSync(cacheFile, planted, { mode: 0o600 });
      chownSync(cacheFile, 65534, 65534);
      const foreign = await loadConfigCached({ file: c.file, env });
      assert.equal(foreign.cache.reason, 'it is owned by uid 65534');
      assert.equal(foreign.config.profiles.nfs?.repository, '/srv/repo');
      // A cache folder open to others is not trusted either, and nothing is served from it.
      writeFileSync(cacheFile, planted, { mode: 0o600 });
      chownSync(cacheFile, 0, 0);
      chmodSync(join(c.state, 'cache'), 0o777);
      const open = await loadConfigCached({ file: c.file, env });
      assert.equal(open.cache.reason, 'its folder is writable by others (mode 0777)');
      assert.equal(open.config.profiles.nfs?.repository, '/srv/repo');
    }
  });

  it("removes a dead writer's temp file from the cache folder when it stores", async () => {
    const c = setup(PROFILE);
    await loadConfigCached({ file: c.file, env });
    const dead = join(c.state, 'cache', '.config-0123456789abcdef.json.999999999.0a1b2c3d.tmp');
    writeFileSync(dead, '{"half', { mode: 0o600 });
    writeFileSync(c.file, `${readFileSync(c.file, 'utf8')}# edited\n`);
    assert.equal((await loadConfigCached({ file: c.file, env })).cache.status, 'stored');
    assert.equal(existsSync(dead), false);
  });

  it('does not cache a config whose secret it could not read again from the file', async () => {
    // A double-quoted value with an escape is decoded by YAML only.
    const c = setup(PROFILE.replace('"gw-secret-pass"', '"gw-secret\\tpass"'));
    const r = await loadConfigCached({ file: c.file, env });
    assert.equal(r.cache.status, 'not-stored');
    assert.match(
      r.cache.reason ?? '',
      /secret at profiles\.nfs\.metrics\.pushgateway\.0\.basicAuth\.password\.value/,
    );
    assert.equal(existsSync(join(c.state, 'cache')), false);
  });

  it('creates no state directory: the cache is stored once the first run made it', async () => {
    const c = setup(PROFILE);
    rmSync(c.state, { recursive: true });
    const r = await loadConfigCached({ file: c.file, env });
    assert.equal(r.cache.status, 'not-stored');
    assert.equal(r.cache.reason, 'no state directory yet');
    assert.equal(existsSync(c.state), false);
    mkdirSync(c.state, { mode: 0o700 });
    assert.equal((await loadConfigCached({ file: c.file, env })).cache.status, 'stored');
  });

  it('does not cache when the state directory cannot be told from the text', async () => {
    const dir = join(tmp.dir, 'flow');
    require0700(dir);
    const file = join(dir, 'resticprom.yaml');
    writeFileSync(file, `state-dir: "\${STATE}"\n${PROFILE}`, { mode: 0o600 });
    const r = await loadConfigCached({ file, env: { ...env, STATE: join(dir, 's') } });
    assert.equal(r.cache.status, 'not-stored');
    assert.equal(r.config.stateDir, join(dir, 's'));
  });
});
