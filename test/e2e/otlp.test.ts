/**
 * The otlp destination against the real receivers: VictoriaMetrics' OpenTelemetry endpoint
 * (1.92+, so sid's 1.145; Debian 12's 1.79 predates it) and Prometheus' OTLP receiver (3.x
 * `--web.enable-otlp-receiver`, 2.47+ `--enable-feature=otlp-write-receiver`) where the
 * binary has one. What a user would query: names, labels, values and sample times.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { getVersion } from '../../src/version.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { atLeast, prometheusMatrix, resticMatrix, victoriaMetricsMatrix } from '../helpers/matrix.js';
import { makeRepo, makeSourceTree } from '../helpers/restic.js';
import {
  type ExportedSeries,
  freePort,
  makeTempDir,
  type RunningPrometheus,
  type RunningVictoriaMetrics,
  startPrometheus,
  startVictoriaMetrics,
  waitForQuery,
} from '../helpers/services.js';

const TEXT = `# HELP restic_backup_files_new How many new files were backed up
# TYPE restic_backup_files_new gauge
restic_backup_files_new{profile="nfs"} 42
# HELP restic_backup_duration_seconds Wall-clock time of the last run, in seconds
# TYPE restic_backup_duration_seconds gauge
restic_backup_duration_seconds{profile="nfs"} 12.5
# HELP restic_backup_runs_total Runs recorded in the history, by outcome
# TYPE restic_backup_runs_total counter
restic_backup_runs_total{profile="nfs",outcome="success"} 7
restic_backup_runs_total{profile="nfs",outcome="failed"} 1
# TYPE transfers counter
transfers 3
# HELP upload_seconds Upload times
# TYPE upload_seconds histogram
upload_seconds_bucket{le="0.5"} 1
upload_seconds_bucket{le="1"} 3
upload_seconds_bucket{le="+Inf"} 4
upload_seconds_sum 2.5
upload_seconds_count 4
`;

/** The relabeling docs/otlp.md gives for VictoriaMetrics, as written there. */
const VM_RELABEL = `- source_labels: [service.name]
  target_label: job
- source_labels: [service.instance.id]
  target_label: instance
- action: labeldrop
  regex: "service[.](name|instance[.]id)|scope[.].*"
`;

const SCOPE = { 'scope.name': 'resticprom', 'scope.version': getVersion() };
const RESOURCE = { 'service.name': 'nfs_backup', 'service.instance.id': 'daily', site: 'ber' };

/** name{labels} = values, for comparing exported series. */
function show(series: ExportedSeries[]): [Record<string, string>, number[]][] {
  return series.map((s) => [s.metric, s.values]);
}

async function exported(vm: RunningVictoriaMetrics, match: string, count: number): Promise<ExportedSeries[]> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const series = await vm.exportSeries(match);
    if (series.length >= count || Date.now() > deadline) return series;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** `resticprom push --otlp URL --job nfs_backup --group k=v... --state-dir DIR -` with TEXT on stdin. */
async function pushText(url: string, groups: string[], stateDir: string) {
  const args = ['push', '--otlp', url, '--job', 'nfs_backup'];
  for (const g of groups) args.push('--group', g);
  const r = await runCli([...args, '--state-dir', stateDir, '-'], { input: TEXT });
  assert.equal(r.code, 0, r.stderr);
}

const vms = victoriaMetricsMatrix();

