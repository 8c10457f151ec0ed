/**
 * The version matrix: the restic, Pushgateway, Prometheus, Alertmanager, VictoriaMetrics and
 * node_exporter versions the suite runs against. Debian 12's packages (from PATH) are the oldest supported;
 * the newer ones come from Debian's trixie and sid suites, fetched and extracted by
 * scripts/fetch-matrix.mjs into .cache/matrix (its manifest.json is read here).
 *
 * ```ts
 * for (const restic of resticMatrix()) {
 *   describe(`backup (restic ${restic.version})`, { skip: restic.skip }, () => { ... restic.bin ... });
 * }
 * ```
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cli.js';

/** One binary of the matrix. */
export interface MatrixEntry {
  /** The Debian package, e.g. `restic`. */
  name: string;
  /** Debian suite it comes from: `bookworm` (installed on the machine), `trixie` or `sid`. */
  suite: 'bookworm' | 'trixie' | 'sid';
  /** Upstream version, e.g. `0.19.1`; the suite's name when the binary is missing. */
  version: string;
  /** Absolute path (or PATH name for Debian 12's) of the main executable. */
  bin: string;
  /** `false`, or why the tests that need this binary are skipped. */
  skip: false | string;
}

interface ManifestEntry {
  name: string;
  suite: 'trixie' | 'sid';
  version: string;
  bins: Record<string, string>;
}

interface Manifest {
  entries: ManifestEntry[];
  missing: { name: string; suite: string; why: string }[];
}

const MATRIX_DIR = process.env.RESTICPROM_MATRIX_DIR ?? join(ROOT, '.cache', 'matrix');

let manifest: Manifest | undefined;
function readManifest(): Manifest {
  if (manifest) return manifest;
  try {
    manifest = JSON.parse(readFileSync(join(MATRIX_DIR, 'manifest.json'), 'utf8')) as Manifest;
  } catch {
    manifest = { entries: [], missing: [] };
  }
  return manifest;
}

const systemVersions = new Map<string, string | undefined>();

/** The version Debian 12's `cmd` prints, parsed by `pattern`; undefined when it is not installed. */
function systemVersion(cmd: string, args: string[], pattern: RegExp): string | undefined {
  const key = `${cmd} ${args.join(' ')}`;
  if (!systemVersions.has(key)) {
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
    systemVersions.set(key, pattern.exec(`${r.stdout ?? ''}\n${r.stderr ?? ''}`)?.[1]);
  }
  return systemVersions.get(key);
}

function system(name: string, cmd: string, args: string[], pattern: RegExp): MatrixEntry {
  const version =
    systemVersion(cmd, args, pattern) ??
    // Builds without version information (Debian 12's victoria-metrics): the package's own.
    (systemVersion('which', [cmd], /(\/\S+)/)
      ? systemVersion('dpkg-query', ['-W', '-f=${Version}', name], /(\d+\.\d+\.\d+)/)
      : undefined);
  return version
    ? { name, suite: 'bookworm', version, bin: cmd, skip: false }
    : { name, suite: 'bookworm', version: 'bookworm', bin: cmd, skip: `${cmd} (Debian 12) is not installed` };
}

function fetched(name: string, suite: 'trixie' | 'sid', bin: string): MatrixEntry {
  const m = readManifest();
  const e = m.entries.find((x) => x.name === name && x.suite === suite);
  const path = e?.bins[bin];
  if (e && path) return { name, suite, version: e.version, bin: path, skip: false };
  const why = m.missing.find((x) => x.name === name && x.suite === suite)?.why ?? 'not fetched';
  return {
    name,
    suite,
    version: suite,
    bin,
    skip: `${name} from ${suite} is missing (${why}); run node scripts/fetch-matrix.mjs`,
  };
}

/** restic 0.14 (Debian 12), 0.18 (trixie) and 0.19 (sid). */
export function resticMatrix(): MatrixEntry[] {
  return [
    system('restic', 'restic', ['version'], /restic (\d+\.\d+\.\d+)/),
    fetched('restic', 'trixie', 'restic'),
    fetched('restic', 'sid', 'restic'),
  ];
}

/**
 * restic's rest-server (sid's `restic-rest-server`; Debian 12 has none), for a server that
 * answers 401. `bin` is `restic-rest-server`.
 */
export function restServer(): MatrixEntry {
  return fetched('restic-rest-server', 'sid', 'restic-rest-server');
}

/** Pushgateway 1.5.1 (Debian 12) and 1.11 (sid). */
export function pushgatewayMatrix(): MatrixEntry[] {
  return [
    system('prometheus-pushgateway', 'prometheus-pushgateway', ['--version'], /version (\d+\.\d+\.\d+)/),
    fetched('prometheus-pushgateway', 'sid', 'prometheus-pushgateway'),
  ];
}

