/**
 * Starts the real Pushgateway, Prometheus and VictoriaMetrics binaries on free loopback ports
 * (for `resticprom demo` and the tests), and stops them at the end.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temporary directory, removed by the returned cleanup. */
export function makeTempDir(prefix = 'resticprom-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Polls `url` until it answers 200, or throws after `timeoutMs`. */
export async function waitReady(url: string, timeoutMs = 20_000, init?: RequestInit): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, init);
      if (res.ok) return;
      last = new Error(`status ${res.status}`);
    } catch (e) {
      last = e;
    }
    await sleep(100);
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms: ${String(last)}`);
}

export interface RunningService {
  /** Base URL, e.g. `http://127.0.0.1:9091`. */
  url: string;
  port: number;
  proc: ChildProcess;
  /** Everything the process printed so far. */
  output: () => string;
  /** Stops the process (SIGTERM, then SIGKILL after 5 s). */
  stop: () => Promise<void>;
}

function startProcess(
  bin: string,
  args: string[],
  url: string,
  port: number,
  detached = false,
): RunningService {
  const proc = spawn(bin, args, {
    stdio: ['ignore', detached ? 'ignore' : 'pipe', detached ? 'ignore' : 'pipe'],
    detached,
  });
  if (detached) proc.unref();
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  return { url, port, proc, output: () => out, stop };
}

export interface PushgatewayOptions {
  /** The Pushgateway executable. @default 'prometheus-pushgateway' (Debian's, from PATH) */
  bin?: string;
  /** Port to listen on; a free one by default. */
  port?: number;
  /** Path of a `--web.config.file` (TLS, basic auth). */
  webConfigFile?: string;
  /** Path of a `--persistence.file`. */
  persistenceFile?: string;
  /** Extra flags. */
  args?: string[];
  /** Scheme of the returned URL. @default 'http' */
  scheme?: 'http' | 'https';
  /** Extra options for the readiness probe (e.g. a dispatcher trusting the test CA). Readiness is skipped for https. */
  skipReady?: boolean;
  /** Start in its own process group and let it outlive this process. @default false */
  detached?: boolean;
}

/** Starts Debian's `prometheus-pushgateway` on loopback and waits until it is ready. */
export async function startPushgateway(opts: PushgatewayOptions = {}): Promise<RunningService> {
  const port = opts.port ?? (await freePort());
  const args = [`--web.listen-address=127.0.0.1:${port}`, '--web.enable-admin-api', '--log.level=warn'];
  if (opts.webConfigFile) args.push(`--web.config.file=${opts.webConfigFile}`);
  if (opts.persistenceFile)
    args.push(`--persistence.file=${opts.persistenceFile}`, '--persistence.interval=1s');
  // Debian's default is /var/lib/prometheus/pushgateway.data, shared by every gateway on the machine.
  else args.push('--persistence.file=');
  args.push(...(opts.args ?? []));
  const scheme = opts.scheme ?? 'http';
  const svc = startProcess(
    opts.bin ?? 'prometheus-pushgateway',
    args,
    `${scheme}://127.0.0.1:${port}`,
    port,
    opts.detached,
  );
  if (scheme === 'http' && !opts.skipReady) await waitReady(`${svc.url}/-/ready`);
  else await waitForPort(port);
  return svc;
}

/** Waits until something accepts TCP connections on 127.0.0.1:port. */
export async function waitForPort(port: number, timeoutMs = 20_000): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`nothing listens on port ${port} after ${timeoutMs} ms`);
}

export interface PrometheusOptions {
  /** The Prometheus executable. @default 'prometheus' (Debian's, from PATH) */
  bin?: string;
  /** prometheus.yml content; `{{dir}}` is not expanded, write absolute paths. */
  config: string;
  /** Rule files to write beside the config, by file name. */
  ruleFiles?: Record<string, string>;
  /** Extra flags, e.g. `--web.enable-remote-write-receiver`. */
  args?: string[];
  port?: number;
  /** Start in its own process group and let it outlive this process. @default false */
  detached?: boolean;
}

export interface RunningPrometheus extends RunningService {
  dir: string;
  /** Runs an instant query and returns the result vector. */
  query: (promql: string) => Promise<PromSample[]>;
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** Starts Debian's `prometheus` on loopback with the given config and waits until it is ready. */
export async function startPrometheus(opts: PrometheusOptions): Promise<RunningPrometheus> {
  const port = opts.port ?? (await freePort());
  const { dir, cleanup } = makeTempDir('resticprom-prom-');
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, opts.config);
  for (const [name, content] of Object.entries(opts.ruleFiles ?? {})) writeFileSync(join(dir, name), content);
  const args = [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
    ...(opts.args ?? []),
  ];
  const svc = startProcess(opts.bin ?? 'prometheus', args, `http://127.0.0.1:${port}`, port, opts.detached);
  await waitReady(`${svc.url}/-/ready`, 30_000);
  return { ...withOwnDir(svc, dir, cleanup), query: (promql) => queryPrometheus(svc.url, promql) };
}

/** The service with its folder: stopping it also removes the folder. */
function withOwnDir(svc: RunningService, dir: string, cleanup: () => void): RunningService & { dir: string } {
  const stop = svc.stop;
  return {
    ...svc,
    dir,
    stop: async () => {
      await stop();
      cleanup();
    },
  };
}

