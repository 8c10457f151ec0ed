/**
 * Test helpers for restic: real temporary repositories, deterministic source trees, the
 * recorded-output fake restic and the fixtures of test/fixtures/restic/.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** Absolute path of the fake restic script (run it directly: it has a node shebang). */
export const FAKE_RESTIC = join(here, 'fake-restic.mjs');

/** Absolute path of test/fixtures/restic. */
export const RESTIC_FIXTURES = join(here, '..', 'fixtures', 'restic');

/** Every restic version with fixtures, oldest first. */
export const FIXTURE_VERSIONS = [
  '0.14.0',
  '0.15.2',
  '0.16.4',
  '0.17.0',
  '0.17.3',
  '0.18.0',
  '0.19.1',
] as const;

/** A fixture: its stdout and stderr files and the exit code recorded with it. */
export interface ResticFixture {
  stdoutFile: string;
  stderrFile: string;
  exitCode: number;
  version: string;
  provenance: 'captured' | 'reconstructed';
}

/** Returns the files of fixture `name` (e.g. `backup-success`) of restic `version`. */
export function resticFixture(version: string, name: string): ResticFixture {
  const dir = join(RESTIC_FIXTURES, version);
  const meta = JSON.parse(readFileSync(join(dir, `${name}.meta.json`), 'utf8')) as {
    exitCode: number;
    provenance: 'captured' | 'reconstructed';
  };
  return {
    stdoutFile: join(dir, `${name}.jsonl`),
    stderrFile: join(dir, `${name}.stderr`),
    exitCode: meta.exitCode,
    version,
    provenance: meta.provenance,
  };
}

/** The environment that makes the fake restic replay `fx` (merged over `extra`). */
export function fakeResticEnv(fx: ResticFixture, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    FAKE_RESTIC_STDOUT: fx.stdoutFile,
    FAKE_RESTIC_STDERR: fx.stderrFile,
    FAKE_RESTIC_EXIT: String(fx.exitCode),
    FAKE_RESTIC_VERSION: fx.version,
    ...extra,
  };
}

/** Options of {@link writeFakeResticConfig}. */
export interface FakeResticConfigOptions {
  /** The config file's name in `dir`. @default 'resticprom.yaml' */
  name?: string;
  /** Top-level keys put before the rest (YAML, e.g. `log-format: json\n`). @default none */
  head?: string;
  /** The profile's `metrics:` block without the key (YAML, e.g. `textfile: /x.prom`). @default none: the fallback textfile */
  metrics?: string;
}

/**
 * Writes a config (mode 0600) whose profile `nfs`, tier `daily`, runs the fake restic, with its
 * password file `pw` beside it and the state directory `state` in `dir`; returns the file.
 */
export function writeFakeResticConfig(dir: string, opts: FakeResticConfigOptions = {}): string {
  const file = join(dir, opts.name ?? 'resticprom.yaml');
  writeFileSync(join(dir, 'pw'), 'pw\n', { mode: 0o600 });
  writeFileSync(
    file,
    `${opts.head ?? ''}state-dir: ${join(dir, 'state')}
restic-binary: ${FAKE_RESTIC}
profiles:
  nfs:
    repository: /srv/repo
    password-file: ${join(dir, 'pw')}
    paths: [/srv/nfs]
    tiers:
      daily: { schedule: "30 1 * * *" }
${opts.metrics ? `    metrics:\n      ${opts.metrics}\n` : ''}`,
    { mode: 0o600 },
  );
  return file;
}

/** A restic repository made by {@link makeRepo}. */
export interface TestRepo {
  /** The repository path (what goes into RESTIC_REPOSITORY). */
  repository: string;
  /** The file holding the password (mode 0600; a test running restic as another user chowns it). */
  passwordFile: string;
  password: string;
  /** A cache directory for restic (`RESTIC_CACHE_DIR`), inside `dir`. */
  cacheDir: string;
  /** An environment with PATH, RESTIC_CACHE_DIR and nothing secret. */
  env: NodeJS.ProcessEnv;
}

/** Which restic a helper runs. */
export interface ResticChoice {
  /** The restic executable (a matrix entry's `bin`). @default 'restic' (Debian 12's, from PATH) */
  restic?: string;
}

/**
 * Creates a restic repository at `dir/repo` with `restic init` (of `opts.restic`, so that each
 * version makes the repository format it makes for its users), the password in `dir/password`.
 */
export function makeRepo(dir: string, password: string, opts: ResticChoice = {}): TestRepo {
  const repository = join(dir, 'repo');
  const passwordFile = join(dir, 'password');
  const cacheDir = join(dir, 'cache');
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  mkdirSync(cacheDir, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    RESTIC_CACHE_DIR: cacheDir,
  };
  execFileSync(opts.restic ?? 'restic', ['init'], {
    env: { ...env, RESTIC_REPOSITORY: repository, RESTIC_PASSWORD_FILE: passwordFile },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return { repository, passwordFile, password, cacheDir, env };
}

/** Runs real restic on `repo` synchronously and returns stdout (for test set-up). */
export function resticSync(repo: TestRepo, args: string[], opts: ResticChoice = {}): string {
  return execFileSync(opts.restic ?? 'restic', args, {
    env: { ...repo.env, RESTIC_REPOSITORY: repo.repository, RESTIC_PASSWORD_FILE: repo.passwordFile },
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  });
}

/** What {@link makeSourceTree} wrote. */
export interface SourceTree {
  dir: string;
  /** Paths of the files, relative to `dir`. */
  files: string[];
  /** Sum of the file sizes. */
  totalBytes: number;
  /** Number of directories, `dir` included. */
  dirs: number;
}

/**
 * Writes `files` files of `bytes` bytes each under `dir` (ten per sub-directory), with content
 * that differs per file and does not deduplicate, and returns what it wrote.
 */
export function makeSourceTree(dir: string, opts: { files: number; bytes: number }): SourceTree {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  const files: string[] = [];
  const subdirs = new Set<string>();
  for (let i = 0; i < opts.files; i++) {
    const sub = `d${Math.floor(i / 10)}`;
    if (!subdirs.has(sub)) {
      mkdirSync(join(dir, sub), { recursive: true, mode: 0o755 });
      subdirs.add(sub);
    }
    const rel = join(sub, `f${i}.bin`);
    writeFileSync(join(dir, rel), pseudoRandom(i + 1, opts.bytes), { mode: 0o644 });
    files.push(rel);
  }
  return { dir, files, totalBytes: opts.files * opts.bytes, dirs: subdirs.size + 1 };
}

/** Deterministic bytes that do not compress or deduplicate (xorshift). */
function pseudoRandom(seed: number, n: number): Buffer {
  const buf = Buffer.allocUnsafe(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    buf[i] = x & 0xff;
  }
  return buf;
}
