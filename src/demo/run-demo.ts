/**
 * `resticprom demo`: the seed's whole system on one machine, in one command.
 * Makes sample data and a throwaway repository, starts a Pushgateway and a
 * Prometheus on free loopback ports, runs a sub-daily and a daily backup, waits
 * for a scrape, and answers the seed's three queries.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../config/index.js';
import { ResticpromError } from '../errors.js';
import { type BackupJobResult, runBackupJob } from '../jobs/backup.js';
import {
  type PromSample,
  queryPrometheus,
  type RunningService,
  scrapeConfig,
  startPrometheus,
  startPushgateway,
  waitForQuery,
} from './services.js';

const run = promisify(execFile);

/** The seed's three queries, in its own words. */
export const SEED_QUERIES = [
  {
    what: 'files processed by the sub-daily backup',
    query: 'restic_backup_processed_files{instance="sub-daily",job="nfs_backup"}',
  },
  {
    what: 'average run time of daily backups (s)',
    query: 'avg_over_time(restic_backup_time{instance="daily",job="nfs_backup"}[1d])',
  },
  {
    what: "the seed's alert: no backup in 24 h (empty = quiet)",
    query: 'absent_over_time(restic_backup_processed_files{job="nfs_backup"}[1d])',
  },
  {
    what: 'age of the last success per tier (s), what to alert on instead',
    query: 'time() - restic_backup_last_success_timestamp_seconds{job="nfs_backup"}',
  },
] as const;

export interface DemoOptions {
  /** Leave the Pushgateway, Prometheus and files in place and print their URLs. @default false */
  keep?: boolean;
  /** Where progress lines go. */
  log?: (line: string) => void;
  /** Where the results table goes. */
  out?: (text: string) => void;
  resticBinary?: string;
}

export interface DemoResult {
  answers: { what: string; query: string; result: PromSample[] }[];
  backups: BackupJobResult[];
  dir: string;
  urls: { pushgateway: string; prometheus: string };
  /** Process ids of the Pushgateway and Prometheus (still running with `keep`). */
  pids: number[];
}

/** Writes a small tree of sample files, with one folder excluded by `.nobackup` as in the seed. */
export function makeSampleData(dir: string): number {
  let files = 0;
  for (const sub of ['home/alice', 'home/bob', 'projects/site', 'projects/site/assets']) {
    mkdirSync(join(dir, sub), { recursive: true });
    for (let i = 0; i < 5; i++) {
      writeFileSync(join(dir, sub, `file-${i}.txt`), `${sub} sample ${i}\n`.repeat(50 * (i + 1)));
      files++;
    }
  }
  writeFileSync(join(dir, 'projects/site/assets/logo.bin'), randomBytes(256 * 1024));
  files++;
  mkdirSync(join(dir, 'scratch'), { recursive: true });
  writeFileSync(join(dir, 'scratch/.nobackup'), '');
  writeFileSync(join(dir, 'scratch/huge.tmp'), randomBytes(64 * 1024));
  return files;
}

function demoConfig(o: {
  repo: string;
  passFile: string;
  data: string;
  gateway: string;
  stateDir: string;
  restic: string;
}): string {
  return `# Written by resticprom demo: the seed's system, on loopback.
state-dir: ${JSON.stringify(o.stateDir)}
restic-binary: ${JSON.stringify(o.restic)}
profiles:
  nfs:
    repository: ${JSON.stringify(o.repo)}
    password-file: ${JSON.stringify(o.passFile)}
    paths: [${JSON.stringify(o.data)}]
    exclude-if-present: [.nobackup]
    cpu-limit: 1
    tiers:
      sub-daily: { schedule: "0 */4 * * *", keep-last: 12 }
      daily:     { schedule: "30 1 * * *",  keep-last: 7 }
    metrics:
      job: nfs_backup
      grouping: { instance: "{tier}" }
      pushgateway:
        url: ${o.gateway}
`;
}

function describeProblems(job: BackupJobResult): string {
  const d = job.finish.delivery;
  return [...d.queued, ...d.deadLettered].map((q) => `${q.destination}: ${q.reason}`).join('; ');
}

