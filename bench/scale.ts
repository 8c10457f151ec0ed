import { join } from 'node:path';
import { makeTempDir, startPushgateway } from '../test/helpers/services.js';
import { ensureVerboseStream } from './gen-vv.js';
import {
  argNumber,
  CLI,
  describeLoad,
  describeMachine,
  ensureBuilt,
  fmt,
  GNU_TIME,
  hasFlag,
  median,
  mib,
  printTable,
  ROOT,
  runTimed,
  type Timed,
  writeBenchConfig,
} from './lib.js';

const SIZES = [100_000, 1_000_000];

/**
 * The parser measurement, run by plain node (no tsx loader in the figures) against the built
 * library in dist/lib: argv is FILE MODE; prints one JSON line of figures.
 */
type ParseMode = 'stream' | 'stream-decode' | 'lines';
const PARSE_CHILD = `
import { createReadStream, readFileSync } from 'node:fs';
const lib = process.env.RESTICPROM_LIB;
const { createBackupParser } = await import(lib + '/restic/parse-backup.js');
const { LineSplitter } = await import(lib + '/restic/spawn.js');
const [file, mode] = process.argv.slice(1);
let progress = 0;
// What the CLI does: a progress callback, so status lines are parsed too.
const parser = createBackupParser({ onProgress: () => progress++ });
let lines = 0;
let ms;
if (mode === 'stream' || mode === 'stream-decode') {
  // 'stream' is what runBackup does: verbose item lines are counted from their bytes.
  const split = new LineSplitter(65536, (l) => parser.push(l, 'stdout'),
    mode === 'stream' ? parser.pushBytes : undefined);
  const t0 = performance.now();
  // 64 KiB chunks, as a child process's stdout pipe delivers them.
  for await (const chunk of createReadStream(file, { highWaterMark: 65536 })) split.push(chunk);
  split.end();
  ms = performance.now() - t0;
  lines = split.count;
} else {
  const all = readFileSync(file, 'utf8').split('\\n');
  all.pop();
  const t0 = performance.now();
  for (let rep = 0; rep < 10; rep++) for (const l of all) parser.push(l, 'stdout');
  ms = performance.now() - t0;
  lines = all.length * 10;
}
const r = parser.result();
console.log(JSON.stringify({ lines, ms, verbose: r.verboseLines, status: r.statusLines, progress,
  malformed: r.malformedLines, filesNew: r.summary?.filesNew }));
`;

await main();

