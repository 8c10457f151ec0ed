// Writes the generated files under deploy/ (rules, PrometheusRule, Grafana dashboard).
// Usage: npx tsx scripts/gen-deploy.ts [--check]   (--check: exit 1 when a file differs)
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderDeployFiles } from '../src/deploy/files.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const isCheck = process.argv.includes('--check');
let stale = 0;
for (const [rel, content] of Object.entries(renderDeployFiles())) {
  const file = join(root, rel);
  let current: string | undefined;
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    current = undefined;
  }
  if (current === content) continue;
  if (isCheck) {
    console.error(`${rel} is out of date: run npx tsx scripts/gen-deploy.ts`);
    stale++;
    continue;
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content);
  console.log(`wrote ${rel}`);
}
process.exitCode = stale > 0 ? 1 : 0;
