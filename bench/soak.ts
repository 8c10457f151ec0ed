/**
 * Soak: `resticprom daemon` on a per-second schedule for thousands of backup-and-forget runs
 * while `/metrics` and `/api/status` are scraped several times a second. Prints, every
 * `--every` backups, the daemon's RSS (VmRSS of its process, read from /proc) and the
 * latency of `/healthz` (what the daemon's event loop delays a request by, seen from outside),
 * plus the event loop's delay the daemon measures itself (monitorEventLoopDelay, on its
 * `/metrics`); then the warm-up value and the growth after warm-up.
 *
 * Each profile has one tier scheduled every second (`* * * * * *`, croner's seconds field)
 * with `forget-after-backup`, pushing to a real Pushgateway (Debian's). restic is a recorded-
 * output fake: a shell script that prints the captured restic 0.18 outputs of
 * test/fixtures/restic/0.18.0/ per command (a shell `cat` rather than the node fake restic,
 * so that the load is the daemon's, not a node start per restic call).
 *
 * Run: nice npx tsx bench/soak.ts [--runs 2000] [--profiles 4] [--every 100] [--warmup 700]
 *        [--scrape-ms 200] [--heap-snapshots]
 * `--heap-snapshots` starts the daemon with --heapsnapshot-signal=SIGUSR2 and takes a heap
 * snapshot after warm-up and at the end (kept in bench/out/soak-*, for Chrome's DevTools).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { resticMatrix } from '../test/helpers/matrix.js';
import { freePort, makeTempDir, startPushgateway, waitReady } from '../test/helpers/services.js';
import {
  argNumber,
  CLI,
  describeLoad,
  describeMachine,
  ensureBuilt,
  fmt,
  hasFlag,
  median,
  OUT_DIR,
  printTable,
  quantile,
  ROOT,
} from './lib.js';

const RUNS = argNumber('runs', 2000);
const PROFILES = argNumber('profiles', 4);
const EVERY = argNumber('every', 100);
// About four minutes on this machine: V8 sizing its heap to the scrapes, hot code compiled.
const WARMUP = argNumber('warmup', Math.min(700, Math.floor(RUNS / 3)));
const SCRAPE_MS = argNumber('scrape-ms', 200);
const HEAP = hasFlag('heap-snapshots');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'restic', '0.18.0');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A fake `restic` that prints the captured outputs of each command (shell: starts in ~1 ms). */
function writeShellRestic(dir: string): string {
  // `backup --help` tells resticprom which flags this restic has: the real restic's text.
  const real = resticMatrix().find((r) => !r.skip && r.version.startsWith('0.18')) ?? resticMatrix()[0];
  const help = join(dir, 'backup-help.txt');
  writeFileSync(help, execFileSync(real?.bin ?? 'restic', ['backup', '--help'], { encoding: 'utf8' }));
  const path = join(dir, 'restic');
  writeFileSync(
    path,
    `#!/bin/sh
F='${FIXTURES}'
for a in "$@"; do [ "$a" = --help ] && exec cat '${help}'; done
for a in "$@"; do
  case "$a" in
    version) echo 'restic 0.18.0 compiled with go1.24.1 on linux/amd64'; exit 0 ;;
    backup) exec cat "$F/backup-success.jsonl" ;;
    forget) exec cat "$F/forget.jsonl" ;;
    snapshots) exec cat "$F/snapshots.jsonl" ;;
  esac
done
echo "soak restic: unexpected arguments: $*" >&2
exit 1
`,
  );
  chmodSync(path, 0o755);
  return path;
}

function writeConfig(dir: string, restic: string, port: number, gateway: string): string {
  writeFileSync(join(dir, 'pw'), 'soak-password\n', { mode: 0o600 });
  let profiles = '';
  for (let i = 1; i <= PROFILES; i++) {
    profiles += `  p${i}:
    repository: ${join(dir, `repo${i}`)}
    password-file: ${join(dir, 'pw')}
    paths: [/srv/data${i}]
    forget-after-backup: true
    tiers:
      secondly: { schedule: "* * * * * *", keep-last: 3 }
    metrics:
      job: soak
      grouping: { instance: "{profile}" }
      pushgateway: { url: "${gateway}" }
`;
  }
  const config = join(dir, 'resticprom.yaml');
  writeFileSync(
    config,
    `restic-binary: ${restic}
state-dir: ${join(dir, 'state')}
timezone: UTC
log-format: json
daemon:
  listen: 127.0.0.1:${port}
  grace-period: 30s
profiles:
${profiles}`,
    { mode: 0o600 },
  );
  return config;
}

