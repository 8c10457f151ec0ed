import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  DASHBOARD_VARIABLES,
  type DashboardJson,
  dashboardQueries,
  generateDashboard,
  substituteVariables,
} from '../../src/deploy/dashboard.js';
import { BACKUP_FAMILIES, REPOSITORY_FAMILIES } from './sample-metrics.js';

const ROOT = join(import.meta.dirname, '..', '..');
const committed = JSON.parse(
  readFileSync(join(ROOT, 'deploy/grafana/resticprom-dashboard.json'), 'utf8'),
) as DashboardJson;

describe('Grafana dashboard', () => {
  it('the committed JSON is the generator output', () => {
    assert.deepEqual(committed, generateDashboard());
  });

  it('is a Grafana 10+ model with a uid, a data source variable and job/profile/tier/host variables', () => {
    assert.equal(committed.uid, 'resticprom');
    assert.equal(committed.schemaVersion, 39);
    const vars = (committed.templating as { list: { name: string; type: string; query?: unknown }[] }).list;
    assert.deepEqual(
      vars.map((v) => [v.name, v.type]),
      [['datasource', 'datasource'], ...DASHBOARD_VARIABLES.map((n) => [n, 'query'])],
    );
    for (const v of vars.slice(1)) assert.match(String(v.query), /^label_values\(restic_backup_status/);
  });

  it('every panel has a query on the chosen data source, a unique id and fits the 24-column grid', () => {
    const ids = new Set<number>();
    const panels = committed.panels.filter((p) => p.type !== 'row');
    assert.ok(panels.length >= 15);
    for (const p of committed.panels) {
      assert.ok(!ids.has(p.id), `duplicate id ${p.id}`);
      ids.add(p.id);
      const g = p.gridPos as { x: number; w: number };
      assert.ok(g.x >= 0 && g.x + g.w <= 24, `${p.title}: gridPos`);
    }
    for (const p of panels) {
      assert.ok((p.targets ?? []).length > 0, `${p.title}: no query`);
      for (const t of p.targets ?? []) {
        assert.ok(t.expr && t.refId, `${p.title}: target without expr or refId`);
      }
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana variable
      assert.deepEqual(p.datasource, { type: 'prometheus', uid: '${datasource}' }, `${p.title}: datasource`);
    }
  });

  it('covers the metrics it promises: outcome, age, sizes, files, dirs, unreadable, stats, forget, check, delivery', () => {
    const exprs = dashboardQueries(committed)
      .map((q) => q.expr)
      .join('\n');
    const skip = new Set([
      'restic_backup_time', // the seed's duration; restic_backup_duration_seconds is shown
      'restic_backup_processed_files',
      'restic_backup_end_timestamp_seconds',
      'restic_backup_exit_code',
      'restic_backup_runs_total',
      'restic_backup_added_packed_bytes',
      'restic_backup_data_blobs',
      'restic_backup_tree_blobs',
      'restic_backup_snapshot_info',
    ]);
    const wanted = [
      ...BACKUP_FAMILIES.map((d) => d.name).filter((n) => !skip.has(n)),
      'restic_stats_raw_size_bytes',
      'restic_stats_restore_size_bytes',
      'restic_stats_snapshots',
      'restic_stats_tier_snapshots',
      'restic_forget_snapshots_kept',
      'restic_forget_snapshots_removed',
      'restic_check_errors',
      'restic_check_last_success_timestamp_seconds',
      'push_time_seconds',
      'push_failure_time_seconds',
      'restic:backup_last_success_age_seconds',
      'restic:backup_max_age_seconds',
    ];
    for (const name of wanted) assert.match(exprs, new RegExp(`\\b${name}\\{`), `no panel shows ${name}`);
    // Every restic_* name used exists in the metric table.
    const known = new Set([...BACKUP_FAMILIES, ...REPOSITORY_FAMILIES].map((d) => d.name));
    for (const m of exprs.matchAll(/\b(restic_[a-z_]+)\{/g)) assert.ok(known.has(m[1] as string), m[1]);
  });

  it('substituteVariables fills template variables', () => {
    assert.equal(
      substituteVariables('x{job=~"$job",tier=~"$tier",a="$unknown"}', { job: 'nfs_backup', tier: '.*' }),
      'x{job=~"nfs_backup",tier=~".*",a="$unknown"}',
    );
  });
});
