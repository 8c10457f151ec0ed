/**
 * Start-up: `resticprom --version`, `status`, `config validate`, `backup` (the fake restic
 * replaying a 9-line capture, a live Pushgateway, the validated config cache warm) and `push`
 * of a small file, median wall time against `node -e 0` and the fake restic alone on the same
 * machine. Uses hyperfine when installed, else its own interleaved loop. With `--profile` it
 * also prints, per command, the modules it loads (the bundle's chunks it opens, by `strace`
 * when installed, else those in its CPU profile, mapped to their sources by the chunks'
 * source maps) and its CPU profile's self time by package. Asserts nothing.
 *
 * Run: npx tsx bench/startup.ts [--runs 30] [--profile] [--no-hyperfine]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
  writeBenchConfig,
} from './lib.js';

const RUNS = argNumber('runs', 30);

function hasHyperfine(): boolean {
  return !hasFlag('no-hyperfine') && spawnSync('hyperfine', ['--version']).status === 0;
}

/** The CLI's vendor files (scripts/build.mjs: the heavy packages, each group in its own file). */
const VENDOR = join(ROOT, 'dist', 'bin', 'vendor');

/** What a source path of a chunk's source map belongs to: `zod`, `src/config/schema.ts`... */
function sourceName(source: string): string {
  const nm = source.split('node_modules/');
  if (nm.length > 1) {
    const parts = (nm.at(-1) as string).split('/');
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] as string);
  }
  return source.replace(/^(\.\.\/)+/, '');
}

/** The sources of a chunk file of dist/bin (from its source map). */
function chunkSources(file: string): string[] {
  const map = `${file}.map`;
  if (!existsSync(map)) return [];
  return [
    ...new Set((JSON.parse(readFileSync(map, 'utf8')) as { sources: string[] }).sources.map(sourceName)),
  ];
}

/** Sources a run served from the cache must not load: schemas, yaml, zod, templates, web code. */
const UNWANTED =
  /^(zod|yaml|@grafana\/.*|protobufjs|src\/config\/(schema|load|normalize|checks|starter)\.ts|src\/web\/.*|src\/deploy\/.*)$/;

