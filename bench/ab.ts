/**
 * A/B of two builds of the CLI on the warm backup run of bench/overhead.ts: `resticprom backup`
 * of build A and of build B, interleaved, each with its own state directory and code cache
 * (both warm after the warm-ups), the same fake restic replaying the 9-line restic 0.14
 * capture and the same live Pushgateway. Prints the medians and each build's added time over
 * the fake restic alone. For measuring one change: keep the build from before it
 * (`cp -r dist/bin /tmp/before` before rebuilding, or a `git worktree` of the older commit and
 * `npm run build` there), then compare. Asserts nothing.
 *
 * Run: npx tsx bench/ab.ts --a /tmp/before [--b dist/bin] [--runs 20]
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { makeTempDir, startPushgateway } from '../test/helpers/services.js';
import {
  argNumber,
  type BenchCase,
  describeLoad,
  describeMachine,
  fmt,
  median,
  mib,
  printTable,
  ROOT,
  runInterleaved,
  runTimed,
  writeBenchConfig,
} from './lib.js';

const RUNS = argNumber('runs', 20);
const argPath = (name: string, fallback?: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i > 0 ? process.argv[i + 1] : fallback;
  if (!v) throw new Error(`--${name} DIR is required (a dist/bin folder with resticprom.js)`);
  const bin = join(resolve(ROOT, v), 'resticprom.js');
  if (!existsSync(bin)) throw new Error(`--${name}: ${bin} does not exist`);
  return bin;
};
const builds = [
  { name: 'A', bin: argPath('a') },
  { name: 'B', bin: argPath('b', 'dist/bin') },
];
const FIXTURE = join(ROOT, 'test', 'fixtures', 'restic', '0.14.0', 'backup-success.jsonl');

const loadBefore = describeLoad();
const tmp = makeTempDir('resticprom-bench-ab-');
const gw = await startPushgateway();
try {
  const env = { ...process.env, FAKE_RESTIC_STDOUT: FIXTURE };
  const cases: BenchCase[] = [];
  let restic = '';
  for (const b of builds) {
    const dir = join(tmp.dir, b.name);
    mkdirSync(dir);
    const written = writeBenchConfig(dir, gw.url);
    restic = written.restic;
    cases.push({
      name: `${b.name}: ${b.bin.replace(`${ROOT}/`, '')} backup`,
      run: () =>
        runTimed(
          process.execPath,
          [b.bin, 'backup', '--config', written.config, '--tier', 'daily', '--quiet'],
          {
            env: { ...env, RESTICPROM_CODE_CACHE: join(tmp.dir, `code-cache-${b.name}`) },
            ownPeak: true,
          },
        ),
    });
  }
  cases.unshift({
    name: 'fake restic alone (baseline)',
    run: () => runTimed(restic, ['backup', '--json', '--tag', 'daily', '/srv/nfs'], { env }),
  });
  // Warm-up: the state directories, the config caches, the code caches, the page cache.
  const samples = await runInterleaved(cases, RUNS, 3);
  const base = median(samples[0]?.map((t) => t.ms) ?? []);
  const baseCpu = median(samples[0]?.map((t) => t.cpuMs) ?? []);
  const rows = cases.map((c, k) => {
    const s = samples[k] ?? [];
    const wall = median(s.map((t) => t.ms));
    const cpu = median(s.map((t) => t.cpuMs));
    return {
      name: c.name,
      wall,
      cpu,
      added: wall - base,
      cpuAdded: cpu - baseCpu,
      own: Math.max(...s.map((t) => t.ownPeakKiB)),
    };
  });
  console.log(`Machine: ${describeMachine()}`);
  console.log(`Load: before ${loadBefore}; after ${describeLoad()}`);
  console.log(`${RUNS} interleaved runs each after 3 warm-ups, gateway ${gw.url}\n`);
  printTable(
    ['', 'wall median ms', 'added wall ms', 'CPU ms', 'added CPU ms', 'own peak RSS MiB'],
    rows.map((r, k) => [
      r.name,
      fmt(r.wall),
      k === 0 ? '-' : fmt(r.added),
      fmt(r.cpu),
      k === 0 ? '-' : fmt(r.cpuAdded),
      k === 0 ? 'n/a' : mib(r.own),
    ]),
  );
  const [, a, b] = rows;
  if (a && b) {
    console.log(
      `\nB - A: ${fmt(b.added - a.added)} ms added wall (${fmt((100 * (b.added - a.added)) / a.added)}%), ${fmt(b.cpuAdded - a.cpuAdded)} ms added CPU`,
    );
  }
  console.log('\nRerun: npx tsx bench/ab.ts --a DIR [--b dist/bin] [--runs N]');
} finally {
  await gw.stop();
  tmp.cleanup();
}