for (const vmBin of vms) {
  const isOld = !atLeast(vmBin, '1.92.0');
  const skip =
    vmBin.skip || (isOld && `VictoriaMetrics ${vmBin.version} predates the OpenTelemetry endpoint (1.92+)`);
  describe(`otlp into VictoriaMetrics ${vmBin.version}`, { skip }, () => {
    let vm: RunningVictoriaMetrics;
    let tmp: ReturnType<typeof makeTempDir>;
    before(async () => {
      tmp = makeTempDir('resticprom-otlp-');
      vm = await startVictoriaMetrics({ bin: vmBin.bin });
    });
    after(async () => {
      await vm?.stop();
      tmp?.cleanup();
    });

    it('push --otlp: gauges, counters and a histogram with job and grouping as resource attributes', async () => {
      const before = Date.now();
      await pushText(
        `${vm.url}/opentelemetry/v1/metrics`,
        ['instance=daily', 'site=ber'],
        join(tmp.dir, 'state-push'),
      );
      const afterPush = Date.now();
      const series = await exported(vm, '{__name__=~"restic_.*|transfers|upload_seconds.*"}', 10);
      const labels = { ...RESOURCE, ...SCOPE };
      assert.deepEqual(show(series), [
        [{ __name__: 'restic_backup_duration_seconds', profile: 'nfs', ...labels }, [12.5]],
        [{ __name__: 'restic_backup_files_new', profile: 'nfs', ...labels }, [42]],
        [{ __name__: 'restic_backup_runs_total', outcome: 'failed', profile: 'nfs', ...labels }, [1]],
        [{ __name__: 'restic_backup_runs_total', outcome: 'success', profile: 'nfs', ...labels }, [7]],
        [{ __name__: 'transfers', ...labels }, [3]],
        // OTLP carries a count per bucket; VictoriaMetrics gives the cumulative le buckets back.
        [{ __name__: 'upload_seconds_bucket', le: '+Inf', ...labels }, [4]],
        [{ __name__: 'upload_seconds_bucket', le: '0.5', ...labels }, [1]],
        [{ __name__: 'upload_seconds_bucket', le: '1', ...labels }, [3]],
        [{ __name__: 'upload_seconds_count', ...labels }, [4]],
        [{ __name__: 'upload_seconds_sum', ...labels }, [2.5]],
      ]);
      const times = new Set(series.flatMap((s) => s.timestamps));
      assert.equal(times.size, 1, 'every point carries the one measuring time');
      const [at] = [...times];
      assert.ok(at !== undefined && at >= before && at <= afterPush, `${at} within the push`);
      // What a user queries: the sum of runs by outcome for the job.
      const runs = await vm.query('sum by (outcome) (restic_backup_runs_total{"service.name"="nfs_backup"})');
      assert.deepEqual(runs.map((s) => [s.metric, s.value[1]]).sort(), [
        [{ outcome: 'failed' }, '1'],
        [{ outcome: 'success' }, '7'],
      ]);
    });

    it('destination down, then up: the queued entry is delivered by flush with its original sample time', async () => {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}/opentelemetry/v1/metrics`;
      const stateDir = join(tmp.dir, 'state-outage');
      const pushedFrom = Date.now();
      const down = await runCli(
        ['push', '--otlp', url, '--job', 'outage', '--retries', '0', '--state-dir', stateDir, '-'],
        { input: '# TYPE queued_value gauge\nqueued_value 5\n' },
      );
      const pushedTo = Date.now();
      assert.equal(down.code, 75, down.stderr);
      assert.match(
        down.stderr,
        new RegExp(`otlp http://127\\.0\\.0\\.1:${port}/opentelemetry/v1/metrics unreachable`),
      );
      // Some time passes before the destination comes up: the sample keeps the push's time.
      await new Promise((r) => setTimeout(r, 1500));
      const late = await startVictoriaMetrics({ bin: vmBin.bin, port });
      try {
        const flushedFrom = Date.now();
        const flushed = await runCli(['flush', '--state-dir', stateDir]);
        assert.equal(flushed.code, 0, flushed.stderr);
        const series = await exported(late, 'queued_value', 1);
        assert.deepEqual(show(series), [
          [{ __name__: 'queued_value', 'service.name': 'outage', ...SCOPE }, [5]],
        ]);
        const at = series[0]?.timestamps[0] ?? 0;
        assert.ok(at >= pushedFrom && at <= pushedTo, `sample time ${at} is the push's, not the flush's`);
        assert.ok(at < flushedFrom);
      } finally {
        await late.stop();
      }
    });

    it('with -opentelemetry.usePrometheusNaming: a counter gains _total, names with a unit suffix stay', async () => {
      const named = await startVictoriaMetrics({
        bin: vmBin.bin,
        args: ['-opentelemetry.usePrometheusNaming'],
      });
      try {
        await pushText(
          `${named.url}/opentelemetry/v1/metrics`,
          ['instance=daily'],
          join(tmp.dir, 'state-naming'),
        );
        const series = await exported(named, '{__name__=~"restic_.*|transfers.*"}', 5);
        const labels = {
          service_name: 'nfs_backup',
          service_instance_id: 'daily',
          scope_name: 'resticprom',
          scope_version: getVersion(),
        };
        assert.deepEqual(show(series), [
          [{ __name__: 'restic_backup_duration_seconds', profile: 'nfs', ...labels }, [12.5]],
          [{ __name__: 'restic_backup_files_new', profile: 'nfs', ...labels }, [42]],
          [{ __name__: 'restic_backup_runs_total', outcome: 'failed', profile: 'nfs', ...labels }, [1]],
          [{ __name__: 'restic_backup_runs_total', outcome: 'success', profile: 'nfs', ...labels }, [7]],
          [{ __name__: 'transfers_total', ...labels }, [3]],
        ]);
      } finally {
        await named.stop();
      }
    });

    it('with the relabeling of docs/otlp.md: job and instance as Prometheus 3 gives them, no service.* labels', async () => {
      assert.ok(
        readFileSync(join(ROOT, 'docs', 'otlp.md'), 'utf8').includes(VM_RELABEL),
        'docs/otlp.md shows it',
      );
      const rules = join(tmp.dir, 'relabel.yml');
      writeFileSync(rules, VM_RELABEL);
      const relabeled = await startVictoriaMetrics({ bin: vmBin.bin, args: [`-relabelConfig=${rules}`] });
      try {
        await pushText(
          `${relabeled.url}/opentelemetry/v1/metrics`,
          ['instance=daily', 'tier=daily'],
          join(tmp.dir, 'state-relabel'),
        );
        const series = await exported(relabeled, 'restic_backup_files_new', 1);
        assert.deepEqual(show(series), [
          [
            {
              __name__: 'restic_backup_files_new',
              job: 'nfs_backup',
              instance: 'daily',
              profile: 'nfs',
              tier: 'daily',
            },
            [42],
          ],
        ]);
      } finally {
        await relabeled.stop();
      }
    });

    for (const restic of resticMatrix()) {
      it(`a real backup (restic ${restic.version}) with metrics.otlp in the config`, {
        skip: restic.skip,
      }, async () => {
        const dir = join(tmp.dir, `backup-${restic.version}`);
        mkdirSync(dir, { recursive: true });
        const repo = makeRepo(dir, 'otlp-e2e-password', { restic: restic.bin });
        const tree = makeSourceTree(join(dir, 'src'), { files: 12, bytes: 700 });
        const configFile = join(dir, 'resticprom.yaml');
        const profile = `p${restic.version.replace(/\D/g, '')}`;
        writeFileSync(
          configFile,
          `state-dir: ${join(dir, 'state')}
hostname: otlp-host
restic-binary: ${restic.bin}
profiles:
  ${profile}:
    repository: ${repo.repository}
    password-file: ${repo.passwordFile}
    env: { RESTIC_CACHE_DIR: ${repo.cacheDir} }
    paths: [${tree.dir}]
    tiers:
      daily: { schedule: "30 1 * * *" }
    metrics:
      job: nfs_backup
      grouping: { instance: "{tier}" }
      otlp:
        - url: "${vm.url}/opentelemetry/v1/metrics"
`,
          { mode: 0o600 },
        );
        const r = await runCli(['backup', '--config', configFile, '--profile', profile, '--tier', 'daily']);
        assert.equal(r.code, 0, r.stderr);
        const match = `{__name__=~"restic_backup_files_new|restic_backup_status|restic_backup_runs_total",profile="${profile}",outcome=~"success|"}`;
        const series = await exported(vm, match, 3);
        const labels = {
          'service.name': 'nfs_backup',
          'service.instance.id': 'daily',
          ...SCOPE,
          host: 'otlp-host',
          profile,
          tier: 'daily',
        };
        assert.deepEqual(show(series), [
          [{ __name__: 'restic_backup_files_new', ...labels }, [12]],
          [{ __name__: 'restic_backup_runs_total', ...labels, outcome: 'success' }, [1]],
          [{ __name__: 'restic_backup_status', ...labels }, [2]],
        ]);
      });
    }
  });
}

