/**
 * Secrets that must not travel: to a child's environment (restic through a `restic-binary`
 * wrapper that records its environment, `run -- CMD` children), into argv (`--header
 * Authorization=...`), into the outbox (user info or a token in a config URL), or half-masked
 * into a message (a repository URL whose password holds `@`). And the warnings about files
 * others may read or change.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { LockBusyError } from '../../src/errors.js';
import { acquireRepositoryLock } from '../../src/state/lock.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { resticMatrix } from '../helpers/matrix.js';
import { makeRepo, makeSourceTree } from '../helpers/restic.js';
import { freePort, makeTempDir } from '../helpers/services.js';

const GW_SECRET = 'gw-secret-Zq81-child';
const TOKEN = 'token-secret-Lm27-child';

describe('secrets stay where they belong', () => {
  const tmp = makeTempDir('resticprom-child-secrets-');
  let deadGateway: string;
  before(async () => {
    await ensureBuilt();
    deadGateway = `http://127.0.0.1:${await freePort()}`;
  });
  after(() => tmp.cleanup());

  for (const restic of resticMatrix()) {
    it(`restic ${restic.version} sees neither the gateway's password-env nor resticprom's own secret variables`, {
      skip: restic.skip,
    }, async () => {
      const dir = join(tmp.dir, `restic-${restic.version}`);
      mkdirSync(dir);
      const repo = makeRepo(dir, 'repo-pw-child', { restic: restic.bin });
      const src = makeSourceTree(join(dir, 'src'), { files: 2, bytes: 100 });
      const seen = join(dir, 'restic-env');
      const wrapper = join(dir, 'restic-wrapper.sh');
      writeFileSync(wrapper, `#!/bin/sh\nenv >> ${seen}\nexec ${restic.bin} "$@"\n`, { mode: 0o700 });
      const config = join(dir, 'resticprom.yaml');
      writeFileSync(
        config,
        `state-dir: ${join(dir, 'state')}
restic-binary: ${wrapper}
profiles:
  p:
    repository: ${repo.repository}
    password-file: ${repo.passwordFile}
    env: { RESTIC_CACHE_DIR: ${repo.cacheDir} }
    paths: [${src.dir}]
    tiers:
      daily: { schedule: "0 1 * * *" }
    metrics:
      pushgateway: { url: "${deadGateway}", retries: 0, basic-auth: { username: u, password-env: GW_PASSWORD } }
`,
        { mode: 0o600 },
      );
      const r = await runCli(['backup', '--config', config, '--tier', 'daily'], {
        env: {
          HOME: dir,
          GW_PASSWORD: GW_SECRET,
          RESTICPROM_BASIC_AUTH_PASSWORD: GW_SECRET,
          RESTICPROM_BEARER_TOKEN: TOKEN,
        },
      });
      assert.equal(r.code, ExitCode.TEMPFAIL, r.stderr); // backed up; the gateway is down
      const env = readFileSync(seen, 'utf8');
      assert.match(env, /RESTIC_PASSWORD_FILE=/, 'the wrapper ran');
      for (const name of ['GW_PASSWORD', 'RESTICPROM_BASIC_AUTH_PASSWORD', 'RESTICPROM_BEARER_TOKEN']) {
        assert.ok(!env.includes(`${name}=`), `restic saw ${name}`);
      }
      assert.ok(!env.includes(GW_SECRET) && !env.includes(TOKEN));
    });
  }

  it('a `run` child sees none of the secret variables', async () => {
    const dir = join(tmp.dir, 'run');
    const out = join(tmp.dir, 'run-env');
    for (const [name, value] of [
      ['RESTICPROM_BASIC_AUTH_PASSWORD', GW_SECRET],
      ['RESTICPROM_BEARER_TOKEN', TOKEN],
    ] as const) {
      const env = { [name]: value, ...(name.includes('BASIC') ? { RESTICPROM_BASIC_AUTH_USER: 'u' } : {}) };
      const r = await runCli(
        [
          'run',
          '--job',
          'env_job',
          '--gateway',
          deadGateway,
          '--retries',
          '0',
          '--state-dir',
          dir,
          '--',
          'sh',
          '-c',
          `env > ${out}`,
        ],
        { env },
      );
      assert.equal(r.code, ExitCode.TEMPFAIL, r.stderr);
      const seen = readFileSync(out, 'utf8');
      assert.ok(!seen.includes(`${name}=`), `the child saw ${name}`);
      assert.ok(!seen.includes(value));
    }
  });

  it('refuses a credential header on the command line, as it refuses credentials in a URL', async () => {
    const r = await runCli(
      [
        'push',
        '--gateway',
        deadGateway,
        '--job',
        'j',
        '--header',
        `Authorization=Bearer ${TOKEN}`,
        '--state-dir',
        join(tmp.dir, 'hdr'),
        '-',
      ],
      { input: '# TYPE x gauge\nx 1\n' },
    );
    assert.equal(r.code, ExitCode.USAGE);
    assert.equal(
      r.stderr,
      'resticprom: --header Authorization: a credential header on the command line is refused (it would show in process lists); use --bearer-token-file, --basic-auth-password-file or $RESTICPROM_BEARER_TOKEN\n',
    );
    const ok = await runCli(
      [
        'push',
        '--gateway',
        deadGateway,
        '--job',
        'j',
        '--header',
        'X-Scope-OrgID=team',
        '--retries',
        '0',
        '--state-dir',
        join(tmp.dir, 'hdr'),
        '-',
      ],
      { input: '# TYPE x gauge\nx 1\n' },
    );
    assert.equal(ok.code, ExitCode.TEMPFAIL, ok.stderr);
  });

  for (const [what, url, found] of [
    ['user info', `http://u:${GW_SECRET}@127.0.0.1:9`, 'user info'],
    ['a token in the query', `http://127.0.0.1:9/?api_key=${GW_SECRET}`, 'query parameter api_key'],
  ] as const) {
    it(`refuses ${what} in a config URL (exit 2, file and line), so it never reaches the outbox`, async () => {
      const dir = join(tmp.dir, `url-${found.replace(/\W/g, '')}`);
      const config = join(tmp.dir, `${found.replace(/\W/g, '')}.yaml`);
      writeFileSync(
        config,
        `state-dir: ${dir}
profiles:
  p:
    repository: /srv/repo
    password-file: /dev/null
    paths: [/tmp]
    tiers:
      daily: { schedule: "0 1 * * *" }
    metrics:
      pushgateway:
        url: "${url}"
`,
        { mode: 0o600 },
      );
      const r = await runCli(['backup', '--config', config, '--tier', 'daily']);
      assert.equal(r.code, ExitCode.USAGE);
      assert.equal(
        r.stderr,
        `${config}:11: profiles.p.metrics.pushgateway.url: credentials in the URL (${found}) are refused: they would be stored in the outbox and shown in messages; use basic-auth with password-file or password-env, or bearer-token-file\n`,
      );
      assert.ok(!r.stderr.includes(GW_SECRET));
    });
  }

  it('masks a repository password that holds "@" whole in the lock-busy message', async () => {
    const state = join(tmp.dir, 'lock');
    const repository = 'rest:http://backup:PW@secret@127.0.0.1:8000/repo';
    const held = await acquireRepositoryLock(state, repository, { command: 'backup p/daily' });
    try {
      const err = await acquireRepositoryLock(state, repository).catch((e: unknown) => e);
      assert.ok(err instanceof LockBusyError);
      assert.match(err.message, /^repository rest:http:\/\/\*\*\*@127\.0\.0\.1:8000\/repo is busy: /);
      assert.ok(!err.message.includes('secret'));
    } finally {
      await held.release();
    }
  });

  it('warns about a config others may write and a password file others may read', async () => {
    const dir = join(tmp.dir, 'modes');
    const pw = join(tmp.dir, 'loose-password');
    writeFileSync(pw, 'x\n');
    chmodSync(pw, 0o644);
    const config = join(tmp.dir, 'loose.yaml');
    writeFileSync(
      config,
      `state-dir: ${dir}
profiles:
  p:
    repository: /srv/repo
    password-file: ${pw}
    paths: [/tmp]
    tiers:
      daily: { schedule: "0 1 * * *" }
`,
    );
    chmodSync(config, 0o666);
    const r = await runCli(['config', 'validate', '--config', config]);
    assert.equal(r.code, ExitCode.OK, r.stderr);
    assert.equal(
      r.stderr,
      `warning: ${config} (the configuration, which names restic-binary and password-command) is writable by others (mode 0666): chmod o-w ${config}\n` +
        `warning: ${pw} (the repository password of profile p) is readable by others (mode 0644): chmod 600 ${pw}\n`,
    );
    assert.deepEqual(readdirSync(tmp.dir).includes('modes'), false, 'validate writes nothing');
  });
});
