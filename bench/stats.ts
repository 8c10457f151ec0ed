/**
 * `resticprom stats` against `restic stats --mode restore-size` over every snapshot (the
 * method repository exporters use), side by side, on repositories of 100 and 300
 * snapshots of a tree of 5,000 files, with the newest restic of the version matrix.
 *
 * Building the repositories is slow (hundreds of backups), so they are built once into
 * bench/out/stats-cache/ and reused; `--rebuild` starts over. Each size is measured:
 *   - restic stats --mode restore-size --json (all snapshots)
 *   - resticprom stats with an empty state directory (nothing cached yet)
 *   - resticprom stats again (snapshot sizes cached)
 *   - resticprom stats after one more backup (the cost of a new snapshot)
 *
 * Run: npx tsx bench/stats.ts [--files 5000] [--runs 1] [--sizes 100,300] [--build-only] [--rebuild] [--restic PATH]
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resticMatrix } from '../test/helpers/matrix.js';
import { makeSourceTree } from '../test/helpers/restic.js';
import {
  argNumber,
  CLI,
  describeLoad,
  describeMachine,
  ensureBuilt,
  fmt,
  hasFlag,
  median,
  OUT_DIR,
  printTable,
  runTimed,
} from './lib.js';

const sizesArg = process.argv.indexOf('--sizes');
/** Snapshot counts measured (`--sizes 100,300`); the repositories are built up to the largest. */
const SIZES = (sizesArg > 0 ? (process.argv[sizesArg + 1] ?? '') : '100,300')
  .split(',')
  .map(Number)
  .filter((n) => Number.isInteger(n) && n > 0);
const FILES = argNumber('files', 5000);
const RUNS = argNumber('runs', 1);
const CACHE = join(OUT_DIR, 'stats-cache');
const PASSWORD = 'bench-stats-password';

// The newest restic of the matrix, or the one `--restic PATH` names.
const resticArg = process.argv.indexOf('--restic');
const newest = resticMatrix()
  .filter((r) => !r.skip)
  .at(-1);
const restic =
  resticArg > 0 && process.argv[resticArg + 1]
    ? { bin: process.argv[resticArg + 1] as string, version: 'given' }
    : newest;
if (!restic) throw new Error('no restic found');

const resticEnv = (repo: string): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: CACHE,
  RESTIC_REPOSITORY: repo,
  RESTIC_PASSWORD_FILE: join(CACHE, 'password'),
  RESTIC_CACHE_DIR: join(CACHE, 'restic-cache'),
});

function resticRun(repo: string, args: string[]): string {
  return execFileSync(restic?.bin ?? 'restic', args, {
    env: resticEnv(repo),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 1024 ** 3,
  });
}

function snapshotCount(repo: string): number {
  return (JSON.parse(resticRun(repo, ['snapshots', '--json'])) as unknown[]).length;
}

/** One more backup of the tree, with a few files changed so each snapshot differs. */
function backupOnce(repo: string, src: string, i: number): void {
  for (let k = 0; k < 5; k++)
    writeFileSync(join(src, `d${(i * 5 + k) % 50}`, 'changing.txt'), `backup ${i} ${k}\n`);
  resticRun(repo, ['backup', '--quiet', '--tag', i % 7 === 0 ? 'weekly' : 'daily', '--host', 'bench', src]);
}

