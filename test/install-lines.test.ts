/**
 * The README's install lines work as written: the `ln -s` of dist/bin/resticprom.js puts
 * a command on the PATH that runs (the build makes the bin executable), and a systemd unit
 * whose ExecStart is that command passes `systemd-analyze verify`.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, ensureBuilt, ROOT } from './helpers/cli.js';
import { makeTempDir } from './helpers/services.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const temps: Array<() => void> = [];
after(() => {
  for (const c of temps) c();
});

describe("the README's install lines", () => {
  before(async () => {
    await ensureBuilt();
  });

  it('ln -s of the bin gives a resticprom command that runs; a unit running it verifies', () => {
    const line = readme.split('\n').find((l) => l.includes('ln -s') && l.includes('dist/bin/resticprom.js'));
    assert.equal(line, 'sudo ln -s "$PWD/dist/bin/resticprom.js" /usr/local/bin/resticprom');
    assert.equal(statSync(CLI).mode & 0o777, 0o755);
    const t = makeTempDir('resticprom-install-');
    temps.push(t.cleanup);
    // The line as written, with a scratch folder for /usr/local/bin and without sudo.
    const script = (line ?? '').replace(/^sudo /, '').replaceAll('/usr/local/bin', t.dir);
    execFileSync('sh', ['-c', script], { cwd: ROOT });
    const bin = join(t.dir, 'resticprom');
    const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
    assert.equal(execFileSync(bin, ['--version'], { encoding: 'utf8' }), `${version}\n`);

    const unit = join(t.dir, 'resticprom-probe.service');
    writeFileSync(unit, `[Service]\nType=oneshot\nExecStart=${bin} status\n`);
    const verify = spawnSync('systemd-analyze', ['verify', '--man=no', unit], {
      encoding: 'utf8',
      env: { ...process.env, SYSTEMD_COLORS: '0' },
    });
    assert.equal(verify.stderr, '');
    assert.equal(verify.status, 0);
  });
});