/** Runs an instant PromQL query against a Prometheus at `baseUrl`. */
export async function queryPrometheus(baseUrl: string, promql: string): Promise<PromSample[]> {
  const res = await fetch(`${baseUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { result: PromSample[] } };
  if (body.status !== 'success') throw new Error(`query ${promql} failed: ${body.error ?? res.status}`);
  return body.data?.result ?? [];
}

/** Polls a query until `accept` returns true for its result, or throws after `timeoutMs`. */
export async function waitForQuery(
  baseUrl: string,
  promql: string,
  accept: (r: PromSample[]) => boolean,
  timeoutMs = 30_000,
): Promise<PromSample[]> {
  const deadline = Date.now() + timeoutMs;
  let last: PromSample[] = [];
  while (Date.now() < deadline) {
    last = await queryPrometheus(baseUrl, promql);
    if (accept(last)) return last;
    await sleep(250);
  }
  throw new Error(
    `query ${promql} did not reach the expected result in ${timeoutMs} ms; last: ${JSON.stringify(last)}`,
  );
}

/** A scrape config for Prometheus that scrapes `targets` every `interval` with honor_labels. */
export function scrapeConfig(
  targets: { job: string; target: string; scheme?: string }[],
  interval = '1s',
): string {
  const jobs = targets
    .map(
      (t) => `  - job_name: ${t.job}
    honor_labels: true
    scheme: ${t.scheme ?? 'http'}
    static_configs:
      - targets: ['${t.target}']`,
    )
    .join('\n');
  return `global:
  scrape_interval: ${interval}
  evaluation_interval: ${interval}
scrape_configs:
${jobs}
`;
}

/** Every group the Pushgateway holds, from its `/api/v1/metrics` JSON. */
export async function gatewayGroups(baseUrl: string, init?: RequestInit): Promise<GatewayGroup[]> {
  const res = await fetch(`${baseUrl}/api/v1/metrics`, init);
  const body = (await res.json()) as { data: GatewayGroup[] };
  return body.data;
}

export interface GatewayGroup {
  labels: Record<string, string>;
  last_push_successful: boolean;
  [family: string]: unknown;
}

/** Metric values of one family in one group of the gateway's JSON view. */
export function groupValues(
  group: GatewayGroup,
  family: string,
): { labels: Record<string, string>; value: string }[] {
  const fam = group[family] as { metrics: { labels: Record<string, string>; value?: string }[] } | undefined;
  return (fam?.metrics ?? []).map((m) => ({ labels: m.labels, value: m.value ?? '' }));
}

/** Options of {@link startVictoriaMetrics}. */
export interface VictoriaMetricsOptions {
  /** The executable. @default 'victoria-metrics' (Debian's, from PATH) */
  bin?: string;
  port?: number;
  /** Extra flags. */
  args?: string[];
}

/** One series as VictoriaMetrics' `/api/v1/export` gives it: labels, raw values and their times. */
export interface ExportedSeries {
  metric: Record<string, string>;
  values: number[];
  /** Unix ms, one per value. */
  timestamps: number[];
}

/** A running single-node VictoriaMetrics, with its storage folder removed by `stop`. */
export interface RunningVictoriaMetrics extends RunningService {
  /** Its own folder; the storage is `dir/data`. */
  dir: string;
  /** Runs an instant query (its Prometheus-compatible API) and returns the result vector. */
  query: (promql: string) => Promise<PromSample[]>;
  /**
   * The raw samples of the series `match` selects (e.g. `{__name__=~"restic_.*"}`), sorted by
   * name and labels; what was written before the call is in it.
   */
  exportSeries: (match: string) => Promise<ExportedSeries[]>;
}

/**
 * Starts single-node VictoriaMetrics on loopback with its own storage folder and waits until
 * it is ready. It takes Prometheus remote write on `/api/v1/write` and (1.92+) OTLP on
 * `/opentelemetry/v1/metrics`, and answers PromQL on `/api/v1/query`.
 */
export async function startVictoriaMetrics(
  opts: VictoriaMetricsOptions = {},
): Promise<RunningVictoriaMetrics> {
  const port = opts.port ?? (await freePort());
  const { dir, cleanup } = makeTempDir('resticprom-vm-');
  const args = [
    `-httpListenAddr=127.0.0.1:${port}`,
    `-storageDataPath=${join(dir, 'data')}`,
    '-loggerLevel=ERROR',
    // Samples are searchable at once, not after the default 30 s of caching.
    '-search.latencyOffset=0s',
    '-search.disableCache',
    ...(opts.args ?? []),
  ];
  const svc = startProcess(opts.bin ?? 'victoria-metrics', args, `http://127.0.0.1:${port}`, port);
  await waitReady(`${svc.url}/health`, 30_000);
  return {
    ...withOwnDir(svc, dir, cleanup),
    query: (promql) => queryPrometheus(svc.url, promql),
    exportSeries: async (match) => {
      // What was written last is searchable only after VictoriaMetrics' next flush (seconds).
      await fetch(`${svc.url}/internal/force_flush`);
      const res = await fetch(`${svc.url}/api/v1/export?match[]=${encodeURIComponent(match)}`);
      if (!res.ok) throw new Error(`export ${match} failed: ${res.status} ${await res.text()}`);
      const lines = (await res.text()).split('\n').filter((l) => l.trim() !== '');
      const series = lines.map((l) => JSON.parse(l) as ExportedSeries);
      const key = (x: ExportedSeries) => JSON.stringify(Object.entries(x.metric).sort());
      return series.sort((x, y) => (key(x) < key(y) ? -1 : key(x) > key(y) ? 1 : 0));
    },
  };
}
