import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { renderStarterConfig } from '../../src/config/index.js';
import { SEVERAL_ERRORS, SPEC_EXAMPLE } from '../config/examples.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/services.js';

let dir: string;
let cleanup: () => void;

before(async () => {
  ({ dir, cleanup } = makeTempDir('resticprom-cli-config-'));
  await ensureBuilt();
});
after(() => cleanup());

describe('resticprom config', () => {
  it('validate prints one ok line and exits 0', async () => {
    const file = join(dir, 'spec.yaml');
    const pass = join(dir, 'nfs.pass');
    writeFileSync(pass, 'pw\n', { mode: 0o600 });
    writeFileSync(file, SPEC_EXAMPLE.replace('/etc/resticprom/nfs.pass', pass), { mode: 0o600 });
    const r = await runCli(['config', 'validate', '--config', file]);
    assert.equal(r.stderr, '');
    assert.equal(
      r.stdout,
      `ok: ${file}: 1 profile, 4 tiers; checked 1 referenced file, check.read-data-subset syntax\n`,
    );
    assert.equal(r.code, 0);
  });

  it('validate finds the file through RESTICPROM_CONFIG and prints warnings on stderr', async () => {
    const file = join(dir, 'inline.yaml');
    writeFileSync(
      file,
      SPEC_EXAMPLE.replace('password-file: /etc/resticprom/nfs.pass', 'password: hunter2'),
      {
        mode: 0o644,
      },
    );
    const r = await runCli(['config', 'validate'], { env: { RESTICPROM_CONFIG: file } });
    assert.equal(r.code, 0);
    assert.equal(
      r.stdout,
      `ok: ${file}: 1 profile, 4 tiers; checked 0 referenced files, check.read-data-subset syntax\n`,
    );
    assert.equal(
      r.stderr,
      `warning: ${file} contains a password inline (profiles.nfs.password) and is readable by others (mode 0644): chmod 600 ${file}\n`,
    );
  });

  it('validate prints every problem, one line each, and exits 2', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, SEVERAL_ERRORS);
    const r = await runCli(['config', 'validate', '-c', file]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.deepEqual(r.stderr.split('\n'), [
      `${file}:2: profiles.nfs.paths: is required`,
      `${file}:5: profiles.nfs.exclude-if-presnt: unknown key "exclude-if-presnt"; did you mean "exclude-if-present"?`,
      `${file}:8: profiles.nfs.tiers.daily.schedule: invalid cron expression "61 1 * * *": Invalid value for minute: 61`,
      `${file}:9: profiles.nfs.tiers.daily.keep-last: must be >= 1, got -1`,
      `${file}:11: profiles.nfs.metrics.grouping.bad-name: invalid label name "bad-name": use letters, digits and _, not first a digit`,
      `${file}:12: profiles.nfs.metrics.textfile: "/var/lib/node_exporter/restic.txt" must end in .prom (node_exporter's textfile collector reads only *.prom)`,
      '',
    ]);
  });

  it('validate without any file names the places it looked at and exits 2', async () => {
    const r = await runCli(['config', 'validate'], { cwd: dir });
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      `resticprom.yaml: no configuration file found (looked at ${join(dir, 'resticprom.yaml')}, /etc/resticprom/resticprom.yaml); pass --config FILE, set RESTICPROM_CONFIG, or create one with: resticprom config init\n`,
    );
  });

  it('init writes the starter file with mode 0600, refuses to overwrite, and --force overwrites', async () => {
    const file = join(dir, 'etc', 'resticprom.yaml');
    const first = await runCli(['config', 'init', file]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(
      first.stdout,
      `wrote ${file} (mode 0600); edit it, then check it with: resticprom config validate --config ${file}\n`,
    );
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(readFileSync(file, 'utf8'), renderStarterConfig());

    const again = await runCli(['config', 'init', file]);
    assert.equal(again.code, 2);
    assert.equal(again.stderr, `resticprom: ${file} exists; pass --force to overwrite it\n`);

    writeFileSync(file, 'changed\n', { mode: 0o644 });
    const forced = await runCli(['config', 'init', '--force', file]);
    assert.equal(forced.code, 0);
    assert.equal(readFileSync(file, 'utf8'), renderStarterConfig());
    assert.equal(statSync(file).mode & 0o777, 0o600);

    // The starter names /etc/resticprom/nfs.pass: validate says it must be created first.
    const valid = await runCli(['config', 'validate', '--config', file]);
    assert.equal(valid.stdout, '');
    assert.equal(
      valid.stderr,
      `${file}:15: profiles.nfs.password-file: password-file /etc/resticprom/nfs.pass does not exist\n`,
    );
    assert.equal(valid.code, 2);
  });

  it('init - prints the starter file', async () => {
    const r = await runCli(['config', 'init', '-']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, renderStarterConfig());
  });

  it('schema prints the JSON Schema', async () => {
    const r = await runCli(['config', 'schema']);
    assert.equal(r.code, 0);
    const schema = JSON.parse(r.stdout);
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.equal(schema.title, 'resticprom configuration');
    assert.deepEqual(schema.required, ['profiles']);
  });
});
