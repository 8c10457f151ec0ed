/**
 * Generates the Grafana dashboard (JSON model, Grafana 10+) for resticprom's metrics
 * with the Grafana Foundation SDK's typed builders. Metric names come from the table
 * in src/metrics/names.ts, so a renamed metric cannot leave a panel behind.
 *
 * JSON model: https://grafana.com/docs/grafana/latest/dashboards/build-dashboards/view-dashboard-json-model/
 */
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as common from '@grafana/grafana-foundation-sdk/common';
import {
  DashboardBuilder,
  type DataSourceRef,
  DatasourceVariableBuilder,
  MappingType,
  QueryVariableBuilder,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  type ValueMapping,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as StateTimelinePanel } from '@grafana/grafana-foundation-sdk/statetimeline';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import {
  BACKUP_METRICS as B,
  CHECK_METRICS as C,
  FORGET_METRICS as F,
  SEED_METRICS as S,
  STATS_METRICS as ST,
} from '../metrics/names.js';
import { RECORDING_RULES } from './rules.js';

/** Options of {@link generateDashboard}. */
export interface DashboardOptions {
  /** Dashboard uid (stable across imports). @default 'resticprom' */
  uid?: string;
  /** Dashboard title. @default 'restic backups (resticprom)' */
  title?: string;
}

/** The dashboard's template variables besides the data source, in dependency order. */
export const DASHBOARD_VARIABLES = ['job', 'profile', 'tier', 'host'] as const;

/** A dashboard JSON model (what Grafana imports). */
export type DashboardJson = Record<string, unknown> & { panels: DashboardPanelJson[] };

/** The parts of a panel's JSON the tests and tools read. */
export interface DashboardPanelJson {
  id: number;
  type: string;
  title: string;
  targets?: { refId?: string; expr?: string; legendFormat?: string }[];
  [key: string]: unknown;
}

/**
 * The schema version written. The SDK stamps its newest (42, Grafana 12); the model
 * built here uses nothing newer than Grafana 10.4's schema 39, and Grafana only
 * migrates upwards, so the older number keeps the file importable into Grafana 10 and 11.
 */
const SCHEMA_VERSION = 39;

// Grafana's variable syntax, not a JS template: the panels use the data source picked in `$datasource`.
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana variable
const DS: DataSourceRef = { type: 'prometheus', uid: '${datasource}' };
const ALL = `job=~"$job",profile=~"$profile",tier=~"$tier",host=~"$host"`;
/** Repository-wide series (stats, check) may carry no tier label. */
const REPO = `job=~"$job",profile=~"$profile",host=~"$host"`;
const WHO = '{{profile}}/{{tier}} {{host}}';
/** Every grouping label a push can carry: the default grouping's `instance` is the tier, a custom one may be the host. */
const GROUP_WHO = '{{job}} {{instance}} {{profile}} {{tier}} {{host}}';
const RUNS = B.runsTotal.name;
/** Failed or interrupted runs over all runs of the last day, per profile, tier and host. */
const FAILURE_RATE =
  `sum by (profile, tier, host) (increase(${RUNS}{outcome=~"failed|interrupted",${ALL}}[1d]))` +
  ` / sum by (profile, tier, host) (increase(${RUNS}{${ALL}}[1d]))`;

const STATUS_MAPPINGS: ValueMapping[] = [
  {
    type: MappingType.ValueToText,
    options: {
      '0': { text: 'failed', color: 'red', index: 0 },
      '1': { text: 'incomplete', color: 'orange', index: 1 },
      '2': { text: 'ok', color: 'green', index: 2 },
    },
  },
];

function thresholds(
  steps: [number | null, string][],
): cog.Builder<import('@grafana/grafana-foundation-sdk/dashboard').ThresholdsConfig> {
  return new ThresholdsConfigBuilder()
    .mode(ThresholdsMode.Absolute)
    .steps(steps.map(([value, color]) => ({ value, color })));
}

function query(expr: string, legend: string, refId = 'A'): DataqueryBuilder {
  return new DataqueryBuilder().expr(expr).legendFormat(legend).refId(refId);
}

function lastValue(): cog.Builder<common.ReduceDataOptions> {
  return new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false);
}

function stat(title: string, description: string): StatPanel {
  return new StatPanel()
    .title(title)
    .description(description)
    .datasource(DS)
    .reduceOptions(lastValue())
    .graphMode(common.BigValueGraphMode.None)
    .colorMode(common.BigValueColorMode.Background);
}