/** The bundle files a command opens, by strace (exact) or, without it, its CPU profile. */
function loadedChunks(argv: string[], env: NodeJS.ProcessEnv, profileFile: string): string[] {
  const fromProfile = () => {
    const p = JSON.parse(readFileSync(profileFile, 'utf8')) as {
      nodes: Array<{ callFrame: { url: string } }>;
    };
    return [...new Set(p.nodes.map((n) => n.callFrame.url.replace(/^file:\/\//, '')))];
  };
  const trace = `${profileFile}.strace`;
  const st = spawnSync('strace', ['-f', '-e', 'trace=openat', '-o', trace, ...argv], {
    env,
    stdio: 'ignore',
  });
  const files =
    st.error || !existsSync(trace)
      ? fromProfile()
      : [...readFileSync(trace, 'utf8').matchAll(/openat\([^"]*"([^"]+)"/g)].map((m) => m[1] as string);
  return [...new Set(files.filter((f) => f.startsWith(join(ROOT, 'dist', 'bin')) && f.endsWith('.js')))];
}

/** Self time by package of a V8 .cpuprofile, ms, largest first. */
function profileByPackage(file: string): Array<[string, number]> {
  const p = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: Array<{ id: number; callFrame: { url: string; functionName: string } }>;
    samples: number[];
    timeDeltas: number[];
  };
  const dt = new Map<number, number>();
  for (const [i, id] of p.samples.entries()) dt.set(id, (dt.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  const byChunk = new Map<string, string>();
  const byUrl = new Map<string, number>();
  for (const n of p.nodes) {
    let url = (n.callFrame.url || `(${n.callFrame.functionName})`).replace(/^file:\/\//, '');
    if (url.startsWith(VENDOR) || /dist\/bin\/(cli|resticprom)\.js$/.test(url)) {
      // A bundle file mixes modules; name it after its first package, or our folder.
      if (!byChunk.has(url)) {
        const src = chunkSources(url);
        const pkg =
          src.find((x) => !x.startsWith('src/')) ?? src[0]?.split('/').slice(0, 2).join('/') ?? 'resticprom';
        byChunk.set(url, `chunk: ${pkg}${src.length > 1 ? ` +${src.length - 1}` : ''}`);
      }
      url = byChunk.get(url) as string;
    } else if (url.startsWith('node:')) url = 'node internals';
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
  const { config, restic } = writeBenchConfig(tmp.dir, gw.url);
  const fixture = join(ROOT, 'test', 'fixtures', 'restic', '0.14.0', 'backup-success.jsonl');
  process.env.FAKE_RESTIC_STDOUT = fixture;
  // The CLI's code cache (docs/operations.md) in the run's folder; the warm-ups fill it.
  process.env.RESTICPROM_CODE_CACHE = join(tmp.dir, 'code-cache');
  const cli = (...args: string[]) => [process.execPath, CLI, ...args];
  const cases: Array<{ name: string; argv: string[]; isOurs?: boolean }> = [
    { name: 'node -e 0', argv: [process.execPath, '-e', '0'] },
    {
      name: 'fake restic alone (backup of the 9-line capture)',
      argv: [restic, 'backup', '--json', '/srv/nfs'],
    },
    { name: 'resticprom --version', argv: cli('--version'), isOurs: true },
    { name: 'resticprom status (config cache warm)', argv: cli('status', '--config', config), isOurs: true },
    { name: 'resticprom config validate', argv: cli('config', 'validate', '--config', config), isOurs: true },
    {
      name: 'resticprom backup (config cache warm, live gateway)',
      argv: cli('backup', '--config', config, '--tier', 'daily', '--quiet'),
      isOurs: true,
    },
    {
      name: 'resticprom push (small file, live gateway)',
      argv: cli(
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
      ),
      isOurs: true,
    },
  ];
  // Two backups: the first creates the state directory, the second stores the validated config.
  for (let i = 0; i < 2; i++) execFileSync(cases[5]?.argv[0] as string, cases[5]?.argv.slice(1) ?? []);

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
        // status exits 4 (UNHEALTHY) when a tier is late; the bench's tier ran just now.
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
  const version = rows.find((r) => r.name === 'resticprom --version');
  if (version) {
    const extra = version.median - base;
    console.log(
      `\n--version costs ${fmt(extra)} ms more than node -e 0 (goal: <= 40 ms: ${extra <= 40 ? 'met' : 'NOT met'})`,
    );
  }

  if (hasFlag('profile')) {
    console.log(
      '\nFiles each command loads: the CLI file (our modules, commander, croner: each module runs only when first imported) and the vendor files it opens, mapped to their packages; "unwanted" are yaml, zod, template and web packages:',
    );
    const loadRows: string[][] = [];
    const profiles: Array<[string, Array<[string, number]>]> = [];
    for (const c of cases.filter((x) => x.isOurs)) {
      const dir = join(tmp.dir, 'prof');
      rmSync(dir, { recursive: true, force: true });
      execFileSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, ...c.argv.slice(1)], {
        stdio: 'ignore',
      });
      const file = join(dir, readdirSync(dir).find((f) => f.endsWith('.cpuprofile')) as string);
      const chunks = loadedChunks(c.argv, process.env, file);
      const kib = chunks.reduce((sum, f) => sum + readFileSync(f).length, 0) / 1024;
      const vendorFiles = chunks.filter((f) => f.startsWith(VENDOR));
      const packages = [...new Set(vendorFiles.flatMap((f) => chunkSources(f)))].filter(
        (x) => !x.startsWith('src/'),
      );
      const unwanted = packages.filter((x) => UNWANTED.test(x));
      loadRows.push([
        c.name.replace(/^resticprom /, '').replace(/ \(.*$/, ''),
        String(chunks.length),
        fmt(kib, 0),
        vendorFiles.map((f) => f.slice(VENDOR.length + 1)).join(' ') || '-',
        packages.join(' ') || '-',
        unwanted.join(' ') || 'none',
      ]);
      profiles.push([c.name, profileByPackage(file)]);
    }
    printTable(['command', 'files', 'KiB', 'vendor files', 'packages in them', 'unwanted'], loadRows);
    for (const [name, byPkg] of profiles) {
      console.log(`\nCPU profile of \`${name}\`, self time by package (top 8):`);
      printTable(
        ['package', 'ms'],
        byPkg.slice(0, 8).map(([u, ms]) => [u, fmt(ms)]),
      );
    }
  }
  console.log('\nRerun: npx tsx bench/startup.ts [--runs N] [--profile] [--no-hyperfine]');
} finally {
  await gw.stop();
  tmp.cleanup();
}
