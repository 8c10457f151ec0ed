/**
 * The dashboard shows failures: a failure-rate panel from the run counters, an annotation
 * where a run failed, and delivery legends that tell tiers apart whatever the grouping
 * (the default grouping's instance is the tier; a custom one's may be the host name).
 * The queries themselves are run against Prometheus by dashboard-queries.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateDashboard } from '../../src/deploy/dashboard.js';

describe('dashboard failures', () => {
  const d = generateDashboard();

  it('has a failure-rate panel over the run counters', () => {
    const panel = d.panels.find((p) => p.title === 'Failure rate');
    assert.equal(
      panel?.targets?.[0]?.expr,
      'sum by (profile, tier, host) (increase(restic_backup_runs_total{outcome=~"failed|interrupted",job=~"$job",profile=~"$profile",tier=~"$tier",host=~"$host"}[1d]))' +
        ' / sum by (profile, tier, host) (increase(restic_backup_runs_total{job=~"$job",profile=~"$profile",tier=~"$tier",host=~"$host"}[1d]))',
    );
  });

  it('annotates failed runs', () => {
    const list = (
      d as unknown as { annotations: { list: { name: string; expr: string; textFormat: string }[] } }
    ).annotations.list;
    assert.deepEqual(
      list.map((a) => [a.name, a.expr, a.textFormat]),
      [
        [
          'Backup failures',
          'increase(restic_backup_runs_total{outcome=~"failed|interrupted",job=~"$job",profile=~"$profile",tier=~"$tier",host=~"$host"}[5m]) > 0',
          '{{profile}}/{{tier}} on {{host}}',
        ],
      ],
    );
  });

  it('delivery legends name every grouping label, not only job and instance', () => {
    for (const title of ['Time since last push', 'Last push refused']) {
      const legend = d.panels.find((p) => p.title === title)?.targets?.[0]?.legendFormat;
      assert.equal(legend, '{{job}} {{instance}} {{profile}} {{tier}} {{host}}', title);
    }
  });
});
