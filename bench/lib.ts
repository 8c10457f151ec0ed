/**
 * Shared pieces of the benchmarks: the machine line, medians, tables, timed child processes
 * with their peak memory, the fake restic wrapper and the built CLI. Benchmarks print figures;
 * nothing here asserts.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The built CLI. */
export const CLI = join(ROOT, 'dist', 'bin', 'resticprom.js');
/** The recorded-output fake restic. */
export const FAKE_RESTIC = join(ROOT, 'test', 'helpers', 'fake-restic.mjs');
/** Where generated inputs live (gitignored). */
export const OUT_DIR = join(ROOT, 'bench', 'out');
/** The preload that reports a node process's own peak RSS (see {@link runTimed}'s `ownPeak`). */
export const PEAK_RSS_PRELOAD = join(ROOT, 'bench', 'peak-rss.cjs');
/** GNU time, when installed (Debian package `time`). */
export const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

/** Reads `--name value` from argv, else the fallback. */
export function argNumber(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
  return v;
}

/** True when `--name` is on the command line. */
export function hasFlag(name: string): boolean {
  return process.argv.includes(`--${name}`);
}

/** One line naming the machine: CPU model, cores, memory, node, kernel. */
export function describeMachine(): string {
  const cpu = cpus();
  const model = cpu[0]?.model.trim() ?? 'unknown CPU';
  let kernel = '';
  try {
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    // not Linux
  }
  return `${model}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, node ${process.version}, ${process.platform}/${process.arch}${kernel ? ` (Linux ${kernel})` : ''}`;
}

/** The load average now (1, 5, 15 min): the machine is shared, so figures say how busy it was. */
export function describeLoad(): string {
  return `load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')} on ${cpus().length} cores`;
}

/** The median of a list of numbers. */
export function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** The p-th quantile (0..1) by nearest rank. */
export function quantile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? Number.NaN;
}

/** Prints rows as a Markdown table (so the output pastes into BENCHMARKS.md). */
export function printTable(head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    `| ${r.map((x, i) => (i === 0 ? x.padEnd(widths[i] as number) : x.padStart(widths[i] as number))).join(' | ')} |`;
  console.log(line(head));
  console.log(`|${widths.map((w, i) => (i === 0 ? `-${'-'.repeat(w)}-` : `-${'-'.repeat(w)}:`)).join('|')}|`);
  for (const r of rows) console.log(line(r));
}

/** What one timed child process did. */
export interface Timed {
  /** Wall time, ms, measured around the process by this process. */
  ms: number;
  /** Peak RSS, KiB: the largest process of the tree (GNU time's %M), or NaN without GNU time. */
  maxRssKiB: number;
  exitCode: number | null;
  stderr: string;
  /** Standard output, when `stdout: 'pipe'` was asked for. */
  stdout: string;
  /** With `ownPeak`: the node process's own peak RSS (VmHWM), KiB; else NaN. */
  ownPeakKiB: number;
  /**
   * CPU time of the tree, user + system, ms (GNU time's %U + %S), or NaN without GNU time.
   * On a machine shared by other work it varies far less than the wall time.
   */
  cpuMs: number;
}

/**
 * Runs a command to its end, with its wall time (hrtime around spawn-to-exit) and, when GNU time
 * is installed, its peak RSS: `ru_maxrss` of the child, which Linux reports as the largest RSS
 * any single process of the tree reached (not the sum of concurrent processes).
 */
export async function runTimed(
  cmd: string,
  args: string[],
  opts: {
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    stdout?: 'ignore' | 'inherit' | 'pipe';
    /** `cmd` is node: preload {@link PEAK_RSS_PRELOAD} and report the process's own peak. */
    ownPeak?: boolean;
  } = {},
): Promise<Timed> {
  const rssFile = join(tmpdir(), `resticprom-bench-rss-${process.pid}`);
  const ownFile = join(tmpdir(), `resticprom-bench-own-rss-${process.pid}`);
  if (opts.ownPeak) {
    args = ['--require', PEAK_RSS_PRELOAD, ...args];
    opts = { ...opts, env: { ...(opts.env ?? process.env), BENCH_PEAK_RSS_FILE: ownFile } };
    rmSync(ownFile, { force: true });
  }
  const [file, argv] = GNU_TIME ? [GNU_TIME, ['-f', '%M %U %S', '-o', rssFile, cmd, ...args]] : [cmd, args];
  const t0 = process.hrtime.bigint();
  const child = spawn(file, argv, {
    env: opts.env ?? process.env,
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    stdio: ['ignore', opts.stdout ?? 'ignore', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 8192) stderr += d.toString();
  });
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  let maxRssKiB = Number.NaN;
  let cpuMs = Number.NaN;
  if (GNU_TIME) {
    // GNU time writes "Command exited with non-zero status N" before the figures on failure.
    const lines = readFileSync(rssFile, 'utf8').trim().split('\n');
    const [rss, user, sys] = (lines.at(-1) ?? '').split(' ').map(Number);
    maxRssKiB = rss ?? Number.NaN;
    cpuMs = ((user ?? Number.NaN) + (sys ?? Number.NaN)) * 1000;
    rmSync(rssFile, { force: true });
  }
  let ownPeakKiB = Number.NaN;
  if (opts.ownPeak && existsSync(ownFile)) {
    ownPeakKiB = Number(readFileSync(ownFile, 'utf8').trim());
    rmSync(ownFile, { force: true });
  }
  return { ms, maxRssKiB, exitCode, stderr, stdout, ownPeakKiB, cpuMs };
}