/** How a Prometheus binary turns on its OTLP receiver, or undefined when it has none. */
function otlpReceiverFlag(bin: string): string | undefined {
  const help = spawnSync(bin, ['--help'], { encoding: 'utf8', timeout: 20_000 });
  const text = `${help.stdout ?? ''}${help.stderr ?? ''}`;
  if (text.includes('--web.enable-otlp-receiver')) return '--web.enable-otlp-receiver';
  if (text.includes('otlp-write-receiver')) return '--enable-feature=otlp-write-receiver';
  return undefined;
}

for (const promBin of prometheusMatrix()) {
  const flag = promBin.skip ? undefined : otlpReceiverFlag(promBin.bin);
  const skip =
    promBin.skip ||
    (!flag &&
      `Prometheus ${promBin.version} here has no OTLP receiver (${atLeast(promBin, '2.47.0') ? "Debian's build disables it, Debian bug #1080354" : 'it came with 2.47'})`);
  describe(`otlp into Prometheus ${promBin.version}`, { skip }, () => {
    let prom: RunningPrometheus;
    let tmp: ReturnType<typeof makeTempDir>;
    before(async () => {
      tmp = makeTempDir('resticprom-otlp-prom-');
      prom = await startPrometheus({
        bin: promBin.bin,
        config: 'global:\n  scrape_interval: 1m\nscrape_configs: []\n',
        args: [flag as string],
      });
    });
    after(async () => {
      await prom?.stop();
      tmp?.cleanup();
    });

    it('job and instance from service.name and service.instance.id, the rest on target_info', async () => {
      await pushText(
        `${prom.url}/api/v1/otlp/v1/metrics`,
        ['instance=daily', 'site=ber', 'tier=daily'],
        join(tmp.dir, 'state'),
      );
      const files = await waitForQuery(prom.url, 'restic_backup_files_new', (s) => s.length === 1);
      // Scope labels (otel_scope_*) depend on the version's settings; the rest is the mapping.
      const metric = Object.fromEntries(
        Object.entries(files[0]?.metric ?? {}).filter(([k]) => !k.startsWith('otel_scope_')),
      );
      assert.deepEqual(metric, {
        __name__: 'restic_backup_files_new',
        instance: 'daily',
        job: 'nfs_backup',
        profile: 'nfs',
      });
      assert.equal(files[0]?.value[1], '42');
      const runs = await prom.query('sum by (outcome) (restic_backup_runs_total{job="nfs_backup"})');
      assert.deepEqual(runs.map((s) => [s.metric, s.value[1]]).sort(), [
        [{ outcome: 'failed' }, '1'],
        [{ outcome: 'success' }, '7'],
      ]);
      const info = await prom.query('target_info');
      assert.deepEqual(
        info.map((s) => s.metric),
        [{ __name__: 'target_info', instance: 'daily', job: 'nfs_backup', site: 'ber', tier: 'daily' }],
      );
      const transfers = await prom.query('transfers_total');
      assert.equal(transfers[0]?.value[1], '3');
      const q = await prom.query('histogram_quantile(0.5, upload_seconds_bucket)');
      assert.equal(q[0]?.value[1], '0.75');
    });
  });
}
