/**
 * Attacks on the state directory by another local user (`nobody`, through `setpriv`) while
 * resticprom runs as root: a state directory the attacker made (mode 0777), one writable by
 * the attacker's group, a symbolic link in place of the history or the latest metrics, and
 * forged outbox entries that would make root read a root-only secret file and send it, or
 * write a textfile into a root-only folder. Every one must end in exit 73 with one line naming
 * the path, its owner and mode and the fix, or leave the forged entry unsent; no file outside
 * the state directory may change.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { Outbox } from '../../src/sinks/outbox.js';
import { startStandIn } from '../faults/helpers.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/services.js';

const isRoot = process.getuid?.() === 0;
const METRICS = '# TYPE trust_value gauge\ntrust_value 1\n';

/** Runs a shell command as nobody:nogroup, as an unprivileged local user would. */
function asNobody(cmd: string): void {
  execFileSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'sh', '-c', cmd]);
}

describe('the state directory trusts only what is ours', {
  skip: !isRoot && 'needs root (runs setpriv)',
}, () => {
  const tmp = makeTempDir('resticprom-trust-');
  let shared: string;
  before(async () => {
    await ensureBuilt();
    // A folder every user may create things in, like /tmp.
    chmodSync(tmp.dir, 0o711);
    shared = join(tmp.dir, 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
  });
  after(() => tmp.cleanup());

  const push = (state: string, url = 'http://127.0.0.1:9') =>
    runCli(['push', '--gateway', url, '--job', 'trust', '--retries', '0', '--state-dir', state, '-'], {
      input: METRICS,
    });

  it('refuses a state directory another user made (0777): push, flush and run exit 73, nothing written', async () => {
    const state = join(shared, 'planted');
    asNobody(`mkdir -m 0777 ${state}`);
    for (const args of [
      null,
      ['flush', '--state-dir', state],
      ['run', '--job', 'trust', '--state-dir', state, '--', 'true'],
    ]) {
      const r = args === null ? await push(state) : await runCli(args);
      assert.equal(r.code, ExitCode.CANTCREAT, r.stderr);
      assert.equal(
        r.stderr,
        `resticprom: state directory ${state} is not safe to use: ${state} is owned by uid 65534, not by uid 0 (owner uid 65534, group 65534, mode 0777); chown 0 ${state} && chmod 700 ${state}, or choose another with --state-dir or RESTICPROM_STATE_DIR\n`,
      );
      assert.deepEqual(readdirSync(state), [], 'nothing may be written into it');
    }
  });

  it("refuses a folder the attacker's group may write, accepts one only our own group may (fsGroup)", async () => {
    const theirs = join(tmp.dir, 'group-theirs');
    mkdirSync(join(theirs, 'outbox'), { recursive: true, mode: 0o700 });
    chmodSync(theirs, 0o700);
    chownSync(join(theirs, 'outbox'), 0, 65534);
    chmodSync(join(theirs, 'outbox'), 0o2770);
    const r = await push(theirs);
    assert.equal(r.code, ExitCode.CANTCREAT, r.stderr);
    assert.equal(
      r.stderr,
      `resticprom: state directory ${theirs} is not safe to use: ${join(theirs, 'outbox')} is writable by group 65534, which uid 0 is not in (mode 2770) (owner uid 0, group 65534, mode 2770); chown 0 ${join(theirs, 'outbox')} && chmod 700 ${join(theirs, 'outbox')}, or choose another with --state-dir or RESTICPROM_STATE_DIR\n`,
    );

    // Like a Kubernetes volume with fsGroup: group-writable by the process's own group.
    const ours = join(tmp.dir, 'group-ours');
    mkdirSync(join(ours, 'outbox'), { recursive: true, mode: 0o700 });
    chmodSync(join(ours, 'outbox'), 0o2770);
    const ok = await push(ours);
    assert.equal(ok.code, ExitCode.TEMPFAIL, ok.stderr); // the gateway is down; the entry is queued
    assert.equal(readdirSync(join(ours, 'outbox')).filter((n) => n.endsWith('.json')).length, 1);
  });

  for (const [what, name, isDir] of [
    ['history.jsonl', 'history.jsonl', false],
    ['latest/', 'latest', true],
  ] as const) {
    it(`refuses a symbolic link in place of ${what}; the file it points to is untouched`, async () => {
      const state = join(tmp.dir, `link-${name}`);
      mkdirSync(state, { mode: 0o700 });
      const victim = join(tmp.dir, `victim-${name}`);
      if (isDir) mkdirSync(victim, { mode: 0o700 });
      else writeFileSync(victim, 'precious\n', { mode: 0o600 });
      symlinkSync(victim, join(state, name));
      const r = await runCli(['run', '--job', 'trust', '--state-dir', state, '--', 'true']);
      assert.equal(r.code, ExitCode.CANTCREAT, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `^resticprom: state directory ${state} is not safe to use: ${join(state, name)} is a symbolic link .*; remove it`,
        ),
      );
      if (isDir) assert.deepEqual(readdirSync(victim), []);
      else assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
    });
  }

  it('a forged entry naming a root-only secret file and a foreign URL is not sent; a forged textfile is not written', async () => {
    const state = join(tmp.dir, 'forged');
    mkdirSync(state, { mode: 0o700 });
    const secret = join(tmp.dir, 'root-only-secret');
    writeFileSync(secret, 'root-secret-4711\n', { mode: 0o600 });
    const rootOnly = join(tmp.dir, 'root-only');
    mkdirSync(rootOnly, { mode: 0o700 });
    const catcher = await startStandIn(() => ({ status: 200 }));
    try {
      // What a planter would write: valid entries, with a reference and a path of their choosing.
      await new Outbox({ stateDir: state }).enqueue(
        { text: METRICS, job: 'trust', grouping: {}, measuredAt: 1 },
        [
          {
            kind: 'pushgateway',
            url: catcher.url,
            retries: 0,
            basicAuth: { username: 'x', password: { file: secret } },
          },
          { kind: 'textfile', path: join(rootOnly, 'planted.prom') },
        ],
      );
      const r = await runCli(['flush', '--state-dir', state]);
      assert.equal(r.code, ExitCode.TEMPFAIL, r.stderr);
      assert.deepEqual(catcher.requests, [], 'nothing may reach the planted URL');
      assert.equal(existsSync(join(rootOnly, 'planted.prom')), false);
      assert.match(
        r.stdout,
        new RegExp(
          `pending \\S+ for pushgateway ${catcher.url.replace(/\./g, '\\.')} \\(job trust\\): gateway \\S+ waits: its basic auth password file ${secret} is read only for a destination of the config or flags of this flush`,
        ),
      );
      assert.match(
        r.stdout,
        new RegExp(
          `pending \\S+ for textfile ${join(rootOnly, 'planted.prom')} \\(job trust\\): textfile \\S+ waits: it is written only for a destination`,
        ),
      );
      // With the destination on the command line (the operator agrees), it goes out.
      const agreed = await runCli([
        'flush',
        '--state-dir',
        state,
        '--gateway',
        catcher.url,
        '--basic-auth-user',
        'x',
        '--basic-auth-password-file',
        secret,
        '--textfile',
        join(rootOnly, 'planted.prom'),
      ]);
      assert.equal(agreed.code, ExitCode.OK, agreed.stderr);
      assert.equal(catcher.requests.length, 1);
      assert.equal(existsSync(join(rootOnly, 'planted.prom')), true);
    } finally {
      await catcher.close();
    }
  });
});
