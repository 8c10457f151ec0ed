/**
 * Start-up: `resticprom --version` and `resticprom push` of a small file to a live Pushgateway,
 * median wall time against `node -e 0` on the same machine. Uses hyperfine when installed,
 * else its own interleaved loop. With `--profile` it also prints the CPU profile of
 * `--version` by file (which modules load and compile at start-up). Asserts nothing.
 *
 * Run: npx tsx bench/startup.ts [--runs 30] [--profile] [--no-hyperfine]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, startPushgateway } from '../test/helpers/services.js';
import {
  argNumber,
  CLI,
  describeLoad,
  describeMachine,
  ensureBuilt,
  fmt,
  hasFlag,
  median,
  mib,
  printTable,
  quantile,
  ROOT,
  runTimed,
} from './lib.js';

const RUNS = argNumber('runs', 30);

function hasHyperfine(): boolean {
  return !hasFlag('no-hyperfine') && spawnSync('hyperfine', ['--version']).status === 0;
}

/** Self time by file of a V8 .cpuprofile, ms, largest first. */
function profileByFile(file: string): Array<[string, number]> {
  const p = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: Array<{ id: number; callFrame: { url: string; functionName: string } }>;
    samples: number[];
    timeDeltas: number[];
  };
  const dt = new Map<number, number>();
  for (const [i, id] of p.samples.entries()) dt.set(id, (dt.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  const byUrl = new Map<string, number>();
  for (const n of p.nodes) {
    const url = (n.callFrame.url || `(${n.callFrame.functionName})`)
      .replace(/^file:\/\//, '')
      .replace(`${ROOT}/`, '');
    byUrl.set(url, (byUrl.get(url) ?? 0) + (dt.get(n.id) ?? 0) / 1000);
  }
  return [...byUrl].sort((a, b) => b[1] - a[1]);
}

ensureBuilt();
const loadBefore = describeLoad();
const tmp = makeTempDir('resticprom-bench-startup-');
const gw = await startPushgateway();
try {
  const metrics = join(tmp.dir, 'small.prom');
  writeFileSync(
    metrics,
    '# HELP restic_backup_time How long the backup took\n# TYPE restic_backup_time gauge\nrestic_backup_time 42\n' +
      '# HELP restic_backup_processed_files How many files where processed\n# TYPE restic_backup_processed_files gauge\nrestic_backup_processed_files 1234\n',
  );
  const state = join(tmp.dir, 'state');
  mkdirSync(state);
  const cases: Array<{ name: string; argv: string[] }> = [
    { name: 'node -e 0', argv: [process.execPath, '-e', '0'] },
    { name: 'resticprom --version', argv: [process.execPath, CLI, '--version'] },
    {
      name: 'resticprom push (small file, live gateway)',
      argv: [
        process.execPath,
        CLI,
        'push',
        '--gateway',
        gw.url,
        '--job',
        'bench_startup',
        '--group',
        'instance=startup',
        '--state-dir',
        state,
        '--quiet',
        metrics,
      ],
    },
  ];

  const rows: Array<{ name: string; median: number; p90: number; rss: number }> = [];
  let method: string;
  if (hasHyperfine()) {
    method = `hyperfine ${execFileSync('hyperfine', ['--version'], { encoding: 'utf8' }).trim()}, ${RUNS} runs after 3 warm-ups, -N (no shell)`;
    const json = join(tmp.dir, 'hf.json');
    execFileSync(
      'hyperfine',
      [
        '-N',
        '--warmup',
        '3',
        '--runs',
        String(RUNS),
        '--export-json',
        json,
        ...cases.map((c) => c.argv.map((a) => (/[\s'"]/.test(a) ? `'${a}'` : a)).join(' ')),
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const res = JSON.parse(readFileSync(json, 'utf8')) as { results: Array<{ times: number[] }> };
    for (const [k, c] of cases.entries()) {
      const times = (res.results[k]?.times ?? []).map((s) => s * 1000);
      const t = await runTimed(c.argv[0] as string, c.argv.slice(1));
      rows.push({ name: c.name, median: median(times), p90: quantile(times, 0.9), rss: t.maxRssKiB });
    }
  } else {
    method = `own loop: ${RUNS} interleaved runs after 3 warm-ups (hyperfine not installed)`;
    const samples = cases.map(() => [] as number[]);
    const rss = cases.map(() => 0);
    for (let i = 0; i < RUNS + 3; i++) {
      for (const [k, c] of cases.entries()) {
        const t = await runTimed(c.argv[0] as string, c.argv.slice(1));
        if (t.exitCode !== 0) throw new Error(`${c.name} exited ${t.exitCode}: ${t.stderr.trim()}`);
        if (i >= 3) samples[k]?.push(t.ms);
        rss[k] = Math.max(rss[k] ?? 0, t.maxRssKiB);
      }
    }
    for (const [k, c] of cases.entries()) {
      const ms = samples[k] ?? [];
      rows.push({ name: c.name, median: median(ms), p90: quantile(ms, 0.9), rss: rss[k] ?? Number.NaN });
    }
  }

  const base = rows[0]?.median ?? Number.NaN;
  console.log(`Machine: ${describeMachine()}`);
  console.log(`Load: before ${loadBefore}; after ${describeLoad()}`);
  console.log(`Method: ${method}; gateway ${gw.url}\n`);
  printTable(
    ['command', 'median ms', 'p90 ms', '+ms over node -e 0', 'ratio', 'peak RSS MiB'],
    rows.map((r, k) => [
      r.name,
      fmt(r.median),
      fmt(r.p90),
      k === 0 ? '-' : fmt(r.median - base),
      fmt(r.median / base, 2),
      mib(r.rss),
    ]),
  );
  const version = rows[1];
  if (version) {
    const extra = version.median - base;
    console.log(
      `\n--version costs ${fmt(extra)} ms more than node -e 0 (goal: <= 40 ms: ${extra <= 40 ? 'met' : 'NOT met'})`,
    );
  }

  if (hasFlag('profile')) {
    const dir = join(tmp.dir, 'prof');
    execFileSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, CLI, '--version'], {
      stdio: 'ignore',
    });
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (file) {
      console.log('\nCPU profile of `resticprom --version`, self time by file (top 12):');
      printTable(
        ['file', 'ms'],
        profileByFile(join(dir, file))
          .slice(0, 12)
          .map(([u, ms]) => [u, fmt(ms)]),
      );
    }
  }
  console.log('\nRerun: npx tsx bench/startup.ts [--runs N] [--profile] [--no-hyperfine]');
} finally {
  await gw.stop();
  tmp.cleanup();
}
