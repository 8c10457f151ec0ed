/**
 * Overhead per backup run: `resticprom backup` against the seed's method (bench/seed-backup.sh:
 * restic to output.txt, eight jq passes, nine gauges, one curl POST). Both run the same fake
 * restic replaying a captured `restic backup --json -vv` output (restic 0.14.0) and push to the
 * same live Pushgateway (Debian's prometheus-pushgateway on a free loopback port). The fake
 * restic alone is the baseline, so "added" = total - baseline. resticprom runs with the
 * validated config cache cold (its file removed before the run: full validation) and warm, and
 * once more with its code cache cold too (a command's first run after an install or upgrade;
 * the code cache is kept in the run's temporary folder, RESTICPROM_CODE_CACHE).
 * The floor is `node -e 0`'s start plus the fsyncs the crash-safety protocol needs
 * (bench/fsync-floor.mjs). Runs are interleaved. Prints medians and peak RSS; asserts nothing.
 *
 * Run: npx tsx bench/overhead.ts [--runs 20] [--fixture test/fixtures/restic/0.14.0/backup-success.jsonl]
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { makeTempDir, startPushgateway } from '../test/helpers/services.js';
import {
  argNumber,
  type BenchCase,
  CLI,
  describeLoad,
  describeMachine,
  ensureBuilt,
  fmt,
  GNU_TIME,
  median,
  mib,
  printTable,
  quantile,
  ROOT,
  runInterleaved,
  runTimed,
  writeBenchConfig,
} from './lib.js';

const RUNS = argNumber('runs', 20);
const fixtureArg = process.argv.indexOf('--fixture');
const FIXTURE = resolve(
  ROOT,
  fixtureArg > 0
    ? (process.argv[fixtureArg + 1] as string)
    : 'test/fixtures/restic/0.14.0/backup-success.jsonl',
);
const SEED = join(ROOT, 'bench', 'seed-backup.sh');

ensureBuilt();
const loadBefore = describeLoad();
const tmp = makeTempDir('resticprom-bench-overhead-');
const gw = await startPushgateway();
try {
  const { config, restic } = writeBenchConfig(tmp.dir, gw.url);
  const env = { ...process.env, FAKE_RESTIC_STDOUT: FIXTURE };
  const cacheDir = join(tmp.dir, 'state', 'cache');
  // The CLI's code cache (docs/operations.md), here rather than in the user's cache folder.
  const codeCacheDir = join(tmp.dir, 'code-cache');
  const backup = () =>
    runTimed(process.execPath, [CLI, 'backup', '--config', config, '--tier', 'daily', '--quiet'], {
      env: { ...env, RESTICPROM_CONFIG: config, RESTICPROM_CODE_CACHE: codeCacheDir },
      ownPeak: true,
    });
  const cases: BenchCase[] = [
    {
      name: 'fake restic alone (baseline)',
      run: () =>
        runTimed(restic, ['backup', '--json', '--tag', 'daily', '/srv/nfs'], {
          env: { ...env, GOMAXPROCS: '1' },
        }),
    },
    {
      name: 'floor: node -e 0 + 3 fsyncs (no latest metrics)',
      run: () => runTimed(process.execPath, [join(ROOT, 'bench', 'fsync-floor.mjs'), join(tmp.dir, 'floor')]),
    },
    {
      name: "floor: node -e 0 + the protocol's 5 fsyncs",
      run: () =>
        runTimed(process.execPath, [
          join(ROOT, 'bench', 'fsync-floor.mjs'),
          join(tmp.dir, 'floor'),
          '--latest',
        ]),
    },
    {
      name: 'seed method (bash, 8x jq, curl)',
      run: () =>
        runTimed('bash', [SEED, 'daily'], {
          env: { ...env, RESTIC: restic, GATEWAY: gw.url, WORKDIR: tmp.dir },
        }),
    },
    {
      name: 'resticprom backup, config and code caches cold (first run)',
      run: () => {
        rmSync(cacheDir, { recursive: true, force: true });
        rmSync(codeCacheDir, { recursive: true, force: true });
        return backup();
      },
    },
    {
      name: 'resticprom backup, config cache cold',
      run: () => {
        rmSync(cacheDir, { recursive: true, force: true });
        return backup();
      },
    },
    { name: 'resticprom backup, config cache warm', run: backup },
  ];
  // Warm-up: page cache, the gateway's first request, the state directory's first files.
  const samples = await runInterleaved(cases, RUNS, 2);

  // Show that both sides delivered: the seed's gauge as the gateway holds it now.
  const exposed = await (await fetch(`${gw.url}/metrics`)).text();
  const seen = exposed
    .split('\n')
    .filter((l) => l.startsWith('restic_backup_processed_files{') || l.startsWith('restic_backup_status{'));

  const base = median(samples[0]?.map((t) => t.ms) ?? []);
  const baseCpu = median(samples[0]?.map((t) => t.cpuMs) ?? []);
  const rows = cases.map((c, k) => {
    const ms = samples[k]?.map((t) => t.ms) ?? [];
    const total = median(ms);
    const rss = Math.max(...(samples[k]?.map((t) => t.maxRssKiB) ?? []));
    const own = Math.max(...(samples[k]?.map((t) => t.ownPeakKiB) ?? []));
    const cpu = median(samples[k]?.map((t) => t.cpuMs) ?? []);
    // The floors run no restic: all of their time is what a run adds at least.
    const isFloor = c.name.startsWith('floor:');
    return {
      name: c.name,
      total,
      p90: quantile(ms, 0.9),
      added: isFloor ? total : total - base,
      cpu,
      cpuAdded: isFloor ? cpu : cpu - baseCpu,
      rss,
      own,
    };
  });
  const row = (name: string) => rows.find((r) => r.name === name);
  // The protocol's floor: a run fsyncs its latest metrics, its outbox entry and the history (5).
  const floor = row("floor: node -e 0 + the protocol's 5 fsyncs");
  const seed = row('seed method (bash, 8x jq, curl)');
  const first = row('resticprom backup, config and code caches cold (first run)');
  const cold = row('resticprom backup, config cache cold');
  const warm = row('resticprom backup, config cache warm');
  console.log(`Machine: ${describeMachine()}`);
  console.log(`Load: before ${loadBefore}; after ${describeLoad()}`);
  console.log(
    `Fixture: ${FIXTURE.replace(`${ROOT}/`, '')} (${execFileSync('wc', ['-l', FIXTURE], { encoding: 'utf8' }).trim().split(' ')[0]} lines), gateway ${gw.url}, ${RUNS} interleaved runs each after 2 warm-ups`,
  );
  console.log(
    `Peak RSS: ${GNU_TIME ? "tree = GNU time %M (ru_maxrss, the largest single process of the tree); own = resticprom's process alone (VmHWM)" : 'n/a (install Debian package `time`)'}\n`,
  );
  printTable(
    [
      '',
      'wall median ms',
      'p90 ms',
      'added wall ms',
      'CPU ms (user+sys)',
      'added CPU ms',
      'peak RSS MiB tree',
      'own',
    ],
    rows.map((r, k) => [
      r.name,
      fmt(r.total),
      fmt(r.p90),
      k === 0 ? '-' : fmt(r.added),
      fmt(r.cpu),
      k === 0 ? '-' : fmt(r.cpuAdded),
      mib(r.rss),
      mib(r.own),
    ]),
  );
  if (seed && cold && warm && floor) {
    const ratio = warm.added / seed.added;
    const cpuRatio = warm.cpuAdded / seed.cpuAdded;
    console.log(
      `\nresticprom added wall time / seed added wall time: warm cache ${fmt(ratio, 2)} (goal: <= 0.50: ${ratio <= 0.5 ? 'met' : 'NOT met'}), cold cache ${fmt(cold.added / seed.added, 2)}${first ? `, first run ${fmt(first.added / seed.added, 2)}` : ''}`,
    );
    console.log(
      `resticprom added CPU time / seed added CPU time: warm cache ${fmt(cpuRatio, 2)} (goal: <= 0.50: ${cpuRatio <= 0.5 ? 'met' : 'NOT met'}), cold cache ${fmt(cold.cpuAdded / seed.cpuAdded, 2)}`,
    );
    console.log(
      `warm resticprom added time - floor: ${fmt(warm.added - floor.added)} ms wall (${fmt(warm.added / floor.added, 2)}x the floor), ${fmt(warm.cpuAdded - floor.cpuAdded)} ms CPU (${fmt(warm.cpuAdded / floor.cpuAdded, 2)}x)`,
    );
    console.log(
      `resticprom total / seed total: warm ${fmt(warm.total / seed.total, 2)}, cold ${fmt(cold.total / seed.total, 2)}`,
    );
  }
  console.log('\nOn the gateway afterwards:');
  for (const l of seen) console.log(`  ${l}`);
  console.log('\nRerun: npx tsx bench/overhead.ts [--runs N] [--fixture FILE]');
} finally {
  await gw.stop();
  tmp.cleanup();
}
