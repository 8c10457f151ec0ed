/**
 * Security audit: a real `resticprom backup` with a repository password and Pushgateway
 * basic-auth credentials (both in password files), through a success, an outage (the outbox
 * is used, then flushed) and a refused push (wrong gateway password: 401, dead letter). The
 * secrets must appear nowhere: not in any child's argv, not in the environment of any child
 * other than restic (and the gateway password not even there), not in the CLI's output (text,
 * --verbose, --log-format json), not in any file of the state directory, not in what the
 * gateway holds. Files resticprom writes are 0600, its folders 0700.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { ensureBuilt, spawnCli } from '../helpers/cli.js';
import { makeRepo, makeSourceTree } from '../helpers/restic.js';
import { bcryptHash, makeTempDir, type RunningService, startPushgateway } from '../helpers/services.js';

const USER = 'backup';
const REPO_PASSWORD = `repo-${randomBytes(12).toString('hex')}`;
const GW_PASSWORD = `gw-${randomBytes(12).toString('hex')}`;
const WRONG_GW_PASSWORD = `gwwrong-${randomBytes(12).toString('hex')}`;

/** Every form a secret could leak in: as is, and the gateway passwords as a basic-auth header. */
const NEEDLES: [string, string][] = [
  ['repository password', REPO_PASSWORD],
  ['gateway password', GW_PASSWORD],
  ['wrong gateway password', WRONG_GW_PASSWORD],
  ['gateway basic-auth header', Buffer.from(`${USER}:${GW_PASSWORD}`).toString('base64')],
  ['wrong basic-auth header', Buffer.from(`${USER}:${WRONG_GW_PASSWORD}`).toString('base64')],
];

function assertNoSecret(where: string, text: string, allowed: string[] = []): void {
  for (const [what, needle] of NEEDLES) {
    if (allowed.includes(what)) continue;
    assert.ok(!text.includes(needle), `the ${what} appears in ${where}`);
  }
}

interface SeenProcess {
  pid: number;
  cmdline: string[];
  environ: string;
}

function readProc(pid: number, file: string): Buffer | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`);
  } catch {
    return undefined; // gone already, or not ours
  }
}

/** Every descendant of `root` right now (walking the ppid field of /proc/<pid>/stat). */
function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readProc(Number(name), 'stat')?.toString();
    if (!stat) continue;
    // pid (comm) state ppid ...: comm may hold blanks and parentheses, so split after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    parent.set(Number(name), ppid);
  }
  const out: number[] = [];
  for (const pid of parent.keys()) {
    let p = parent.get(pid);
    for (let depth = 0; p !== undefined && p > 1 && depth < 50; depth++) {
      if (p === root) {
        out.push(pid);
        break;
      }
      p = parent.get(p);
    }
  }
  return out;
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The CLI process itself, then every descendant seen while it ran. */
  processes: SeenProcess[];
}

/** Runs the CLI and polls /proc every few ms for its children's argv and environment. */
async function runWatched(args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  const child: ChildProcess = spawnCli(args, { env });
  const root = child.pid as number;
  const seen = new Map<string, SeenProcess>();
  const snap = (pid: number) => {
    const cmdline = readProc(pid, 'cmdline');
    const environ = readProc(pid, 'environ');
    if (!cmdline || cmdline.length === 0) return;
    const argv = cmdline.toString().split('\0').filter(Boolean);
    // A child is a node fork first and restic after exec: keep the last look at every image.
    seen.set(`${pid}\0${argv.join('\0')}`, { pid, cmdline: argv, environ: environ?.toString() ?? '' });
  };
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  snap(root);
  let polls = 0;
  const timer = setInterval(() => {
    for (const pid of descendants(root)) snap(pid);
    // Short-lived files (locks, an outbox entry before it is delivered) are looked at while they exist.
    if (++polls % 10 === 0) collectStateFiles(stateDirOf(args));
  }, 3);
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  clearInterval(timer);
  collectStateFiles(stateDirOf(args));
  return { code, stdout, stderr, processes: [...seen.values()] };
}

/** Every file and folder seen under a state directory during the runs: path -> mode and content. */
const stateFiles = new Map<string, { mode: number; isDir: boolean; content: string }>();
let currentStateDir: string | undefined;

function stateDirOf(_args: string[]): string | undefined {
  return currentStateDir;
}

function collectStateFiles(dir: string | undefined): void {
  if (!dir) return;
  try {
    const { files, dirs } = walk(dir);
    for (const d of dirs) stateFiles.set(d, { mode: statSync(d).mode & 0o777, isDir: true, content: '' });
    for (const f of files) {
      try {
        stateFiles.set(f, {
          mode: statSync(f).mode & 0o777,
          isDir: false,
          content: readFileSync(f, 'latin1'),
        });
      } catch {
        // removed between the listing and the read
      }
    }
  } catch {
    // not created yet, or a folder vanished while walking
  }
}

const isRestic = (p: SeenProcess) => p.cmdline.some((a) => /(^|\/)restic$/.test(a));

function walk(dir: string): { files: string[]; dirs: string[] } {
  const files: string[] = [];
  const dirs: string[] = [dir];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      const sub = walk(p);
      files.push(...sub.files);
      dirs.push(...sub.dirs);
    } else files.push(p);
  }
  return { files, dirs };
}

describe('secrets never leak (security audit)', () => {
  const tmp = makeTempDir('resticprom-security-');
  const stateDir = join(tmp.dir, 'state');
  const env = { HOME: tmp.dir };
  let gw: RunningService;
  let port: number;
  const webConfig = join(tmp.dir, 'web.yml');
  const runs: { name: string; result: RunResult }[] = [];

  const writeConfig = (
    file: string,
    gwPasswordFile: string,
    repo: { repository: string; passwordFile: string },
  ) =>
    writeFileSync(
      file,
      `state-dir: ${stateDir}
