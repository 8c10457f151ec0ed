/**
 * Runs the built CLI (dist/bin/resticprom.js) for tests: builds it once per process
 * when it is missing or older than src/, then runs or spawns it with node; builds the
 * single executable (dist/sea/resticprom) likewise for the tests that run it.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The built CLI. */
export const CLI = join(ROOT, 'dist', 'bin', 'resticprom.js');

/**
 * With RESTICPROM_TEST_FROM_SOURCE=1 the CLI runs from src/ through tsx (no build):
 * slower to start, but useful while a build is broken elsewhere in the tree.
 */
const FROM_SOURCE = process.env.RESTICPROM_TEST_FROM_SOURCE === '1';

let built: Promise<void> | undefined;

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = 0;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name)));
  return newest;
}

/** Runs `npm run build` once per process when dist/bin/resticprom.js is missing or older than any file in src/. */
export function ensureBuilt(): Promise<void> {
  if (FROM_SOURCE) return Promise.resolve();
  built ??= buildWhenStale(CLI, [join(ROOT, 'src')], build);
  return built;
}

/** The single executable `npm run build:sea` makes. */
export const SEA = join(ROOT, 'dist', 'sea', 'resticprom');

let seaBuilt: Promise<void> | undefined;

/**
 * Runs `npm run build:sea` once per process when dist/sea/resticprom is missing or older than
 * src/, the build script or sea-config.json (about 20 s, so the suite builds it at most once).
 */
export function ensureSeaBuilt(): Promise<void> {
  seaBuilt ??= buildWhenStale(
    SEA,
    [join(ROOT, 'src'), join(ROOT, 'scripts', 'build.mjs'), join(ROOT, 'sea-config.json')],
    () => {
      execFileSync('npm', ['run', 'build:sea', '--silent'], { cwd: ROOT, stdio: 'pipe' });
    },
  );
  return seaBuilt;
}

/**
 * Runs `make` when `target` is missing or older than any of `sources` (files or folders).
 * Test files run in parallel processes: one builds, the others wait for it on a lock.
 */
async function buildWhenStale(target: string, sources: string[], make: () => void | Promise<void>) {
  const isFresh = () => {
    try {
      const mtime = statSync(target).mtimeMs;
      return sources.every((p) => mtime >= newestMtime(p));
    } catch {
      return false;
    }
  };
  if (isFresh()) return;
  const lock = join(
    tmpdir(),
    `resticprom-build-${createHash('sha256').update(target).digest('hex').slice(0, 12)}.lock`,
  );
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 180_000) rmSync(lock, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    if (!isFresh()) await make();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * `npm run build`; when that fails (the library's tsc step refuses a type error somewhere),
 * bundles only the CLI with esbuild, as scripts/build.mjs does, so CLI tests still run.
 */
async function build(): Promise<void> {
  try {
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'pipe' });
    return;
  } catch (err) {
    const out = String((err as { stdout?: Buffer }).stdout ?? '').slice(0, 2000);
    process.stderr.write(`ensureBuilt: npm run build failed, bundling the CLI only:\n${out}\n`);
  }
  execFileSync(process.execPath, ['scripts/build.mjs', '--cli-only'], { cwd: ROOT, stdio: 'pipe' });
}

/** Options of {@link runCli} and {@link spawnCli}. */
export interface RunCliOptions {
  /** Written to stdin, which is then closed. @default nothing (stdin closed) */
  input?: string | Uint8Array;
  /** Added to (or, with `undefined` values, removed from) the environment; NO_COLOR is set. */
  env?: NodeJS.ProcessEnv;
  /** Kills the CLI (SIGKILL) after this long and rejects. @default 60000 */
  timeoutMs?: number;
  /** Working directory. @default the repository root */
  cwd?: string;
}

/** What a CLI run printed and how it exited. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function cliEnv(extra: NodeJS.ProcessEnv | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  // Nothing from the developer's own environment may leak into a test run.
  for (const k of Object.keys(env)) if (k.startsWith('RESTICPROM_')) delete env[k];
  for (const [k, v] of Object.entries(extra ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** Starts the CLI with `args` and returns the child (stdout/stderr piped), e.g. to kill -9 it. */
export function spawnCli(args: string[], opts: Omit<RunCliOptions, 'timeoutMs'> = {}): ChildProcess {
  const entry = FROM_SOURCE ? ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts')] : [CLI];
  const child = spawn(process.execPath, [...entry, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: cliEnv(opts.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin?.on('error', () => {}); // the CLI may exit before reading stdin
  if (opts.input !== undefined) child.stdin?.end(opts.input);
  else child.stdin?.end();
  return child;
}

/** Runs the CLI with `args` to its end; resolves with its exit code and output. */
export async function runCli(args: string[], opts: RunCliOptions = {}): Promise<CliResult> {
  await ensureBuilt();
  const child = spawnCli(args, opts);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`resticprom ${args.join(' ')} did not end within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
