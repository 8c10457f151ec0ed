// Preloaded by the benchmarks (`node --require bench/peak-rss.cjs ...`): at exit, writes the
// process's own peak RSS (VmHWM, KiB) to $BENCH_PEAK_RSS_FILE, so a figure is resticprom's
// alone and not the largest process of its tree (the fake restic is a node process too).
// CommonJS and `--require`, not `--import`: any `--import` makes node load the main script
// through its ES module loader, which for the CommonJS CLI adds the loader and a scan of the
// whole file for its exports (measured: +40% CPU, +12 MiB for a warm backup), which no real run pays.
const { readFileSync, writeFileSync } = require('node:fs');

const out = process.env.BENCH_PEAK_RSS_FILE;
if (out) {
  process.on('exit', () => {
    const hwm = /VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 'NaN';
    writeFileSync(out, `${hwm}\n`);
  });
}