hostname: sec-host
profiles:
  p:
    repository: ${repo.repository}
    password-file: ${repo.passwordFile}
    env: { RESTIC_CACHE_DIR: ${join(tmp.dir, 'cache')} }
    paths: [${join(tmp.dir, 'src')}]
    tiers:
      daily: { schedule: "0 1 * * *" }
    metrics:
      job: sec
      pushgateway:
        url: http://127.0.0.1:${port}
        basic-auth: { username: ${USER}, password-file: ${gwPasswordFile} }
        retries: 0
        timeout: 2s
`,
      { mode: 0o600 },
    );
  const config = join(tmp.dir, 'resticprom.yaml');
  const wrongConfig = join(tmp.dir, 'wrong.yaml');
  const authHeader = { Authorization: `Basic ${Buffer.from(`${USER}:${GW_PASSWORD}`).toString('base64')}` };

  before(async () => {
    currentStateDir = stateDir;
    await ensureBuilt();
    writeFileSync(webConfig, `basic_auth_users:\n  ${USER}: ${bcryptHash(GW_PASSWORD)}\n`);
    gw = await startPushgateway({ webConfigFile: webConfig, skipReady: true });
    port = gw.port;
    const repo = makeRepo(tmp.dir, REPO_PASSWORD);
    makeSourceTree(join(tmp.dir, 'src'), { files: 200, bytes: 4096 });
    writeFileSync(join(tmp.dir, 'gw.pass'), `${GW_PASSWORD}\n`, { mode: 0o600 });
    writeFileSync(join(tmp.dir, 'gw-wrong.pass'), `${WRONG_GW_PASSWORD}\n`, { mode: 0o600 });
    writeConfig(config, join(tmp.dir, 'gw.pass'), repo);
    writeConfig(wrongConfig, join(tmp.dir, 'gw-wrong.pass'), repo);
  });

  after(async () => {
    await gw?.stop();
    tmp.cleanup();
  });

  it('runs a success, an outage with outbox and flush, and a refused push', async () => {
    const backup = (cfg: string, ...extra: string[]) =>
      runWatched(['backup', '--config', cfg, '--tier', 'daily', ...extra], env);

    const ok = await backup(config, '--verbose');
    runs.push({ name: 'backup --verbose', result: ok });
    assert.equal(ok.code, ExitCode.OK, ok.stderr);

    await gw.stop();
    const outage = await backup(config, '--log-format', 'json', '--verbose');
    runs.push({ name: 'backup during an outage (json)', result: outage });
    assert.equal(outage.code, ExitCode.TEMPFAIL, outage.stderr);
    const outboxFiles = walk(stateDir).files.filter((f) => f.includes('outbox'));
    assert.ok(outboxFiles.length > 0, 'the outage run left its metrics in the outbox');

    gw = await startPushgateway({ port, webConfigFile: webConfig, skipReady: true });
    const flush = await runWatched(['flush', '--config', config, '--state-dir', stateDir], env);
    runs.push({ name: 'flush', result: flush });
    assert.equal(flush.code, ExitCode.OK, flush.stderr);

    const refused = await backup(wrongConfig);
    runs.push({ name: 'backup with a wrong gateway password', result: refused });
    assert.equal(refused.code, ExitCode.FAILURE, refused.stderr);
    assert.match(refused.stderr, /401/);
    const dead = walk(stateDir).files.filter((f) => /dead/.test(f));
    assert.ok(dead.length > 0, `a dead letter was written: ${walk(stateDir).files.join(', ')}`);
  });

  it('no secret in any child argv; none in the environment of a child other than restic', (t) => {
    assert.equal(runs.length, 4);
    // The checker itself sees a leak, in either form.
    assert.throws(() => assertNoSecret('a probe', `x=${GW_PASSWORD}`), /gateway password appears in a probe/);
    assert.throws(() => assertNoSecret('a probe', `Basic ${NEEDLES[3]?.[1]}`), /basic-auth header appears/);
    let resticSeen = 0;
    for (const { name, result } of runs) {
      for (const p of result.processes) {
        assertNoSecret(
          `the argv of pid ${p.pid} (${p.cmdline.join(' ')}) during ${name}`,
          p.cmdline.join('\0'),
        );
        if (isRestic(p)) {
          resticSeen++;
          // restic may hold its own password (it reads RESTIC_PASSWORD_FILE here); never the gateway's.
          assertNoSecret(`restic's environment during ${name}`, p.environ, ['repository password']);
        } else {
          assertNoSecret(
            `the environment of pid ${p.pid} (${p.cmdline.join(' ')}) during ${name}`,
            p.environ,
          );
        }
      }
    }
    // The watcher did see restic and read its environment: otherwise this test could not fail.
    assert.ok(resticSeen >= 3, `restic processes seen: ${resticSeen}`);
    const restic = runs[0]?.result.processes.find((p) => isRestic(p) && p.cmdline.includes('backup'));
    assert.match(restic?.environ ?? '', /(^|\0)RESTIC_REPOSITORY=/);
    t.diagnostic(`restic argv: ${restic?.cmdline.join(' ')}`);
    t.diagnostic(
      `processes seen per run: ${runs.map((r) => `${r.name}: ${r.result.processes.map((p) => p.cmdline[0]?.split('/').pop()).join(',')}`).join('; ')}`,
    );
  });

  it('no secret in the CLI output (text, --verbose, --log-format json)', () => {
    for (const { name, result } of runs) {
      assertNoSecret(`stdout of ${name}`, result.stdout);
      assertNoSecret(`stderr of ${name}`, result.stderr);
    }
    const json = runs[1]?.result.stderr.split('\n').filter(Boolean) ?? [];
    assert.ok(json.length > 0 && json.every((l) => l.startsWith('{')), 'the outage run logged JSON');
  });

  it('no secret in any file of the state directory; files 0600, folders 0700', (t) => {
    collectStateFiles(stateDir);
    const names = [...stateFiles.keys()].map((f) => f.slice(stateDir.length + 1) || '.');
    // The outbox entry of the outage run was seen before the flush delivered it.
    assert.ok(
      names.some((n) => /^outbox\/(?!dead\/)[^/]+\.json$/.test(n)),
      `pending outbox entry seen: ${names.join(', ')}`,
    );
    const modes: string[] = [];
    for (const [path, f] of stateFiles) {
      assertNoSecret(path, f.content);
      if (f.mode !== (f.isDir ? 0o700 : 0o600)) modes.push(`${path} ${f.mode.toString(8)}`);
    }
    assert.deepEqual(modes, [], 'files 0600 and folders 0700');
    t.diagnostic(`state files and folders checked: ${names.join(', ')}`);
  });

  it('no secret in what the gateway holds, and the runs are there', async () => {
    const page = await (await fetch(`${gw.url}/metrics`, { headers: authHeader })).text();
    const api = await (await fetch(`${gw.url}/api/v1/metrics`, { headers: authHeader })).text();
    assertNoSecret('the gateway /metrics', page);
    assertNoSecret('the gateway /api/v1/metrics', api);
    assert.match(page, /job="sec"/);
  });
});
