// The cost of one small file operation through node:fs/promises (libuv's thread pool) and as
// a direct call (node:fs), side by side in one process: what src/state/io.ts chooses between.
// Each round opens, fstats, reads and closes a small file and lstats it (5 operations), in a
// temporary folder. Prints both and asserts nothing. Run: node bench/fs-ops.mjs [--rounds 50]
import {
  closeSync,
  fstatSync,
  lstatSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const at = process.argv.indexOf('--rounds');
const rounds = at > 0 ? Number(process.argv[at + 1]) : 50;
const dir = mkdtempSync(join(tmpdir(), 'resticprom-bench-fs-ops-'));
try {
  const file = join(dir, 'delivered.json');
  writeFileSync(file, `${JSON.stringify({ v: 1, confirmed: { a: 'run' } })}\n`, { mode: 0o600 });
  const viaPool = async () => {
    const fh = await open(file, 'r');
    await fh.stat();
    await fh.readFile();
    await fh.close();
    await lstat(file);
  };
  const direct = () => {
    const fd = openSync(file, 'r');
    fstatSync(fd);
    readFileSync(fd);
    closeSync(fd);
    lstatSync(file);
  };
  const results = { pool: [], direct: [] };
  for (let r = 0; r < 5; r++) {
    let t = performance.now();
    for (let i = 0; i < rounds; i++) await viaPool();
    results.pool.push(performance.now() - t);
    t = performance.now();
    for (let i = 0; i < rounds; i++) direct();
    results.direct.push(performance.now() - t);
  }
  const ops = rounds * 5;
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`${ops} operations, median of 5 interleaved repeats (the first includes compiling):`);
  console.log(
    `  node:fs/promises (thread pool): ${med(results.pool).toFixed(1)} ms, ${((1000 * med(results.pool)) / ops).toFixed(1)} µs each`,
  );
  console.log(
    `  node:fs (direct):               ${med(results.direct).toFixed(1)} ms, ${((1000 * med(results.direct)) / ops).toFixed(1)} µs each`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
