/**
 * `resticprom push --remote-write` read back from every remote-write receiver of the matrix:
 * Prometheus 2.42 and 3.x (`--web.enable-remote-write-receiver`) and VictoriaMetrics 1.79
 * (Debian 12) and 1.145 (sid), the engine a user moves to when one Prometheus is not enough.
 * Each returns the values with the job, grouping and series labels, at the time measured.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { waitUntil } from '../helpers/e2e.js';
import { type MatrixEntry, prometheusMatrix, victoriaMetricsMatrix } from '../helpers/matrix.js';
import { makeTempDir, type PromSample, startPrometheus, startVictoriaMetrics } from '../helpers/services.js';

const TEXT = `# TYPE restic_backup_processed_files gauge
restic_backup_processed_files{tier="daily"} 42
restic_backup_processed_files{tier="weekly"} 7
# TYPE restic_backup_runs_total counter
restic_backup_runs_total{outcome="success"} 3
`;

interface Receiver {
  name: string;
  entry: MatrixEntry;
  start: () => Promise<{
    writeUrl: string;
    query: (q: string) => Promise<PromSample[]>;
    stop: () => Promise<void>;
  }>;
}

const receivers: Receiver[] = [
  ...prometheusMatrix().map((entry) => ({
    name: `Prometheus ${entry.version}`,
    entry,
    start: async () => {
      const prom = await startPrometheus({
        bin: entry.bin,
        config: 'global:\n  scrape_interval: 1m\nscrape_configs: []\n',
        args: ['--web.enable-remote-write-receiver'],
      });
      return { writeUrl: `${prom.url}/api/v1/write`, query: prom.query, stop: prom.stop };
    },
  })),
  ...victoriaMetricsMatrix().map((entry) => ({
    name: `VictoriaMetrics ${entry.version}`,
    entry,
    start: async () => {
      const vm = await startVictoriaMetrics({ bin: entry.bin });
      return { writeUrl: `${vm.url}/api/v1/write`, query: vm.query, stop: vm.stop };
    },
  })),
];

for (const receiver of receivers) {
  describe(`push --remote-write read back from ${receiver.name}`, { skip: receiver.entry.skip }, () => {
    const tmp = makeTempDir('resticprom-rw-matrix-');
    after(() => tmp.cleanup());

    it('stores every series with job, grouping and series labels at the time it was measured', async () => {
      await ensureBuilt();
      const server = await receiver.start();
      try {
        const before = Date.now();
        const r = await runCli(
          [
            'push',
            '--remote-write',
            server.writeUrl,
            '--job',
            'nfs_backup',
            '--group',
            'instance=daily',
            '--state-dir',
            tmp.dir,
          ],
          { input: TEXT },
        );
        const after = Date.now();
        assert.equal(r.code, ExitCode.OK, r.stderr);
        const files = await waitUntil('the series to be searchable', async () => {
          const x = await server.query('restic_backup_processed_files');
          return x.length === 2 ? x : undefined;
        });
        assert.deepEqual(
          files.map((s) => [s.metric, s.value[1]]).sort((a, b) => String(a[1]).localeCompare(String(b[1]))),
          [
            [
              {
                __name__: 'restic_backup_processed_files',
                instance: 'daily',
                job: 'nfs_backup',
                tier: 'daily',
              },
              '42',
            ],
            [
              {
                __name__: 'restic_backup_processed_files',
                instance: 'daily',
                job: 'nfs_backup',
                tier: 'weekly',
              },
              '7',
            ],
          ],
        );
        const runs = await server.query('restic_backup_runs_total');
        assert.deepEqual(
          runs.map((s) => [s.metric, s.value[1]]),
          [
            [
              {
                __name__: 'restic_backup_runs_total',
                instance: 'daily',
                job: 'nfs_backup',
                outcome: 'success',
              },
              '3',
            ],
          ],
        );
        const ts = await server.query('timestamp(restic_backup_runs_total)');
        const at = Number(ts[0]?.value[1]) * 1000;
        assert.ok(
          at >= before - 1000 && at <= after,
          `sample time ${at} not within the push (${before}..${after})`,
        );
      } finally {
        await server.stop();
      }
    });
  });
}
