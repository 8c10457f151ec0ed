// Preloaded by the benchmarks (`node --import bench/peak-rss.mjs ...`): at exit, writes the
// process's own peak RSS (VmHWM, KiB) to $BENCH_PEAK_RSS_FILE, so a figure is resticprom's
// alone and not the largest process of its tree (the fake restic is a node process too).
import { readFileSync, writeFileSync } from 'node:fs';

const out = process.env.BENCH_PEAK_RSS_FILE;
if (out) {
  process.on('exit', () => {
    const hwm = /VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 'NaN';
    writeFileSync(out, `${hwm}\n`);
  });
}