/** Prometheus 2.42 (Debian 12) and 3.x (sid). */
export function prometheusMatrix(): MatrixEntry[] {
  return [
    system('prometheus', 'prometheus', ['--version'], /version (\d+\.\d+\.\d+)/),
    fetched('prometheus', 'sid', 'prometheus'),
  ];
}

/** Alertmanager 0.25 (Debian 12) and 0.28 (trixie). `bin` is `prometheus-alertmanager`. */
export function alertmanagerMatrix(): MatrixEntry[] {
  return [
    system('prometheus-alertmanager', 'prometheus-alertmanager', ['--version'], /version (\d+\.\d+\.\d+)/),
    fetched('prometheus-alertmanager', 'trixie', 'prometheus-alertmanager'),
  ];
}

/** VictoriaMetrics 1.79 (Debian 12) and 1.145 (sid). */
export function victoriaMetricsMatrix(): MatrixEntry[] {
  return [
    system('victoria-metrics', 'victoria-metrics', ['-version'], /v(\d+\.\d+\.\d+)/),
    fetched('victoria-metrics', 'sid', 'victoria-metrics'),
  ];
}

/** node_exporter 1.5 (Debian 12) and 1.11 (sid). */
export function nodeExporterMatrix(): MatrixEntry[] {
  return [
    system('prometheus-node-exporter', 'prometheus-node-exporter', ['--version'], /version (\d+\.\d+\.\d+)/),
    fetched('prometheus-node-exporter', 'sid', 'prometheus-node-exporter'),
  ];
}

/** Compares dotted versions: negative when `a` is older than `b`. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** True when `entry` is at least `version` (e.g. `atLeast(restic, '0.17.0')`). */
export function atLeast(entry: MatrixEntry, version: string): boolean {
  return entry.skip === false && compareVersions(entry.version, version) >= 0;
}

/** A restic version with the Pushgateway and Prometheus it is tested with end to end. */
export interface Stack {
  restic: MatrixEntry;
  pushgateway: MatrixEntry;
  prometheus: MatrixEntry;
  /** `false`, or why the combination is skipped. */
  skip: false | string;
  /** e.g. `restic 0.19.1, Pushgateway 1.11.2, Prometheus 3.5.3`, for test names. */
  label: string;
}

/**
 * Each restic version paired with a Pushgateway and a Prometheus: Debian 12's restic with
 * Debian 12's servers, the newest restic with the newest servers, trixie's restic with the
 * newest gateway and the oldest Prometheus, so that every version meets every server once.
 */
export function stackMatrix(): Stack[] {
  const [r14, r18, r19] = resticMatrix() as [MatrixEntry, MatrixEntry, MatrixEntry];
  const [gwOld, gwNew] = pushgatewayMatrix() as [MatrixEntry, MatrixEntry];
  const [promOld, promNew] = prometheusMatrix() as [MatrixEntry, MatrixEntry];
  return [
    [r14, gwOld, promOld],
    [r18, gwNew, promOld],
    [r19, gwNew, promNew],
  ].map(([restic, pushgateway, prometheus]) => {
    const parts = [restic, pushgateway, prometheus] as MatrixEntry[];
    const skip = parts.map((p) => p.skip).find((s) => s !== false) ?? false;
    return {
      restic: restic as MatrixEntry,
      pushgateway: pushgateway as MatrixEntry,
      prometheus: prometheus as MatrixEntry,
      skip,
      label: `restic ${restic?.version}, Pushgateway ${pushgateway?.version}, Prometheus ${prometheus?.version}`,
    };
  });
}

/** A Pushgateway with the Prometheus that scrapes it: Debian 12's pair and the newest pair. */
export interface ServerPair {
  pushgateway: MatrixEntry;
  prometheus: MatrixEntry;
  skip: false | string;
  /** e.g. `Prometheus 3.5.3, Pushgateway 1.11.2`, for test names. */
  label: string;
}

/** Prometheus 2.42 with Pushgateway 1.5.1, Prometheus 3.x with Pushgateway 1.11. */
export function serverMatrix(): ServerPair[] {
  const gws = pushgatewayMatrix();
  return prometheusMatrix().map((prometheus, i) => {
    const pushgateway = gws[i] as MatrixEntry;
    return {
      pushgateway,
      prometheus,
      skip: prometheus.skip || pushgateway.skip,
      label: `Prometheus ${prometheus.version}, Pushgateway ${pushgateway.version}`,
    };
  });
}
