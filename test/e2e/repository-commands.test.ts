/**
 * End to end with the real restic of each version: the commands restic users reach for,
 * run with a profile's repository, password and env-file: `config validate --repository`
 * (missing, then opened), `init` (and its refusal of an existing repository), `snapshots`
 * per tier (table and JSON, size from the snapshot's summary where restic stores one),
 * `forget --dry-run` (nothing removed, recorded or pushed), `unlock` naming the stale
 * lock of a restic killed with SIGKILL, and a backup with `files-from`, `one-file-system`
 * and no `paths`.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { readHistory, waitUntil } from '../helpers/e2e.js';
import { resticMatrix } from '../helpers/matrix.js';
import { makeTempDir } from '../helpers/services.js';

const PASSWORD = 'pw-Rc44-repo-cmds';

const temps: Array<() => void> = [];
after(() => {
  for (const c of temps) c();
});

for (const restic of resticMatrix()) {
  describe(`repository commands (restic ${restic.version})`, { skip: restic.skip }, () => {
    let dir: string;
    let config: string;
    let stateDir: string;
    let repository: string;
    let env: NodeJS.ProcessEnv;

    before(async () => {
      await ensureBuilt();
      const t = makeTempDir('resticprom-repocmd-');
      temps.push(t.cleanup);
      dir = t.dir;
      stateDir = join(dir, 'state');
      repository = join(dir, 'repo');
      mkdirSync(join(dir, 'src', 'a'), { recursive: true });
      writeFileSync(join(dir, 'src', 'a', 'one.txt'), 'one\n');
      writeFileSync(join(dir, 'src', 'two.txt'), 'two two\n');
      writeFileSync(join(dir, 'list.txt'), `${join(dir, 'src', 'a')}\n`);
      writeFileSync(join(dir, 'pw'), `${PASSWORD}\n`, { mode: 0o600 });
      // The env-file carries restic's cache folder, as it would carry cloud credentials.
      writeFileSync(
        join(dir, 'restic.env'),
        `# restic's environment\nRESTIC_CACHE_DIR="${join(dir, 'cache')}"\n`,
        {
          mode: 0o600,
        },
      );
      config = join(dir, 'resticprom.yaml');
      writeFileSync(
        config,
        `timezone: UTC
state-dir: ${stateDir}
restic-binary: ${restic.bin}
profiles:
  nfs:
    repository: ${repository}
    password-file: ${join(dir, 'pw')}
    env-file: ${join(dir, 'restic.env')}
    paths: [${join(dir, 'src')}]
    tiers:
      daily: { schedule: "30 1 * * *", keep-last: 1 }
      weekly: { schedule: "0 3 * * 0" }
  listed:
    repository: ${repository}
    password-file: ${join(dir, 'pw')}
    env-file: ${join(dir, 'restic.env')}
    files-from: ${join(dir, 'list.txt')}
    one-file-system: true
    tiers:
      monthly: { schedule: "0 4 1 * *" }
`,
        { mode: 0o600 },
      );
      env = { HOME: dir };
    });

    it('config validate --repository says the repository is missing, with the init hint, and exits 10', async () => {
      const r = await runCli(['config', 'validate', '--repository', '-c', config], { env });
      assert.equal(r.code, ExitCode.REPO_MISSING, r.stderr);
      const lines = r.stdout.trimEnd().split('\n');
      assert.match(
        lines[0] ?? '',
        /^ok: .*: 2 profiles, 3 tiers; checked 5 referenced files, check\.read-data-subset syntax, 2 repositories opened$/,
      );
      assert.equal(
        lines[1],
        `nfs: missing: ${repository} does not exist; create it with: resticprom init --profile nfs`,
      );
    });

    it('init creates the repository, and refuses to touch it a second time', async () => {
      const r = await runCli(['init', '--profile', 'nfs', '-c', config], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, `init nfs: created the repository ${repository}\n`);
      assert.ok(existsSync(join(repository, 'config')));
      const again = await runCli(['init', '--profile', 'nfs', '-c', config], { env });
      assert.equal(again.code, ExitCode.USAGE);
      assert.equal(
        again.stderr,
        `resticprom: the repository of profile nfs (${repository}) already exists; nothing was changed\n`,
      );
      const ok = await runCli(['config', 'validate', '--repository', '-c', config], { env });
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(
        ok.stdout,
        new RegExp(
          `\nnfs: ok: opened ${repository} with its password \\(restic ${restic.version.replace(/\./g, '\\.')}\\)\n`,
        ),
      );
    });

    it('snapshots lists each tier newest first; --json has the size from the summary where restic stores one', async () => {
      for (let i = 0; i < 2; i++) {
        const b = await runCli(['backup', '-q', '--profile', 'nfs', '--tier', 'daily', '-c', config], {
          env,
        });
        assert.equal(b.code, 0, b.stderr);
      }
      const table = await runCli(['snapshots', '--profile', 'nfs', '-c', config], { env });
      assert.equal(table.code, 0, table.stderr);
      const [head, cols, first, second, blank, weekly, ...rest] = table.stdout.split('\n');
      assert.equal(head, 'nfs/daily: 2 snapshot(s)');
      assert.match(cols ?? '', /^TIME {14}AGE +SIZE +ID$/);
      const sized = restic.version !== '0.14.0';
      const row = new RegExp(
        `^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d  \\S+ +${sized ? '12 B' : '-'} +[0-9a-f]{8}$`,
      );
      assert.match(first ?? '', row);
      assert.match(second ?? '', row);
      assert.deepEqual([blank, weekly, ...rest], ['', 'nfs/weekly: 0 snapshot(s)', '']);

      const json = await runCli(
        ['snapshots', '--profile', 'nfs', '--tier', 'daily', '--json', '-c', config],
        { env },
      );
      const out = JSON.parse(json.stdout) as {
        profile: string;
        tiers: {
          tier: string;
          snapshots: { shortId: string; time: number; ageMs: number; size: number | null }[];
        }[];
      };
      assert.equal(out.profile, 'nfs');
      assert.deepEqual(
        out.tiers.map((t) => [t.tier, t.snapshots.length]),
        [['daily', 2]],
      );
      assert.deepEqual(
        out.tiers[0]?.snapshots.map((s) => s.size),
        sized ? [12, 12] : [null, null],
      );
      assert.ok((out.tiers[0]?.snapshots[1]?.time ?? 0) > (out.tiers[0]?.snapshots[0]?.time ?? 0));
      assert.ok(table.stdout.includes(out.tiers[0]?.snapshots[1]?.shortId ?? 'x'), 'newest first');
    });

    it('forget --dry-run prints what would go, removes nothing, records and pushes nothing', async () => {
      const before = readHistory(stateDir).length;
      const snaps = JSON.parse(
        (await runCli(['snapshots', '--profile', 'nfs', '--tier', 'daily', '--json', '-c', config], { env }))
          .stdout,
      ) as { tiers: { snapshots: { shortId: string }[] }[] };
      const oldest = snaps.tiers[0]?.snapshots[0]?.shortId;
      const r = await runCli(['forget', '--dry-run', '--profile', 'nfs', '--tier', 'daily', '-c', config], {
        env,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        r.stdout,
        `forget --dry-run nfs/daily: would keep 1 and remove 1 of 2 snapshot(s); nothing was removed or pushed\n  remove ${oldest}\n`,
      );
      assert.equal(readHistory(stateDir).length, before);
      const after = await runCli(['snapshots', '--profile', 'nfs', '--tier', 'daily', '-c', config], { env });
      assert.match(after.stdout, /^nfs\/daily: 2 snapshot\(s\)\n/);
    });

    it('unlock removes the stale lock of a killed restic and names it; a second unlock finds none', async () => {
      // `backup --stdin` holds its lock while it waits for input; SIGKILL leaves the lock behind.
      const resticEnv = {
        PATH: process.env.PATH,
        HOME: dir,
        RESTIC_REPOSITORY: repository,
        RESTIC_PASSWORD_FILE: join(dir, 'pw'),
        RESTIC_CACHE_DIR: join(dir, 'cache'),
      };
      const child = spawn(restic.bin, ['backup', '--stdin', '--stdin-filename', 'x'], {
        env: resticEnv,
        stdio: ['pipe', 'ignore', 'ignore'],
      });
      await waitUntil(
        'restic backup --stdin to take its lock',
        () =>
          execFileSync(restic.bin, ['list', 'locks', '--no-lock'], {
            env: resticEnv,
            encoding: 'utf8',
          }).trim() !== '',
      );
      const pid = child.pid;
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const r = await runCli(['unlock', '--profile', 'nfs', '-c', config], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `^unlock nfs: removed stale lock [0-9a-f]{8} \\(shared, \\S+@\\S+ pid ${pid}, created \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\)\n$`,
        ),
      );
      const again = await runCli(['unlock', '--profile', 'nfs', '-c', config], { env });
      assert.equal(again.stderr, 'unlock nfs: no stale locks\n');
    });

    it('a profile with files-from and one-file-system and no paths backs up the listed folder only', async () => {
      const b = await runCli(['backup', '-q', '--profile', 'listed', '--tier', 'monthly', '-c', config], {
        env,
      });
      assert.equal(b.code, 0, b.stderr);
      const rec = readHistory(stateDir).at(-1);
      assert.equal(rec?.outcome, 'success');
      const summary = (rec?.summary ?? {}) as { totalFilesProcessed?: number; totalBytesProcessed?: number };
      assert.equal(summary.totalFilesProcessed, 1);
      assert.equal(summary.totalBytesProcessed, 4);
    });
  });
}