/** A benchmark case: a name and one timed run. */
export interface BenchCase {
  name: string;
  run: () => Promise<Timed>;
}

/**
 * Runs every case `warmups` times, then `runs` rounds of one run of each in turn, so that a
 * change of the machine's speed meets all of them alike. Returns the timed runs per case.
 * @throws when a run exits with another code than 0
 */
export async function runInterleaved(cases: BenchCase[], runs: number, warmups: number): Promise<Timed[][]> {
  const samples = cases.map(() => [] as Timed[]);
  for (let i = 0; i < warmups; i++) for (const c of cases) await c.run();
  for (let i = 0; i < runs; i++) {
    for (const [k, c] of cases.entries()) {
      const t = await c.run();
      if (t.exitCode !== 0) throw new Error(`${c.name} exited ${t.exitCode}: ${t.stderr.trim()}`);
      samples[k]?.push(t);
    }
  }
  return samples;
}

/** Writes an executable `restic` wrapper that runs the fake restic (a config needs one path). */
export function writeFakeResticWrapper(dir: string): string {
  const path = join(dir, 'restic');
  writeFileSync(path, `#!/bin/sh\nexec "${process.execPath}" "${FAKE_RESTIC}" "$@"\n`);
  chmodSync(path, 0o755);
  return path;
}

function newestMtime(dir: string): number {
  let newest = 0;
  const out = execFileSync('find', [dir, '-type', 'f', '-printf', '%T@\\n'], { encoding: 'utf8' });
  for (const l of out.split('\n')) if (l) newest = Math.max(newest, Number(l) * 1000);
  return newest;
}

/** Runs `npm run build` when dist/bin/resticprom.js is missing or older than src/. */
export function ensureBuilt(): void {
  const cliTime = existsSync(CLI) ? statSync(CLI).mtimeMs : 0;
  if (cliTime > 0 && cliTime >= newestMtime(join(ROOT, 'src'))) return;
  console.error('building dist/ (npm run build) ...');
  try {
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    // A type error elsewhere in a tree under work stops tsc; an existing bundle still measures.
    if (cliTime === 0) throw err;
    console.error('npm run build failed; measuring the existing dist/bin/resticprom.js');
  }
}

/** `12.3` with the given digits, or `n/a` for NaN. */
export function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : 'n/a';
}

/** KiB as MiB text. */
export function mib(kib: number): string {
  return Number.isFinite(kib) ? (kib / 1024).toFixed(1) : 'n/a';
}

/**
 * Writes the benchmarks' resticprom config into `dir`: the seed's profile (job
 * nfs_backup, instance = tier, cpu-limit 1, .nobackup) with restic replaced by the fake
 * `restic` wrapper, pushing to `gatewayUrl`. Returns the config's path.
 */
export function writeBenchConfig(dir: string, gatewayUrl: string): { config: string; restic: string } {
  const restic = writeFakeResticWrapper(dir);
  writeFileSync(join(dir, 'pw'), 'bench-password\n', { mode: 0o600 });
  const config = join(dir, 'resticprom.yaml');
  writeFileSync(
    config,
    `restic-binary: ${restic}
state-dir: ${join(dir, 'state')}
profiles:
  nfs:
    repository: ${join(dir, 'repo')}
    password-file: ${join(dir, 'pw')}
    paths: [/srv/nfs]
    exclude-if-present: [.nobackup]
    cpu-limit: 1
    tiers:
      daily: { schedule: "30 1 * * *" }
    metrics:
      job: nfs_backup
      grouping: { instance: "{tier}" }
      pushgateway: { url: "${gatewayUrl}" }
`,
    { mode: 0o600 },
  );
  return { config, restic };
}
