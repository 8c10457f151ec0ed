/**
 * The real Alertmanager (Debian's `prometheus-alertmanager`, or another version of the
 * matrix: `alertmanagerMatrix()`) on a free loopback port, clustering off, for end-to-end
 * alert delivery tests.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, makeTempDir, waitReady } from './services.js';

/** A running Alertmanager. */
export interface RunningAlertmanager {
  url: string;
  port: number;
  output: () => string;
  stop: () => Promise<void>;
}

/** One alert as Alertmanager's API v2 lists it. */
export interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  status: { state: string; inhibitedBy: string[]; silencedBy: string[] };
}

/** Options of {@link startAlertmanager}. */
export interface AlertmanagerOptions {
  /** The executable (a matrix entry's `bin`). @default 'prometheus-alertmanager' (Debian 12's, from PATH) */
  bin?: string;
}

/** Starts Alertmanager with `config` (YAML text). */
export async function startAlertmanager(
  config: string,
  opts: AlertmanagerOptions = {},
): Promise<RunningAlertmanager> {
  const port = await freePort();
  const { dir, cleanup } = makeTempDir('resticprom-am-');
  const file = join(dir, 'alertmanager.yml');
  writeFileSync(file, config);
  const proc = spawn(
    opts.bin ?? 'prometheus-alertmanager',
    [
      `--config.file=${file}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  proc.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    cleanup();
  };
  try {
    await waitReady(`${url}/-/ready`, 30_000);
  } catch (err) {
    await stop();
    throw new Error(`alertmanager did not start: ${out}`, { cause: err });
  }
  return { url, port, output: () => out, stop };
}

/** The alerts Alertmanager holds now. */
export async function amAlerts(url: string): Promise<AmAlert[]> {
  const res = await fetch(`${url}/api/v2/alerts`);
  return (await res.json()) as AmAlert[];
}
