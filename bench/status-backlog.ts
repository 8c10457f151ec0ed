/**
 * The cost of the daemon's `/api/status` while the gateway is down and entries pile up in
 * the outbox: `computeStatus` reading the whole outbox each time (what `resticprom status`
 * does once) versus the daemon's BacklogReader on an unchanged outbox, side by side, for
 * an outbox of N entries (default 1000, the outbox's default bound) of ~3 KiB each.
 * Prints medians; asserts nothing.
 *
 * Run: npx tsx bench/status-backlog.ts [--entries N] [--rounds R]
 */
import { utimesSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfigText } from '../src/config/index.js';
import { BacklogReader } from '../src/sinks/outbox/backlog.js';
import { Outbox } from '../src/sinks/outbox.js';
import { computeStatus } from '../src/state/status.js';
import { makeTempDir } from '../test/helpers/services.js';
import { argNumber, describeLoad, describeMachine, median, printTable } from './lib.js';

const ENTRIES = argNumber('entries', 1000);
const ROUNDS = argNumber('rounds', 15);

const tmp = makeTempDir('resticprom-bench-backlog-');
try {
  const config = parseConfigText(
    `state-dir: ${tmp.dir}
hostname: bench
profiles:
  nfs:
    repository: /srv/repo
    password-file: /etc/resticprom/nfs.pass
    paths: [/srv/nfs]
    tiers:
      daily: { schedule: "0 3 * * *" }
      weekly: { schedule: "0 4 * * 0" }
`,
    { file: join(tmp.dir, 'resticprom.yaml'), env: {} },
  ).config;
  const text = Array.from(
    { length: 40 },
    (_, i) =>
      `# HELP restic_bench_${i} A benchmark family\n# TYPE restic_bench_${i} gauge\nrestic_bench_${i}{host="bench"} ${i}\n`,
  ).join('');
  const outbox = new Outbox({ stateDir: tmp.dir, maxEntries: ENTRIES + 10 });
  const target = { kind: 'pushgateway' as const, url: 'http://127.0.0.1:9' };
  for (let i = 0; i < ENTRIES; i++) {
    const tier = i % 2 ? 'daily' : 'weekly';
    await outbox.store(
      { text, job: 'restic_backup', grouping: { instance: 'bench', profile: 'nfs', tier }, measuredAt: 0 },
      [target],
    );
  }
  // As if the outbox had not changed for a minute (the reader trusts a folder time older than a second).
  const past = new Date(Date.now() - 60_000);
  for (const d of ['outbox', 'outbox/dead']) utimesSync(join(tmp.dir, d), past, past);

  const time = async (f: () => Promise<unknown>) => {
    const ms: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const t0 = performance.now();
      await f();
      ms.push(performance.now() - t0);
    }
    return median(ms);
  };
  const fresh = await time(() => computeStatus({ config, stateDir: tmp.dir }));
  const reader = new BacklogReader(tmp.dir);
  const cached = await time(() => computeStatus({ config, stateDir: tmp.dir, backlog: reader }));
  const check = await computeStatus({ config, stateDir: tmp.dir, backlog: reader });

  console.log(describeMachine());
  console.log(describeLoad());
  console.log(`outbox: ${check.deliveries.pending} entries of ${text.length} B; ${ROUNDS} rounds, medians`);
  printTable(
    ['computeStatus', 'median ms'],
    [
      ['reads the whole outbox (resticprom status)', fresh.toFixed(1)],
      ['daemon: BacklogReader, outbox unchanged', cached.toFixed(1)],
    ],
  );
  console.log(`rerun: npx tsx bench/status-backlog.ts --entries ${ENTRIES} --rounds ${ROUNDS}`);
} finally {
  tmp.cleanup();
}
