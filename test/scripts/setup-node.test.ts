/**
 * `npm run setup` (scripts/setup.sh) stops first thing when Node.js is older than 20, saying
 * how to get a newer one: with a fake `node` on PATH that reports Debian 12's v18.19.0.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ROOT } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/services.js';

const TOO_OLD = `setup: Node.js v18.19.0 is too old; resticprom needs Node.js 20 or newer.
setup: Debian 12 ships Node.js 18. Install a newer one, then run this again:
setup:   - NodeSource's Debian packages of Node.js 20 or 22 (their setup_22.x script adds the apt source), or
setup:   - Debian 13 (trixie), whose own nodejs package is Node.js 20: apt-get install nodejs there.
`;

describe('setup.sh checks the Node.js version', () => {
  const tmp = makeTempDir();
  after(tmp.cleanup);
  const calls = join(tmp.dir, 'calls');
  /** A folder whose `node` prints `version`, and whose npm, apt-get and sudo only record that they ran. */
  const fakeBin = (name: string, version: string) => {
    const dir = join(tmp.dir, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'node'), `#!/bin/sh\necho ${version}\n`, { mode: 0o755 });
    for (const cmd of ['npm', 'apt-get', 'sudo'])
      writeFileSync(join(dir, cmd), `#!/bin/sh\necho "${cmd} $*" >> ${calls}\n`, { mode: 0o755 });
    return dir;
  };
  const setup = (dir: string, args: string[]) =>
    spawnSync('bash', [join(ROOT, 'scripts', 'setup.sh'), ...args], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}` },
    });

  it('--check-node with Node.js 18: the reason and the two ways to a newer one, exit 1', () => {
    const r = setup(fakeBin('v18', 'v18.19.0'), ['--check-node']);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, TOO_OLD);
    assert.equal(r.stdout, '');
  });

  it('the full setup stops before installing anything', () => {
    const r = setup(fakeBin('v18', 'v18.19.0'), []);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, TOO_OLD);
    assert.equal(existsSync(calls), false, 'npm, apt-get or sudo ran');
  });

  it('says so when there is no node at all', () => {
    const dir = fakeBin('none', 'v0');
    // A `node` that prints nothing and fails, as a missing command does: no version.
    writeFileSync(join(dir, 'node'), '#!/bin/sh\nexit 127\n', { mode: 0o755 });
    const r = setup(dir, ['--check-node']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^setup: Node\.js is not installed; resticprom needs Node\.js 20 or newer\.\n/);
  });

  it('--check-node with Node.js 20 and 22 passes silently', () => {
    for (const v of ['v20.0.0', 'v22.11.0']) {
      const r = setup(fakeBin(v, v), ['--check-node']);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, '');
    }
  });
});