function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : Number.NaN;
}

/** The value of an unlabelled series in exposition text, or NaN. */
function seriesValue(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

interface Row {
  runs: number;
  forgets: number;
  minutes: number;
  rssMiB: number;
  /** The median of the window's samples (one a second): less subject to when the GC ran. */
  rssMedianMiB: number;
  rssMaxMiB: number;
  heapMiB: number;
  healthzP50: number;
  healthzP99: number;
  healthzMax: number;
  loopP99: number;
  loopMax: number;
  scrapes: number;
  skipped: number;
}

async function main(): Promise<void> {
  ensureBuilt();
  const tmp = makeTempDir('resticprom-soak-');
  const outDir = join(OUT_DIR, `soak-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  if (HEAP) mkdirSync(outDir, { recursive: true });
  const gateway = await startPushgateway();
  const port = await freePort();
  const restic = writeShellRestic(tmp.dir);
  const config = writeConfig(tmp.dir, restic, port, gateway.url);
  const base = `http://127.0.0.1:${port}`;
  const nodeArgs = HEAP ? ['--heapsnapshot-signal=SIGUSR2'] : [];
  const daemon: ChildProcess = spawn(process.execPath, [...nodeArgs, CLI, 'daemon', '-c', config], {
    cwd: HEAP ? outDir : tmp.dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RESTICPROM_CONFIG: config },
  });
  const pid = daemon.pid as number;
  let stderr = '';

  let runs = 0;
  let forgets = 0;
  let failed = 0;
  let skipped = 0;
  let firstFailure = '';
  const waiters: { at: number; resolve: () => void }[] = [];
  // The daemon logs one JSON object a line on stderr.
  createInterface({ input: daemon.stderr as NodeJS.ReadableStream }).on('line', (line) => {
    let rec: { event?: string; job?: string; outcome?: string; msg?: string; forget?: unknown } = {};
    try {
      rec = JSON.parse(line) as typeof rec;
    } catch {
      if (stderr.length < 8192) stderr += `${line}\n`;
      return;
    }
    if (rec.msg && /error|warn/.test(String((rec as { level?: string }).level)) && stderr.length < 8192)
      stderr += `${rec.msg}\n`;
    if (/skipped: the previous/.test(rec.msg ?? '')) skipped++;
    if (rec.event !== 'run-end' || rec.job !== 'backup') return;
    runs++;
    if (rec.forget) forgets++;
    if (rec.outcome !== 'success') {
      failed++;
      if (!firstFailure) firstFailure = rec.msg ?? line;
    }
    for (const w of waiters.splice(0)) {
      if (runs >= w.at) w.resolve();
      else waiters.push(w);
    }
  });
  const untilRuns = (n: number) =>
    runs >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ at: n, resolve }));

  await waitReady(`${base}/healthz`, 60_000);
  const t0 = Date.now();
  let isDone = false;
  let scrapes = 0;
  let scrapeErrors = 0;
  let lastMetrics = '';
  const scrape = async (path: string) => {
    while (!isDone) {
      try {
        const res = await fetch(`${base}${path}`);
        const body = await res.text();
        if (res.ok) {
          scrapes++;
          if (path === '/metrics') lastMetrics = body;
        } else scrapeErrors++;
      } catch {
        scrapeErrors++;
      }
      await sleep(SCRAPE_MS);
    }
  };
  let healthz: number[] = [];
  const probe = async () => {
    while (!isDone) {
      const h0 = process.hrtime.bigint();
      try {
        await (await fetch(`${base}/healthz`)).text();
        healthz.push(Number(process.hrtime.bigint() - h0) / 1e6);
      } catch {
        scrapeErrors++;
      }
      await sleep(100);
    }
  };
  let rss: number[] = [];
  const sampler = setInterval(() => rss.push(rssKiB(pid)), 1000);
  const loops = [scrape('/metrics'), scrape('/api/status'), probe()];

  const rows: Row[] = [];
  const heapFiles: string[] = [];
  const snapshot = async (label: string) => {
    if (!HEAP) return;
    const before = new Set(readdirSync(outDir));
    daemon.kill('SIGUSR2');
    for (let i = 0; i < 600; i++) {
      await sleep(500);
      const made = readdirSync(outDir).filter((f) => f.endsWith('.heapsnapshot') && !before.has(f));
      if (made.length > 0) {
        heapFiles.push(`${label}: ${join(outDir, made[0] as string)}`);
        // Written in one go once the name appears? Wait for its size to settle.
        await sleep(3000);
        return;
      }
    }
  };
  console.error(
    `soak: ${RUNS} backups over ${PROFILES} profile(s), a row every ${EVERY}; pid ${pid}, ${base}`,
  );
  const exited = new Promise<never>((_, reject) =>
    daemon.once('exit', () => reject(new Error(`the daemon exited: ${stderr}`))),
  );
  exited.catch(() => {}); // raced below; once the soak is over the exit is expected
  for (let target = EVERY; target <= RUNS; target += EVERY) {
    await Promise.race([untilRuns(target), exited]);
    const now = rssKiB(pid);
    const row: Row = {
      runs,
      forgets,
      minutes: (Date.now() - t0) / 60_000,
      rssMiB: now / 1024,
      rssMedianMiB: median([...rss, now]) / 1024,
      rssMaxMiB: Math.max(now, ...rss) / 1024,
      heapMiB: seriesValue(lastMetrics, 'resticprom_daemon_heap_used_bytes') / 2 ** 20,
      healthzP50: median(healthz),
      healthzP99: quantile(healthz, 0.99),
      healthzMax: Math.max(...healthz),
      loopP99: seriesValue(lastMetrics, 'resticprom_daemon_event_loop_delay_p99_seconds') * 1000,
      loopMax: seriesValue(lastMetrics, 'resticprom_daemon_event_loop_delay_max_seconds') * 1000,
      scrapes,
      skipped,
    };
    rows.push(row);
    console.error(
      `  ${row.runs} runs, ${fmt(row.minutes)} min, RSS ${fmt(row.rssMiB)} MiB, /healthz p99 ${fmt(row.healthzP99)} ms, ${describeLoad()}`,
    );
    healthz = [];
    rss = [];
    scrapes = 0;
    if (rows.length * EVERY === Math.ceil(WARMUP / EVERY) * EVERY) await snapshot('after warm-up');
  }
  await snapshot('at the end');
  isDone = true;
  clearInterval(sampler);
  await Promise.all(loops);
  daemon.kill('SIGTERM');
  await new Promise((r) => daemon.once('exit', r));
  await gateway.stop();
  tmp.cleanup();

  console.log(`\n${describeMachine()}`);
  console.log(`${describeLoad()} at the end`);
  console.log(
    `${runs} backups (${forgets} with their forget, ${failed} not successful${firstFailure ? `, first: ${firstFailure}` : ''}), ${skipped} scheduled runs skipped (previous run not finished), ${scrapeErrors} scrape errors, in ${fmt((Date.now() - t0) / 60_000)} min\n`,
  );
  printTable(
    [
      'backups',
      'forgets',
      'min',
      'RSS MiB',
      'median RSS MiB',
      'max RSS MiB',
      'heap MiB',
      '/healthz p50 ms',
      'p99 ms',
      'max ms',
      'loop delay p99 ms',
      'loop max ms',
      'scrapes',
    ],
    rows.map((r) => [
      String(r.runs),
      String(r.forgets),
      fmt(r.minutes),
      fmt(r.rssMiB),
      fmt(r.rssMedianMiB),
      fmt(r.rssMaxMiB),
      fmt(r.heapMiB),
      fmt(r.healthzP50),
      fmt(r.healthzP99),
      fmt(r.healthzMax),
      fmt(r.loopP99),
      fmt(r.loopMax),
      String(r.scrapes),
    ]),
  );
  const after = rows.filter((r) => r.runs >= WARMUP);
  const warm = after[0];
  const last = after.at(-1);
  if (warm && last) {
    const peak = Math.max(...after.map((r) => r.rssMaxMiB));
    const medians = after.map((r) => r.rssMedianMiB);
    console.log(
      `\nheap in use: ${fmt(warm.heapMiB)} MiB after warm-up, ${fmt(last.heapMiB)} MiB at the end (includes garbage not yet collected)`,
    );
    console.log(
      `warm-up (${warm.runs} backups): RSS median ${fmt(warm.rssMedianMiB)} MiB; at the end (${last.runs}): ${fmt(last.rssMedianMiB)} MiB; growth after warm-up ${fmt(last.rssMedianMiB - warm.rssMedianMiB)} MiB; window medians after warm-up between ${fmt(Math.min(...medians))} and ${fmt(Math.max(...medians))} MiB; highest sample ${fmt(peak)} MiB`,
    );
  }
  for (const f of heapFiles) console.log(`heap snapshot ${f}`);
  console.log(
    `\nRun: nice npx tsx bench/soak.ts --runs ${RUNS} --profiles ${PROFILES} --every ${EVERY} --warmup ${WARMUP} --scrape-ms ${SCRAPE_MS}${HEAP ? ' --heap-snapshots' : ''}`,
  );
}

await main();