function timeseries(title: string, description: string, unit: string): TimeseriesPanel {
  return new TimeseriesPanel()
    .title(title)
    .description(description)
    .datasource(DS)
    .unit(unit)
    .min(0)
    .legend(
      new common.VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(common.LegendDisplayMode.List)
        .placement(common.LegendPlacement.Bottom),
    );
}

function row(title: string): RowBuilder {
  return new RowBuilder(title);
}

/**
 * Generates the resticprom Grafana dashboard as a JSON model: variables for the data
 * source, job, profile, tier and host; panels for the state and age of the last
 * success per tier coloured against the tier's limit, the last outcome over time,
 * duration, bytes, files and directories, unreadable files, repository size and
 * snapshot counts, forget and check results, and delivery health from the
 * Pushgateway's own series.
 */
export function generateDashboard(opts: DashboardOptions = {}): DashboardJson {
  // `job` picks one or more jobs (All would also match other jobs' Pushgateway groups);
  // the others default to All.
  const variable = (name: string, label: string, q: string, isAllowingAll = true) => {
    const v = new QueryVariableBuilder(name)
      .label(label)
      .datasource(DS)
      .query(q)
      .definition(q)
      .refresh(VariableRefresh.OnTimeRangeChanged)
      .sort(VariableSort.AlphabeticalAsc)
      .multi(true)
      .includeAll(isAllowingAll);
    return isAllowingAll ? v.allValue('.*') : v;
  };
  const status = B.status.name;
  let y = 0;
  // Lays panels out left to right, wrapping at 24 columns.
  let x = 0;
  let rowHeight = 0;
  const place = <T extends { gridPos: (g: { x: number; y: number; w: number; h: number }) => T }>(
    panel: T,
    w: number,
    h: number,
  ): T => {
    if (x + w > 24) {
      y += rowHeight;
      x = 0;
      rowHeight = 0;
    }
    const placed = panel.gridPos({ x, y, w, h });
    x += w;
    rowHeight = Math.max(rowHeight, h);
    return placed;
  };
  const newRow = (title: string): RowBuilder => {
    y += rowHeight;
    x = 0;
    rowHeight = 0;
    const r = row(title).gridPos({ x: 0, y, w: 24, h: 1 });
    y += 1;
    return r;
  };

  const builder = new DashboardBuilder(opts.title ?? 'restic backups (resticprom)')
    .uid(opts.uid ?? 'resticprom')
    .description(
      'Backups run by resticprom: freshness per tier, outcomes, sizes, repository health, delivery.',
    )
    .tags(['restic', 'backup', 'resticprom'])
    .editable()
    .refresh('1m')
    .time({ from: 'now-7d', to: 'now' })
    .timezone('browser')
    .withVariable(new DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'))
    .withVariable(variable('job', 'Job', `label_values(${status}, job)`, false))
    .withVariable(variable('profile', 'Profile', `label_values(${status}{job=~"$job"}, profile)`))
    .withVariable(variable('tier', 'Tier', `label_values(${status}{job=~"$job",profile=~"$profile"}, tier)`))
    .withVariable(
      variable(
        'host',
        'Host',
        `label_values(${status}{job=~"$job",profile=~"$profile",tier=~"$tier"}, host)`,
      ),
    );

  // --- Freshness and outcome
  builder.withRow(newRow('Freshness and outcome'));
  builder.withPanel(
    place(
      stat('Last outcome', 'Outcome of the last run per tier: ok, incomplete (unreadable files) or failed.')
        .withTarget(query(`${status}{${ALL}}`, WHO))
        .mappings(STATUS_MAPPINGS)
        .thresholds(
          thresholds([
            [null, 'red'],
            [1, 'orange'],
            [2, 'green'],
          ]),
        ),
      8,
      6,
    ),
  );
  builder.withPanel(
    place(
      stat(
        'Age of last success / tier limit',
        `How old the last successful backup is, as a share of the tier's limit ` +
          `(${RECORDING_RULES.maxAge}, from the resticprom rules): red at 100% = ResticBackupLate.`,
      )
        .withTarget(
          query(
            `${RECORDING_RULES.lastSuccessAge}{${ALL}} / on(job, tier) group_left() ` +
              `max by (job, tier) (${RECORDING_RULES.maxAge}{job=~"$job"})`,
            WHO,
          ),
        )
        .unit('percentunit')
        .decimals(0)
        .thresholds(
          thresholds([
            [null, 'green'],
            [0.75, 'orange'],
            [1, 'red'],
          ]),
        ),
      8,
      6,
    ),
  );
  builder.withPanel(
    place(
      stat('Age of last success', 'Time since the last successful backup ended, per tier.')
        .withTarget(query(`time() - ${B.lastSuccessTimestamp.name}{${ALL}}`, WHO))
        .unit('s')
        .colorMode(common.BigValueColorMode.Value)
        .thresholds(thresholds([[null, 'text']])),
      8,
      6,
    ),
  );
  builder.withPanel(
    place(
      new StateTimelinePanel()
        .title('Outcome over time')
        .description('The status each run pushed: green ok, orange incomplete, red failed.')
        .datasource(DS)
        .withTarget(query(`${status}{${ALL}}`, WHO))
        .mappings(STATUS_MAPPINGS)
        .thresholds(
          thresholds([
            [null, 'red'],
            [1, 'orange'],
            [2, 'green'],
          ]),
        ),
      24,
      7,
    ),
  );

  // --- What was backed up
  builder.withRow(newRow('Backup runs'));
  builder.withPanel(
    place(
      timeseries('Duration', 'Wall-clock time of the last run.', 's').withTarget(
        query(`${B.durationSeconds.name}{${ALL}}`, WHO),
      ),
      12,
      8,
    ),
  );
  builder.withPanel(
    place(
      timeseries(
        'Failure rate',
        'Share of the runs of the last day that failed or were interrupted, from the run counters (they survive restarts).',
        'percentunit',
      ).withTarget(query(FAILURE_RATE, WHO)),
      12,
      8,
    ),
  );
  builder.withPanel(
    place(
      timeseries(
        'Bytes processed and added',
        'Bytes read from the source, and bytes new to the repository.',
        'bytes',
      )
        .withTarget(query(`${S.processedBytes.name}{${ALL}}`, `processed ${WHO}`, 'A'))
        .withTarget(query(`${B.addedBytes.name}{${ALL}}`, `added ${WHO}`, 'B')),
      12,
      8,
    ),
  );
  builder.withPanel(
    place(
      timeseries('Files new / changed / unchanged', "The last run's file counts.", 'short')
        .withTarget(query(`${S.filesNew.name}{${ALL}}`, `new ${WHO}`, 'A'))
        .withTarget(query(`${S.filesChanged.name}{${ALL}}`, `changed ${WHO}`, 'B'))
        .withTarget(query(`${S.filesUnchanged.name}{${ALL}}`, `unchanged ${WHO}`, 'C')),
      8,
      8,
    ),
  );
  builder.withPanel(
    place(
      timeseries('Dirs new / changed / unchanged', "The last run's directory counts.", 'short')
        .withTarget(query(`${S.dirsNew.name}{${ALL}}`, `new ${WHO}`, 'A'))
        .withTarget(query(`${S.dirsChanged.name}{${ALL}}`, `changed ${WHO}`, 'B'))
        .withTarget(query(`${S.dirsUnchanged.name}{${ALL}}`, `unchanged ${WHO}`, 'C')),
      8,
      8,
    ),
  );
  builder.withPanel(
    place(
      stat('Unreadable files', 'Files or directories restic could not read in the last run.')
        .withTarget(query(`${B.unreadableFiles.name}{${ALL}}`, WHO))
        .thresholds(
          thresholds([
            [null, 'green'],
            [1, 'orange'],
          ]),
        ),
      8,
      8,
    ),
  );

  // --- Repository
  builder.withRow(newRow('Repository'));
  builder.withPanel(
    place(
      timeseries(
        'Repository size',
        'Size as stored (raw data) and size of all snapshots when restored.',
        'bytes',
      )
        .withTarget(query(`${ST.rawSizeBytes.name}{${REPO}}`, 'stored {{profile}} {{host}}', 'A'))
        .withTarget(query(`${ST.restoreSizeBytes.name}{${REPO}}`, 'restore size {{profile}} {{host}}', 'B')),
      12,
      8,
    ),
  );
  builder.withPanel(
    place(
      timeseries('Snapshots', 'Snapshots in the repository, and per tier tag.', 'short')
        .withTarget(query(`${ST.snapshots.name}{${REPO}}`, 'all {{profile}} {{host}}', 'A'))
        .withTarget(query(`${ST.tierSnapshots.name}{${REPO}}`, '{{tag}} {{profile}} {{host}}', 'B')),
      12,
      8,
    ),
  );
  builder.withPanel(
    place(
      timeseries(
        'Forget: snapshots kept / removed',
        'What the last `restic forget` of each tier kept and removed.',
        'short',
      )
        .withTarget(query(`${F.snapshotsKept.name}{${ALL}}`, `kept ${WHO}`, 'A'))
        .withTarget(query(`${F.snapshotsRemoved.name}{${ALL}}`, `removed ${WHO}`, 'B')),
      8,
      8,
    ),
  );
  builder.withPanel(
    place(
      stat(
        'Check errors',
        'Errors found by the last `restic check` (anything above 0: the repository is damaged).',
      )
        .withTarget(query(`${C.errors.name}{${REPO}}`, '{{profile}} {{host}}'))
        .thresholds(
          thresholds([
            [null, 'green'],
            [1, 'red'],
          ]),
        ),
      8,
      8,
    ),
  );
  builder.withPanel(
    place(
      stat(
        'Age of last successful check',
        'Time since the last successful `restic check` (alert after 8 days).',
      )
        .withTarget(query(`time() - ${C.lastSuccessTimestamp.name}{${REPO}}`, '{{profile}} {{host}}'))
        .unit('s')
        .thresholds(
          thresholds([
            [null, 'green'],
            [8 * 86_400, 'red'],
          ]),
        ),
      8,
      8,
    ),
  );

  // --- Delivery
  builder.withRow(newRow('Delivery (Pushgateway)'));
  builder.withPanel(
    place(
      stat(
        'Time since last push',
        "Per Pushgateway group: time since the last accepted push (the gateway's push_time_seconds).",
      )
        .withTarget(query(`time() - push_time_seconds{job=~"$job"}`, GROUP_WHO))
        .unit('s')
        .colorMode(common.BigValueColorMode.Value)
        .thresholds(thresholds([[null, 'text']])),
      12,
      6,
    ),
  );
  builder.withPanel(
    place(
      stat(
        'Last push refused',
        'Per Pushgateway group: 1 when the last push was refused (push_failure_time_seconds newer than push_time_seconds).',
      )
        .withTarget(
          query(`push_failure_time_seconds{job=~"$job"} > bool push_time_seconds{job=~"$job"}`, GROUP_WHO),
        )
        .mappings([
          {
            type: MappingType.ValueToText,
            options: {
              '0': { text: 'ok', color: 'green', index: 0 },
              '1': { text: 'refused', color: 'red', index: 1 },
            },
          },
        ])
        .thresholds(
          thresholds([
            [null, 'green'],
            [1, 'red'],
          ]),
        ),
      12,
      6,
    ),
  );

  // A plain JSON value: the SDK's objects carry marker methods (e.g. on queries).
  const model = JSON.parse(JSON.stringify(builder.build())) as DashboardJson;
  model.schemaVersion = SCHEMA_VERSION;
  model.annotations = {
    list: [
      {
        name: 'Backup failures',
        datasource: DS,
        enable: true,
        iconColor: 'red',
        // A failed run counts once in the counter: an annotation where it grew.
        expr: `increase(${RUNS}{outcome=~"failed|interrupted",${ALL}}[5m]) > 0`,
        step: '1m',
        titleFormat: 'backup failed',
        textFormat: '{{profile}}/{{tier}} on {{host}}',
      },
    ],
  };
  model.panels.forEach((p, i) => {
    p.id = i + 1;
  });
  return model;
}

/** Every panel's PromQL queries with the panel title, for checks that each one returns data. */
export function dashboardQueries(dashboard: DashboardJson): { panel: string; refId: string; expr: string }[] {
  const out: { panel: string; refId: string; expr: string }[] = [];
  for (const p of dashboard.panels) {
    for (const t of p.targets ?? []) {
      if (t.expr) out.push({ panel: p.title, refId: t.refId ?? '', expr: t.expr });
    }
  }
  return out;
}

/** Replaces `$name` template variables in a query with the given values (regex alternatives for several). */
export function substituteVariables(expr: string, values: Record<string, string>): string {
  return expr.replace(/\$(\w+)/g, (whole, name: string) => values[name] ?? whole);
}
