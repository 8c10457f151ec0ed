// Runs every test file under test/ with node's test runner (TypeScript through tsx), after
// scripts/fetch-matrix.mjs has brought the newer restic/Pushgateway/Prometheus binaries.
// Usage: node scripts/run-tests.mjs [path-filter ...]
// Environment: RESTICPROM_TEST_CONCURRENCY (test files run at once, default 3).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'fixtures' || name === 'node_modules') continue;
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = findTests('test')
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// The matrix first: under CI=true a missing binary fails the run here.
const fetch = spawnSync(process.execPath, [join('scripts', 'fetch-matrix.mjs')], { stdio: 'inherit' });
if (fetch.status !== 0) process.exit(fetch.status ?? 1);

const concurrency = process.env.RESTICPROM_TEST_CONCURRENCY ?? '3';
const res = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { stdio: 'inherit', env: { ...process.env, NO_COLOR: '1' } },
);
const missing = readMissing();
if (missing.length > 0) {
  console.log(`matrix: missing ${missing.join(', ')}: the tests that need them were skipped`);
}
process.exit(res.status ?? 1);

function readMissing() {
  try {
    const dir = process.env.RESTICPROM_MATRIX_DIR ?? join('.cache', 'matrix');
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    return (m.missing ?? []).map((x) => `${x.name} (${x.suite})`);
  } catch {
    return ['the whole matrix (no .cache/matrix/manifest.json)'];
  }
}
