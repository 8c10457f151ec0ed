import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { validateExposition } from '../../src/metrics/exposition.js';
import { registryToText } from '../../src/metrics/registry.js';
import { addToGateway, pushToGateway } from '../../src/sinks/pushgateway.js';
import { gatewayGroups, groupValues, type RunningService, startPushgateway } from '../helpers/services.js';

function sampleRegistry(): Registry {
  const registry = new Registry();
  const files = new Gauge({
    name: 'backup_files',
    help: 'Files "processed"\nper tier \\ kind',
    labelNames: ['tier', 'kind'] as const,
    registers: [registry],
  });
  files.set({ tier: 'daily', kind: 'new' }, 12);
  files.set({ tier: 'daily', kind: 'changed "x"' }, 3);
  new Counter({ name: 'backup_runs_total', help: 'Runs', registers: [registry] }).inc(2);
  const h = new Histogram({
    name: 'backup_seconds',
    help: 'Durations',
    buckets: [1, 10],
    registers: [registry],
  });
  h.observe(0.5);
  h.observe(5);
  h.observe(50);
  // Declared but never set: left out.
  new Gauge({ name: 'unused', help: 'never set', labelNames: ['a'], registers: [registry] });
  return registry;
}

describe('registryToText', () => {
  it('turns gauges with labels, a counter and a histogram into valid canonical text', async () => {
    const text = await registryToText(sampleRegistry());
    assert.equal(
      text,
      [
        '# HELP backup_files Files "processed"\\nper tier \\\\ kind',
        '# TYPE backup_files gauge',
        'backup_files{tier="daily",kind="new"} 12',
        'backup_files{tier="daily",kind="changed \\"x\\""} 3',
        '# HELP backup_runs_total Runs',
        '# TYPE backup_runs_total counter',
        'backup_runs_total 2',
        '# HELP backup_seconds Durations',
        '# TYPE backup_seconds histogram',
        'backup_seconds_bucket{le="1"} 1',
        'backup_seconds_bucket{le="10"} 2',
        'backup_seconds_bucket{le="+Inf"} 3',
        'backup_seconds_sum 55.5',
        'backup_seconds_count 3',
        '',
      ].join('\n'),
    );
    const fams = validateExposition(text, { groupingLabels: ['job', 'instance'] });
    assert.deepEqual(
      fams.map((f) => [f.name, f.type, f.samples.length]),
      [
        ['backup_files', 'gauge', 2],
        ['backup_runs_total', 'counter', 1],
        ['backup_seconds', 'histogram', 5],
      ],
    );
  });

  it('includes default labels and ignores the OpenMetrics content type', async () => {
    const registry = new Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE>();
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    registry.setDefaultLabels({ host: 'nfs1' });
    new Counter({ name: 'c', help: 'c', registers: [registry] }).inc();
    assert.equal(await registryToText(registry), '# HELP c c\n# TYPE c counter\nc{host="nfs1"} 1\n');
  });
});

describe('prom-client registry into the real Pushgateway', () => {
  let gw: RunningService;
  before(async () => {
    gw = await startPushgateway();
  });
  after(async () => {
    await gw?.stop();
  });

  it('pushToGateway with a registry, then addToGateway keeps the other families', async () => {
    await pushToGateway({
      url: gw.url,
      job: 'reg',
      grouping: { instance: 'daily' },
      registry: sampleRegistry(),
    });
    let groups = await gatewayGroups(gw.url);
    assert.equal(groups.length, 1);
    const g = groups[0] as (typeof groups)[number];
    const base = { job: 'reg', instance: 'daily' };
    assert.deepEqual(
      groupValues(g, 'backup_files').sort((a, b) => a.value.localeCompare(b.value)),
      [
        { labels: { ...base, tier: 'daily', kind: 'new' }, value: '12' },
        { labels: { ...base, tier: 'daily', kind: 'changed "x"' }, value: '3' },
      ].sort((a, b) => a.value.localeCompare(b.value)),
    );
    assert.deepEqual(groupValues(g, 'backup_runs_total'), [{ labels: base, value: '2' }]);
    const hist = (
      g.backup_seconds as { metrics: { buckets: Record<string, string>; count: string; sum: string }[] }
    ).metrics[0];
    assert.deepEqual(hist, {
      labels: base,
      buckets: { '1': '1', '10': '2', '+Inf': '3' },
      count: '3',
      sum: '55.5',
    });

    const second = new Registry();
    new Counter({ name: 'backup_runs_total', help: 'Runs', registers: [second] }).inc(5);
    await addToGateway({ url: gw.url, job: 'reg', grouping: { instance: 'daily' }, registry: second });
    groups = await gatewayGroups(gw.url);
    const g2 = groups[0] as (typeof groups)[number];
    assert.deepEqual(groupValues(g2, 'backup_runs_total'), [{ labels: base, value: '5' }]);
    assert.equal(groupValues(g2, 'backup_files').length, 2);
  });
});
