/**
 * Start-up of the single executable (`npm run build:sea`, dist/sea/resticprom) side by side
 * with `node dist/bin/resticprom.js` and `node -e 0`: `--version` and `config validate` (which
 * loads yaml, zod and the schema, i.e. a large part of the bundle), median and p90 wall time
 * of interleaved runs, peak RSS, and the files' sizes. The executable is measured with V8's
 * code cache (`useCodeCache: true`, as sea-config.json builds it) and without (a second build
 * into a temporary folder). Asserts nothing.
 *
 * Run: npx tsx bench/sea-startup.ts [--runs 30]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from '../test/helpers/services.js';
import {
  argNumber,
  CLI,
  describeLoad,
  describeMachine,
  ensureBuilt,
  fmt,
  median,
  mib,
  printTable,
  quantile,
  ROOT,
  runTimed,
  writeBenchConfig,
} from './lib.js';

const RUNS = argNumber('runs', 30);
const SEA = join(ROOT, 'dist', 'sea', 'resticprom');

ensureBuilt();
const tmp = makeTempDir('resticprom-bench-sea-');
const SEA_NO_CACHE_DIR = join(tmp.dir, 'sea-no-code-cache');
const SEA_NO_CACHE = join(SEA_NO_CACHE_DIR, 'resticprom');
try {
  console.error('building dist/sea/resticprom and a copy without code cache ...');
  execFileSync('npm', ['run', '--silent', 'build:sea'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  execFileSync(
    process.execPath,
    ['scripts/build.mjs', '--sea', '--out', SEA_NO_CACHE_DIR, '--no-code-cache'],
    {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const loadBefore = describeLoad();
  // The gateway is not contacted by `config validate`.
  const { config } = writeBenchConfig(tmp.dir, 'http://127.0.0.1:9');
  const validate = ['config', 'validate', '--config', config];
  const cases: Array<{ name: string; cmd: string; args: string[] }> = [
    { name: 'node -e 0', cmd: process.execPath, args: ['-e', '0'] },
    { name: 'node dist/bin/resticprom.js --version', cmd: process.execPath, args: [CLI, '--version'] },
    { name: 'dist/sea/resticprom --version (code cache)', cmd: SEA, args: ['--version'] },
    { name: 'sea without code cache --version', cmd: SEA_NO_CACHE, args: ['--version'] },
    { name: 'node dist/bin/resticprom.js config validate', cmd: process.execPath, args: [CLI, ...validate] },
    { name: 'dist/sea/resticprom config validate (code cache)', cmd: SEA, args: validate },
    { name: 'sea without code cache config validate', cmd: SEA_NO_CACHE, args: validate },
  ];
  const samples = cases.map(() => [] as number[]);
  const rss = cases.map(() => 0);
  for (let i = 0; i < RUNS + 3; i++) {
    for (const [k, c] of cases.entries()) {
      const t = await runTimed(c.cmd, c.args, { cwd: tmp.dir });
      if (t.exitCode !== 0) throw new Error(`${c.name} exited ${t.exitCode}: ${t.stderr.trim()}`);
      if (i >= 3) samples[k]?.push(t.ms);
      rss[k] = Math.max(rss[k] ?? 0, t.maxRssKiB);
    }
  }
  const base = median(samples[0] ?? []);
  console.log(`Machine: ${describeMachine()}`);
  console.log(`Load: before ${loadBefore}; after ${describeLoad()}`);
  console.log(`Method: ${RUNS} interleaved runs after 3 warm-ups\n`);
  printTable(
    ['command', 'median ms', 'p90 ms', '+ms over node -e 0', 'peak RSS MiB'],
    cases.map((c, k) => [
      c.name,
      fmt(median(samples[k] ?? [])),
      fmt(quantile(samples[k] ?? [], 0.9)),
      k === 0 ? '-' : fmt(median(samples[k] ?? []) - base),
      mib(rss[k] ?? Number.NaN),
    ]),
  );
  const size = (p: string) => (existsSync(p) ? fmt(statSync(p).size / 1024 / 1024) : 'n/a');
  console.log(
    `\nSizes (MiB): node ${size(process.execPath)}, dist/sea/resticprom ${size(SEA)} (bundle ${size(join(ROOT, 'dist', 'sea', 'resticprom.cjs'))}), without code cache ${size(SEA_NO_CACHE)}`,
  );
  console.log('\nRerun: npx tsx bench/sea-startup.ts [--runs N]');
} finally {
  tmp.cleanup();
}
