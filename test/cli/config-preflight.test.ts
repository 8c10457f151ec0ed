/**
 * `config validate` catches what would fail the first run: a password-file or
 * exclude-file that does not exist, a flag the installed restic's backup does not take,
 * a read-data-subset restic refuses, a bad env-file line; it warns about secret files
 * others can read; each finding names the file, line and key, and the exit code is 2.
 * The `restic-args` check runs against every restic version of the matrix.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { resticMatrix } from '../helpers/matrix.js';
import { makeTempDir } from '../helpers/services.js';

const temps: Array<() => void> = [];
after(() => {
  for (const c of temps) c();
});

function dirWithPassword(mode = 0o600): string {
  const t = makeTempDir('resticprom-preflight-');
  temps.push(t.cleanup);
  writeFileSync(join(t.dir, 'pw'), 'pw\n', { mode });
  return t.dir;
}

describe('config validate checks what the config refers to', () => {
  before(async () => {
    await ensureBuilt();
  });

  it('a missing password-file and exclude-file, a bad env-file line and read-data-subset 150%: every one with its line, exit 2', async () => {
    const dir = dirWithPassword();
    writeFileSync(join(dir, 'cloud.env'), 'AWS_ACCESS_KEY_ID=AKIA\nnot a variable\n', { mode: 0o600 });
    const file = join(dir, 'c.yaml');
    writeFileSync(
      file,
      `profiles:
  nfs:
    repository: /srv/repo
    password-file: ${join(dir, 'missing.pass')}
    paths: [/srv/nfs]
    exclude-file: ${join(dir, 'missing-excludes.txt')}
    env-file: ${join(dir, 'cloud.env')}
    tiers:
      daily: { schedule: "30 1 * * *" }
`,
      { mode: 0o600 },
    );
    const r = await runCli(['config', 'validate', '-c', file]);
    assert.equal(r.code, ExitCode.USAGE);
    assert.equal(r.stdout, '');
    assert.deepEqual(r.stderr.split('\n'), [
      `${file}:4: profiles.nfs.password-file: password-file ${join(dir, 'missing.pass')} does not exist`,
      `${file}:6: profiles.nfs.exclude-file: exclude-file ${join(dir, 'missing-excludes.txt')} does not exist`,
      `${file}:7: profiles.nfs.env-file: ${join(dir, 'cloud.env')}:2: expected KEY=VALUE (a variable name, then =)`,
      '',
    ]);

    writeFileSync(
      file,
      `profiles:
  nfs:
    repository: /srv/repo
    password-file: ${join(dir, 'pw')}
    paths: [/srv/nfs]
    check: { read-data-subset: "150%" }
    tiers:
      daily: { schedule: "30 1 * * *" }
`,
    );
    const subset = await runCli(['config', 'validate', '-c', file]);
    assert.equal(subset.code, ExitCode.USAGE);
    assert.equal(
      subset.stderr,
      `${file}:6: profiles.nfs.check.read-data-subset: "150%": a percentage must be above 0% and at most 100%\n`,
    );
  });

  it('a password file and an env-file others can read: a warning each, still ok', async () => {
    const dir = dirWithPassword(0o644);
    writeFileSync(join(dir, 'cloud.env'), 'AWS_SECRET_ACCESS_KEY=abc\n', { mode: 0o640 });
    const file = join(dir, 'c.yaml');
    writeFileSync(
      file,
      `profiles:
  nfs:
    repository: /srv/repo
    password-file: ${join(dir, 'pw')}
    env-file: ${join(dir, 'cloud.env')}
    paths: [/srv/nfs]
    tiers:
      daily: { schedule: "30 1 * * *" }
`,
      { mode: 0o600 },
    );
    const r = await runCli(['config', 'validate', '-c', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      `ok: ${file}: 1 profile, 1 tier; checked 2 referenced files, check.read-data-subset syntax\n`,
    );
    assert.deepEqual(r.stderr.split('\n'), [
      // The password file's mode is the load's own warning (printed by every command), once.
      `warning: ${join(dir, 'pw')} (the repository password of profile nfs) is readable by others (mode 0644): chmod 600 ${join(dir, 'pw')}`,
      `warning: ${file}:5: profiles.nfs.env-file: env-file ${join(dir, 'cloud.env')} is readable by others (mode 0640): chmod 600 ${join(dir, 'cloud.env')}`,
      '',
    ]);
  });

  it('a profile without paths nor files-from is refused', async () => {
    const dir = dirWithPassword();
    const file = join(dir, 'c.yaml');
    writeFileSync(
      file,
      `profiles:
  nfs:
    repository: /srv/repo
    password-file: ${join(dir, 'pw')}
    paths: []
    tiers:
      daily: { schedule: "30 1 * * *" }
`,
    );
    const r = await runCli(['config', 'validate', '-c', file]);
    assert.equal(r.code, ExitCode.USAGE);
    assert.equal(
      r.stderr,
      `${file}:5: profiles.nfs.paths: nothing to back up: list at least one path, or set files-from\n`,
    );
  });
});

for (const restic of resticMatrix()) {
  describe(`config validate checks restic-args (restic ${restic.version})`, { skip: restic.skip }, () => {
    it('--bogus-flag is refused with a hint, real flags (long, short, with values) pass', async () => {
      await ensureBuilt();
      const dir = dirWithPassword();
      const file = join(dir, 'c.yaml');
      writeFileSync(
        file,
        `restic-binary: ${restic.bin}
profiles:
  nfs:
    repository: /srv/repo
    password-file: ${join(dir, 'pw')}
    paths: [/srv/nfs]
    restic-args: [--limit-upload, "100", -x, --exclude-caches, --bogus-flag, --exclude-cache]
    tiers:
      daily: { schedule: "30 1 * * *" }
`,
        { mode: 0o600 },
      );
      const r = await runCli(['config', 'validate', '-c', file]);
      assert.equal(r.code, ExitCode.USAGE, r.stdout);
      assert.equal(
        r.stderr,
        [
          `${file}:7: profiles.nfs.restic-args[4]: restic ${restic.version} backup has no flag --bogus-flag`,
          `${file}:7: profiles.nfs.restic-args[5]: restic ${restic.version} backup has no flag --exclude-cache (did you mean --exclude-caches?)`,
          '',
        ].join('\n'),
      );
    });
  });
}
