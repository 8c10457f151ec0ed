/**
 * `hooks:` and `notifications:` in the configuration: what they become, and every
 * mistake reported with its line (the loader), plus what only `config validate` checks
 * (secret files readable, env references set, body templates parse).
 */
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { parseConfigText } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/services.js';

const HEAD = `profiles:
  nfs:
    repository: /srv/repo
    password-file: /etc/resticprom/nfs.pass
    paths: [/srv/nfs]
`;

function problems(text: string): string[] {
  try {
    parseConfigText(text, { file: '/etc/resticprom/r.yaml', env: {} });
  } catch (err) {
    if (err instanceof ConfigError) return err.message.split('\n');
    throw err;
  }
  return [];
}

describe('hooks and notifications in the configuration', () => {
  it('normalizes hooks and receivers: defaults, secret sources, per tier', () => {
    const { config } = parseConfigText(
      `${HEAD}    hooks:
      run-before: ["pg_dumpall -f /srv/nfs/db.sql"]
      run-after-fail: [[logger, -t, backup, failed]]
      timeout: 10m
    notifications:
      - type: healthchecks
        url: { file: hc.url }
      - type: webhook
        url: https://hooks.example/backup
        headers: { Authorization: { env: HOOK_TOKEN }, X-Plain: yes }
    tiers:
      daily:
        schedule: "30 1 * * *"
        hooks: { run-finally: ["true"], for: [backup] }
        notifications: [{ type: ntfy, url: "https://ntfy.sh/backups", on: [failure], priority: 5 }]
`,
      { file: '/etc/resticprom/r.yaml', env: {} },
    );
    const p = config.profiles.nfs;
    assert.deepEqual(p?.hooks, {
      for: ['backup', 'forget', 'check', 'stats'],
      runBefore: ['pg_dumpall -f /srv/nfs/db.sql'],
      runAfter: [],
      runAfterFail: [['logger', '-t', 'backup', 'failed']],
      runFinally: [],
      timeoutMs: 600_000,
    });
    assert.deepEqual(p?.notifications, [
      {
        type: 'healthchecks',
        for: ['backup'],
        url: { file: '/etc/resticprom/hc.url' },
        on: ['start', 'success', 'warning', 'failure'],
        headers: {},
      },
      {
        type: 'webhook',
        for: ['backup', 'forget', 'check', 'stats'],
        url: { value: 'https://hooks.example/backup' },
        on: ['failure', 'warning'],
        headers: { Authorization: { env: 'HOOK_TOKEN' }, 'X-Plain': { value: 'yes' } },
      },
    ]);
    assert.deepEqual(p?.tiers.daily?.hooks?.runFinally, ['true']);
    assert.deepEqual(p?.tiers.daily?.notifications?.[0]?.on, ['failure']);
  });

  it('reports an unknown type, a missing url, a bad on: value, misplaced keys, each with its line', () => {
    const found = problems(`${HEAD}    notifications:
      - type: pagerduty
        url: https://x.example
      - type: webhook
        on: [failure]
      - type: slack
        url: https://hooks.slack.example/x
        on: [failure, finished]
      - type: gotify
        url: https://gotify.example
      - type: healthchecks
        url: not a url
        token: abc
        style: uptime-kuma
        on: [start]
    hooks:
      run-before: [""]
      run-aftr: [x]
      timeout: soon
    tiers:
      daily: { schedule: "30 1 * * *" }
`);
    assert.deepEqual(found, [
      '/etc/resticprom/r.yaml:7: profiles.nfs.notifications[0].type: must be one of "healthchecks", "webhook", "ntfy", "gotify", "slack", "discord", got the string "pagerduty"',
      '/etc/resticprom/r.yaml:9: profiles.nfs.notifications[1].url: is required',
      '/etc/resticprom/r.yaml:13: profiles.nfs.notifications[2].on[1]: must be one of "start", "success", "warning", "failure", got the string "finished"',
      '/etc/resticprom/r.yaml:14: profiles.nfs.notifications[3]: gotify needs token (the application token, e.g. token: { file: PATH })',
      '/etc/resticprom/r.yaml:17: profiles.nfs.notifications[4].url: is not an http:// or https:// URL',
      '/etc/resticprom/r.yaml:18: profiles.nfs.notifications[4].token: token is not used by type healthchecks (only by gotify, ntfy)',
      '/etc/resticprom/r.yaml:20: profiles.nfs.notifications[4].on: an Uptime Kuma push monitor has no start event; remove start',
      '/etc/resticprom/r.yaml:22: profiles.nfs.hooks.run-before[0]: must not be empty',
      '/etc/resticprom/r.yaml:23: profiles.nfs.hooks.run-aftr: unknown key "run-aftr"; did you mean "run-after"?',
      '/etc/resticprom/r.yaml:24: profiles.nfs.hooks.timeout: invalid duration "soon" (write it like 500ms, 10s, 2m, 1h, 7d)',
    ]);
  });
});

describe('config validate checks what a run would need from the receivers', () => {
  const tmp = makeTempDir('resticprom-hooks-validate-');
  before(ensureBuilt);
  after(() => tmp.cleanup());

  it('an unreadable token file, an unset variable and a broken template, with lines; exit 2', async () => {
    const locked = join(tmp.dir, 'locked.token');
    writeFileSync(locked, 'x\n', { mode: 0o000 });
    chmodSync(locked, 0o000);
    const file = join(tmp.dir, 'r.yaml');
    // A password file that exists, so that validation has only the receivers to report.
    const pw = join(tmp.dir, 'nfs.pass');
    writeFileSync(pw, 'x\n', { mode: 0o600 });
    writeFileSync(
      file,
      `${HEAD.replace('/etc/resticprom/nfs.pass', pw)}    notifications:
      - type: gotify
        url: https://gotify.example
        token: { file: ${join(tmp.dir, 'no-such.token')} }
      - type: webhook
        url: { env: HOOK_URL_NOT_SET }
        body: "{{ run.profile "
    tiers:
      daily: { schedule: "30 1 * * *" }
`,
      { mode: 0o600 },
    );
    const r = await runCli(['config', 'validate', '--config', file]);
    assert.equal(r.code, ExitCode.USAGE, r.stderr);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trim().split('\n');
    assert.equal(
      lines[0],
      `${file}:9: profiles.nfs.notifications[0].token.file: cannot read ${join(tmp.dir, 'no-such.token')} (ENOENT)`,
    );
    assert.equal(
      lines[1],
      `${file}:11: profiles.nfs.notifications[1].url.env: environment variable HOOK_URL_NOT_SET is not set`,
    );
    assert.match(
      lines[2] ?? '',
      new RegExp(`^${file}:12: profiles\\.nfs\\.notifications\\[1\\]\\.body: the template does not parse: `),
    );
    assert.equal(lines.length, 3);
  });
});