/** Builds (or resumes) the 300-snapshot repository, copying it at 100 snapshots. */
function buildRepos(): void {
  if (hasFlag('rebuild')) rmSync(CACHE, { recursive: true, force: true });
  mkdirSync(join(CACHE, 'restic-cache'), { recursive: true });
  writeFileSync(join(CACHE, 'password'), `${PASSWORD}\n`, { mode: 0o600 });
  const src = join(CACHE, 'src');
  if (!existsSync(join(CACHE, 'src-done'))) {
    rmSync(src, { recursive: true, force: true });
    makeSourceTree(src, { files: FILES, bytes: 2048 });
    writeFileSync(join(CACHE, 'src-done'), `${FILES}\n`);
  }
  const big = join(CACHE, `repo-${Math.max(...SIZES)}`);
  if (!existsSync(join(big, 'config'))) resticRun(big, ['init']);
  let n = snapshotCount(big);
  const t0 = Date.now();
  for (const size of SIZES) {
    while (n < size) {
      backupOnce(big, src, n);
      n++;
      if (n % 25 === 0)
        process.stderr.write(`built ${n} snapshots (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
    }
    const copy = join(CACHE, `repo-${size}`);
    if (copy !== big && !existsSync(join(copy, 'config'))) cpSync(big, copy, { recursive: true });
  }
}

function writeConfig(dir: string, repo: string): string {
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'resticprom.yaml');
  writeFileSync(
    config,
    `restic-binary: ${restic?.bin}
state-dir: ${join(dir, 'state')}
hostname: bench
profiles:
  nfs:
    repository: ${repo}
    password-file: ${join(CACHE, 'password')}
    env: { RESTIC_CACHE_DIR: ${join(CACHE, 'restic-cache')} }
    paths: [${join(CACHE, 'src')}]
    tiers:
      daily: { schedule: "30 1 * * *" }
      weekly: { schedule: "0 3 * * 0" }
    metrics:
      textfile: ${join(dir, 'stats.prom')}
`,
    { mode: 0o600 },
  );
  return config;
}

async function timeMs(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const r = await runTimed(cmd, args, { env });
  if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.exitCode}: ${r.stderr}`);
  return r.ms;
}

async function main(): Promise<void> {
  process.stderr.write(`restic ${restic?.version} (${restic?.bin}); building the repositories in ${CACHE}\n`);
  buildRepos();
  if (hasFlag('build-only')) return;
  ensureBuilt();
  const rows: string[][] = [];
  for (const size of SIZES) {
    // A copy per measurement, so the added backup does not change the cached repository.
    const work = join(OUT_DIR, `stats-run-${size}`);
    rmSync(work, { recursive: true, force: true });
    const repo = join(work, 'repo');
    cpSync(join(CACHE, `repo-${size}`), repo, { recursive: true });
    const env = resticEnv(repo);
    const exporter: number[] = [];
    const cold: number[] = [];
    const warm: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      exporter.push(
        await timeMs(restic?.bin ?? 'restic', ['stats', '--mode', 'restore-size', '--json'], env),
      );
      const config = writeConfig(join(work, `run-${r}`), repo);
      cold.push(await timeMs(process.execPath, [CLI, 'stats', '--config', config, '--quiet'], env));
      warm.push(await timeMs(process.execPath, [CLI, 'stats', '--config', config, '--quiet'], env));
    }
    backupOnce(repo, join(CACHE, 'src'), size);
    const config = writeConfig(join(work, 'run-0'), repo);
    const afterNew = await timeMs(process.execPath, [CLI, 'stats', '--config', config, '--quiet'], env);
    const exporterNew = await timeMs(
      restic?.bin ?? 'restic',
      ['stats', '--mode', 'restore-size', '--json'],
      env,
    );
    const e = median(exporter);
    const w = median(warm);
    rows.push([
      String(size),
      fmt(e / 1000, 2),
      fmt(median(cold) / 1000, 2),
      fmt(w / 1000, 2),
      fmt(afterNew / 1000, 2),
      fmt(exporterNew / 1000, 2),
      `${fmt(e / w, 1)}x`,
    ]);
    rmSync(work, { recursive: true, force: true });
  }
  console.log(
    `\nrepository stats, ${FILES} files per snapshot, restic ${restic?.version}; ${describeMachine()}; ${describeLoad()}`,
  );
  printTable(
    [
      'snapshots',
      'restic stats restore-size (s)',
      'resticprom stats, cold (s)',
      'resticprom stats, cached (s)',
      'resticprom, +1 snapshot (s)',
      'restic restore-size, +1 (s)',
      'speed-up (cached)',
    ],
    rows,
  );
  console.log(`\nrerun: npx tsx bench/stats.ts --files ${FILES} --runs ${RUNS} --sizes ${SIZES.join(',')}`);
}

await main();