async function main(): Promise<void> {
  const RUNS = argNumber('runs', 5);
  const SEED_RUNS = Math.min(RUNS, argNumber('seed-runs', 1));
  const onlyParser = hasFlag('only-parser');
  ensureBuilt();
  const loadBefore = describeLoad();
  const inputs = SIZES.map((n) => ({ n, ...ensureVerboseStream(n) }));

  // 1. The parser alone, each measurement in its own process (peak RSS of that process).
  const parserRows: string[][] = [];
  for (const inp of inputs) {
    const modes: Array<[ParseMode, string]> = [
      ['stream', 'file -> LineSplitter -> parser (byte path, as runBackup)'],
      ['stream-decode', 'file -> LineSplitter -> parser (every line decoded)'],
      ...(inp.n === 100_000
        ? [['lines', 'pre-split strings -> parser.push (x10)'] as [ParseMode, string]]
        : []),
    ];
    for (const [mode, label] of modes) {
      const figures: Array<{ lines: number; ms: number; malformed: number }> = [];
      let rss = 0;
      for (let i = 0; i < 3; i++) {
        const t = await runTimed(
          process.execPath,
          ['--input-type=module', '-e', PARSE_CHILD, inp.path, mode],
          { stdout: 'pipe', env: { ...process.env, RESTICPROM_LIB: join(ROOT, 'dist', 'lib') } },
        );
        if (t.exitCode !== 0) throw new Error(`parser child failed: ${t.stderr}`);
        figures.push(JSON.parse(t.stdout.trim().split('\n').at(-1) as string));
        rss = Math.max(rss, t.maxRssKiB);
      }
      const ms = median(figures.map((f) => f.ms));
      const lines = figures[0]?.lines ?? 0;
      const bytes = mode === 'lines' ? inp.bytes * 10 : inp.bytes;
      parserRows.push([
        `${inp.n.toLocaleString('en')} lines`,
        label,
        fmt(ms),
        fmt(lines / ms / 1000, 2),
        fmt(bytes / ms / 1000, 0),
        mib(rss),
      ]);
    }
  }

  // 2. End to end: fake restic -> resticprom backup / seed script / nothing.
  const e2eRows: string[][] = [];
  const summary: string[] = [];
  const ours: Array<{ n: number; ms: number }> = [];
  if (!onlyParser) {
    const tmp = makeTempDir('resticprom-bench-scale-');
    const gw = await startPushgateway();
    try {
      const { config, restic } = writeBenchConfig(tmp.dir, gw.url);
      // Two small runs first: one creates the state directory, the next stores the validated
      // config, so the measured runs are what every later run of an unchanged config is.
      const small = join(ROOT, 'test', 'fixtures', 'restic', '0.14.0', 'backup-success.jsonl');
      for (let i = 0; i < 2; i++) {
        await runTimed(process.execPath, [CLI, 'backup', '--config', config, '--tier', 'daily', '--quiet'], {
          env: { ...process.env, FAKE_RESTIC_STDOUT: small },
        });
      }
      for (const inp of inputs) {
        const env = { ...process.env, FAKE_RESTIC_STDOUT: inp.path };
        const cases: Array<{ name: string; run: () => Promise<Timed> }> = [
          {
            name: 'fake restic alone (baseline)',
            run: () => runTimed(restic, ['backup', '--json', '-vv', '/srv/nfs'], { env }),
          },
          {
            name: 'seed method (output.txt + 8x jq)',
            run: () =>
              runTimed('bash', [join(ROOT, 'bench', 'seed-backup.sh'), 'daily'], {
                env: { ...env, RESTIC: restic, GATEWAY: gw.url, WORKDIR: tmp.dir },
              }),
          },
          {
            name: 'resticprom backup',
            run: () =>
              runTimed(process.execPath, [CLI, 'backup', '--config', config, '--tier', 'daily', '--quiet'], {
                env,
                ownPeak: true,
              }),
          },
        ];
        const samples = cases.map(() => [] as Timed[]);
        for (let i = 0; i < RUNS; i++) {
          for (const [k, c] of cases.entries()) {
            // The seed's method takes ~30x longer; its figure does not need the repeats.
            if (k === 1 && i >= SEED_RUNS) continue;
            const t = await c.run();
            if (t.exitCode !== 0) throw new Error(`${c.name} exited ${t.exitCode}: ${t.stderr.trim()}`);
            samples[k]?.push(t);
          }
        }
        const base = median(samples[0]?.map((t) => t.ms) ?? []);
        const totals: number[] = [];
        for (const [k, c] of cases.entries()) {
          const ms = median(samples[k]?.map((t) => t.ms) ?? []);
          totals.push(ms);
          e2eRows.push([
            `${inp.n.toLocaleString('en')} lines`,
            c.name,
            fmt(ms),
            k === 0 ? '-' : fmt(ms - base),
            fmt(inp.n / ms / 1000, 2),
            fmt(inp.bytes / ms / 1000, 0),
            mib(Math.max(...(samples[k]?.map((t) => t.maxRssKiB) ?? []))),
            k === 2 ? mib(Math.max(...(samples[k]?.map((t) => t.ownPeakKiB) ?? []))) : '-',
          ]);
        }
        const [b, s, o] = totals as [number, number, number];
        ours.push({ n: inp.n, ms: o });
        summary.push(
          `${inp.n.toLocaleString('en')} lines: resticprom ${fmt(o / s, 2)}x the seed's wall time; added time ${fmt(o - b)} ms vs ${fmt(s - b)} ms (${fmt((o - b) / (s - b), 2)}x)`,
        );
      }
    } finally {
      await gw.stop();
      tmp.cleanup();
    }
  }

  console.log(`Machine: ${describeMachine()}`);
  console.log(`Load: before ${loadBefore}; after ${describeLoad()}`);
  for (const inp of inputs)
    console.log(`Input: ${inp.path.replace(`${ROOT}/`, '')}: ${inp.n} lines, ${fmt(inp.bytes / 1e6)} MB`);
  console.log(
    `Peak RSS: ${GNU_TIME ? 'GNU time %M (ru_maxrss): the largest single process of the tree (the fake restic, a node process reading the file, is one); resticprom process: its own VmHWM' : 'n/a (install Debian package `time`)'}\n`,
  );
  console.log(
    'Parser alone, in its own process (median of 3; the CLI passes onProgress, so status lines are parsed):',
  );
  printTable(['input', 'path', 'ms', 'M lines/s', 'MB/s', 'peak RSS MiB'], parserRows);
  if (!onlyParser) {
    console.log(
      `\nEnd to end through the fake restic (median of ${RUNS} interleaved runs; the seed's method ${SEED_RUNS}):`,
    );
    printTable(
      ['input', '', 'wall ms', 'added ms', 'M lines/s', 'MB/s', 'peak RSS MiB tree', 'resticprom process'],
      e2eRows,
    );
    console.log('');
    for (const s of summary) console.log(s);
    const [small, large] = ours;
    if (small && large) {
      const marginal = (large.n - small.n) / (large.ms - small.ms) / 1000;
      console.log(
        `resticprom marginal throughput (extra lines / extra wall time, ${small.n.toLocaleString('en')} -> ${large.n.toLocaleString('en')}): ${fmt(marginal, 2)} M lines/s`,
      );
    }
  }
  console.log('\nRerun: npx tsx bench/scale.ts [--runs N] [--seed-runs N] [--only-parser]');
}