/** Formats the answers as a table for people: question and answer, then the PromQL of each. */
export function formatAnswers(answers: DemoResult['answers']): string {
  const shown = (a: DemoResult['answers'][number]) => {
    if (a.result.length === 0) return '(empty)';
    return a.result
      .map((s) => {
        const v = Number(s.value[1]);
        const value = Number.isInteger(v) ? String(v) : v.toFixed(3);
        return a.result.length > 1 ? `${s.metric.instance ?? s.metric.tier ?? '?'}: ${value}` : value;
      })
      .join(', ');
  };
  const w = Math.max(...answers.map((a) => a.what.length));
  const rows = answers.map((a, i) => `  ${i + 1}  ${a.what.padEnd(w)}  ${shown(a)}`);
  const queries = answers.map((a, i) => `  ${i + 1}  ${a.query}`);
  return `${rows.join('\n')}\n\nPromQL:\n${queries.join('\n')}\n`;
}

/** Runs the demo. Stops and removes everything it started unless `keep`. */
export async function runDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const log = opts.log ?? (() => {});
  const restic = opts.resticBinary ?? 'restic';
  const dir = mkdtempSync(join(tmpdir(), 'resticprom-demo-'));
  const services: RunningService[] = [];
  let keepFiles = false;
  try {
    const data = join(dir, 'nfs');
    const repo = join(dir, 'repo');
    const passFile = join(dir, 'repo.pass');
    const stateDir = join(dir, 'state');
    const files = makeSampleData(data);
    writeFileSync(passFile, `${randomBytes(18).toString('base64url')}\n`, { mode: 0o600 });
    log(`sample data: ${files} files in ${data}, and scratch/ whose .nobackup marker keeps its content out`);
    try {
      await run(restic, ['init', '--quiet'], {
        env: { ...process.env, RESTIC_REPOSITORY: repo, RESTIC_PASSWORD_FILE: passFile },
      });
    } catch (e) {
      throw new ResticpromError(
        'DEMO_FAILED',
        `could not create a restic repository with ${restic} (is restic installed? run npm run setup): ${(e as Error).message.split('\n')[0]}`,
        { cause: e },
      );
    }
    log(`restic repository: ${repo}`);
    const gateway = await startPushgateway({ detached: Boolean(opts.keep) });
    services.push(gateway);
    log(`pushgateway: ${gateway.url}`);
    const prometheus = await startPrometheus({
      config: scrapeConfig([{ job: 'pushgateway', target: gateway.url.replace('http://', '') }]),
      detached: Boolean(opts.keep),
    });
    services.push(prometheus);
    log(`prometheus: ${prometheus.url} (scrapes the gateway every second, honor_labels: true)`);

    const configFile = join(dir, 'resticprom.yaml');
    writeFileSync(configFile, demoConfig({ repo, passFile, data, gateway: gateway.url, stateDir, restic }), {
      mode: 0o600,
    });
    const loaded = await loadConfig({ file: configFile });
    const backups: BackupJobResult[] = [];
    for (const tier of ['sub-daily', 'daily']) {
      const job = await runBackupJob({ loaded, tier });
      const r = job.result;
      log(
        `backup ${tier}: ${r.outcome} in ${(r.durationMs / 1000).toFixed(2)}s, ` +
          `${r.summary?.totalFilesProcessed ?? 0} files, snapshot ${r.summary?.snapshotId ?? '-'}; ` +
          `metrics ${job.finish.delivery.isComplete ? 'pushed' : `not delivered: ${describeProblems(job)}`}`,
      );
      backups.push(job);
    }
    log('waiting for Prometheus to scrape the gateway...');
    await waitForQuery(
      prometheus.url,
      'restic_backup_processed_files{instance="daily",job="nfs_backup"}',
      (r) => r.length > 0,
    );
    const answers = [];
    for (const q of SEED_QUERIES)
      answers.push({ ...q, result: await queryPrometheus(prometheus.url, q.query) });
    const urls = { pushgateway: gateway.url, prometheus: prometheus.url };
    if (opts.keep) {
      keepFiles = true;
      services.length = 0;
    }
    const pids = [gateway.proc.pid, prometheus.proc.pid].filter((p): p is number => p !== undefined);
    return { answers, backups, dir, urls, pids };
  } finally {
    for (const s of services) await s.stop();
    if (!keepFiles) rmSync(dir, { recursive: true, force: true });
  }
}
