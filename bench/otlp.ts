/**
 * What the otlp destination costs a `resticprom push`: one CLI run per round pushing the
 * same ~30 series to the same live VictoriaMetrics (sid's 1.145, from the version matrix)
 * over OTLP (OpenTelemetry's serializer, loaded on demand) and over remote write (protobufjs
 * and snappy, the reference), interleaved. Prints medians and peak RSS; asserts nothing.
 *
 * Run: npx tsx bench/otlp.ts [--runs 15]
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { victoriaMetricsMatrix } from '../test/helpers/matrix.js';
import { makeTempDir, startVictoriaMetrics } from '../test/helpers/services.js';
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
  runTimed,
  type Timed,
} from './lib.js';

const RUNS = argNumber('runs', 15);
const vmBin = victoriaMetricsMatrix().find((v) => v.suite === 'sid');
if (!vmBin || vmBin.skip) {
  console.log(`no VictoriaMetrics with an OpenTelemetry endpoint: ${vmBin?.skip || 'not in the matrix'}`);
  process.exit(0);
}

ensureBuilt();
const loadBefore = describeLoad();
const tmp = makeTempDir('resticprom-bench-otlp-');
const vm = await startVictoriaMetrics({ bin: vmBin.bin });
try {
  const file = join(tmp.dir, 'metrics.prom');
  let text = '';
  for (let f = 0; f < 10; f++) {
    text += `# HELP bench_family_${f}_bytes Benchmark family ${f}\n# TYPE bench_family_${f}_bytes gauge\n`;
    for (let s = 0; s < 3; s++) text += `bench_family_${f}_bytes{shard="${s}"} ${f * 1000 + s}\n`;
  }
  writeFileSync(file, text);
  const push = (flag: string, url: string) => () =>
    runTimed(process.execPath, [
      CLI,
      'push',
      flag,
      url,
      '--job',
      'bench',
      '--group',
      'instance=bench',
      '--state-dir',
      join(tmp.dir, 'state'),
      '-q',
      file,
    ]);
  const cases = [
    { name: 'push --remote-write (reference)', run: push('--remote-write', `${vm.url}/api/v1/write`) },
    { name: 'push --otlp', run: push('--otlp', `${vm.url}/opentelemetry/v1/metrics`) },
  ];
  const results = cases.map(() => [] as Timed[]);
  for (const c of cases) await c.run(); // warm the page cache
  for (let i = 0; i < RUNS; i++) {
    for (const [k, c] of cases.entries()) {
      const t = await c.run();
      if (t.exitCode !== 0) throw new Error(`${c.name} exited ${t.exitCode}: ${t.stderr}`);
      results[k]?.push(t);
    }
  }
  const ref = median((results[0] ?? []).map((t) => t.ms));
  console.log(
    `otlp vs remote write, ${RUNS} interleaved runs each, ~30 series, VictoriaMetrics ${vmBin.version}`,
  );
  console.log(describeMachine());
  console.log(`load before: ${loadBefore}; after: ${describeLoad()}`);
  printTable(
    ['case', 'median ms', 'vs reference ms', 'peak RSS'],
    cases.map((c, k) => {
      const ms = median((results[k] ?? []).map((t) => t.ms));
      const rss = median((results[k] ?? []).map((t) => t.maxRssKiB));
      return [c.name, fmt(ms), k === 0 ? '' : `${ms - ref >= 0 ? '+' : ''}${fmt(ms - ref)}`, mib(rss)];
    }),
  );
  console.log('rerun: npx tsx bench/otlp.ts --runs 15');
} finally {
  await vm.stop();
  tmp.cleanup();
}
