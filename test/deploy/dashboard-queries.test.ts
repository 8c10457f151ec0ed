/**
 * Every dashboard panel's query, run against a real Prometheus that scrapes a real
 * Pushgateway holding the metrics of real runs and evaluates resticprom's rules,
 * returns data. The runs are the built CLI's `backup`, `forget --tier`, `check`
 * and `stats` with the real restic on a temporary repository: no sample values.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dashboardQueries, generateDashboard, substituteVariables } from '../../src/deploy/dashboard.js';
import { generateRules, SEED_RULES_OPTIONS } from '../../src/deploy/rules.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { serverMatrix } from '../helpers/matrix.js';
import { makeRepo, makeSourceTree } from '../helpers/restic.js';
import {
  gatewayGroups,
  makeTempDir,
  type RunningPrometheus,
  type RunningService,
  scrapeConfig,
  startPrometheus,
  startPushgateway,
  waitForQuery,
} from '../helpers/services.js';

const JOB = 'nfs_backup';

for (const servers of serverMatrix()) {
  describe(`dashboard queries against real Prometheus data (${servers.label})`, {
    skip: servers.skip,
  }, () => {
    const tmp = makeTempDir('resticprom-dash-');
    let gw: RunningService;
    let prom: RunningPrometheus;

    before(async () => {
      await ensureBuilt();
      gw = await startPushgateway({ bin: servers.pushgateway.bin });
      prom = await startPrometheus({
        bin: servers.prometheus.bin,
        config: `${scrapeConfig([{ job: 'pushgateway', target: `127.0.0.1:${gw.port}` }])}rule_files:\n  - rules.yml\n`,
        ruleFiles: { 'rules.yml': generateRules(SEED_RULES_OPTIONS) },
      });
      const repo = makeRepo(tmp.dir, 'dash-test-password');
      const tree = makeSourceTree(join(tmp.dir, 'src'), { files: 20, bytes: 4096 });
      const config = join(tmp.dir, 'resticprom.yaml');
      writeFileSync(
        config,
        `state-dir: ${join(tmp.dir, 'state')}
hostname: nfs1
profiles:
  nfs:
    repository: ${repo.repository}
    password-file: ${repo.passwordFile}
    env: { RESTIC_CACHE_DIR: ${repo.cacheDir} }
    paths: [${tree.dir}]
    check: { schedule: "0 5 * * 0" }
    stats: { schedule: "15 * * * *" }
    tiers:
      daily: { schedule: "30 1 * * *", keep-last: 7 }
    metrics:
      job: ${JOB}
      grouping: { instance: "{tier}" }
      pushgateway: { url: "${gw.url}" }
`,
        { mode: 0o600 },
      );
      // What the schedules run, in the order a day brings them.
      for (const args of [
        ['backup', '--tier', 'daily'],
        ['forget', '--tier', 'daily'],
        ['check'],
        ['stats'],
      ]) {
        const r = await runCli([...args, '--config', config, '--quiet'], { env: { HOME: tmp.dir } });
        assert.equal(r.code, 0, `resticprom ${args.join(' ')} failed: ${r.stderr}`);
      }
      // Each run pushed to its own group: the tier's for backup and forget, check's and stats' own.
      const groups = await gatewayGroups(gw.url);
      const instanceOf = (family: string) =>
        groups.filter((g) => family in g).map((g) => `${g.labels.job}/${g.labels.instance}`);
      assert.deepEqual(instanceOf('restic_backup_status'), [`${JOB}/daily`]);
      assert.deepEqual(instanceOf('restic_forget_snapshots_kept'), [`${JOB}/daily`]);
      assert.deepEqual(instanceOf('restic_check_errors'), [`${JOB}/check`]);
      assert.deepEqual(instanceOf('restic_stats_snapshots'), [`${JOB}/stats`]);
      // Wait until a scrape and a rule evaluation saw everything.
      await waitForQuery(prom.url, 'restic_stats_snapshots', (r) => r.length > 0);
      await waitForQuery(prom.url, 'restic_check_errors', (r) => r.length > 0);
      await waitForQuery(prom.url, 'restic:backup_last_success_age_seconds', (r) => r.length > 0);
    });

    after(async () => {
      await prom?.stop();
      await gw?.stop();
      tmp.cleanup();
    });

    it('every panel query returns data with the variables set as Grafana would', async () => {
      const dashboard = generateDashboard();
      const queries = dashboardQueries(dashboard);
      assert.ok(queries.length >= 20);
      const values = { job: JOB, profile: '.*', tier: '.*', host: '.*' };
      const empty: string[] = [];
      for (const q of queries) {
        const expr = substituteVariables(q.expr, values);
        assert.doesNotMatch(expr, /\$\w/, `${q.panel}: variable left in ${expr}`);
        const res = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
        const body = (await res.json()) as { status: string; error?: string; data?: { result: unknown[] } };
        assert.equal(body.status, 'success', `${q.panel} ${q.refId}: ${body.error} (${expr})`);
        if ((body.data?.result ?? []).length === 0) empty.push(`${q.panel} ${q.refId}: ${expr}`);
      }
      assert.deepEqual(empty, [], 'queries without data');
    });

    it('the variable queries list the pushed job, profile, tier and host', async () => {
      const labelValues = async (label: string, match: string) => {
        const res = await fetch(
          `${prom.url}/api/v1/label/${label}/values?match[]=${encodeURIComponent(match)}`,
        );
        return ((await res.json()) as { data: string[] }).data;
      };
      assert.deepEqual(await labelValues('job', 'restic_backup_status'), [JOB]);
      assert.deepEqual(await labelValues('profile', `restic_backup_status{job=~"${JOB}"}`), ['nfs']);
      assert.deepEqual(await labelValues('tier', `restic_backup_status{job=~"${JOB}",profile=~".*"}`), [
        'daily',
      ]);
      assert.deepEqual(
        await labelValues('host', `restic_backup_status{job=~"${JOB}",profile=~".*",tier=~".*"}`),
        ['nfs1'],
      );
    });

    it('the age / tier limit panel divides by the daily limit of 26h', async () => {
      const q = dashboardQueries(generateDashboard()).find(
        (x) => x.panel === 'Age of last success / tier limit',
      );
      assert.ok(q);
      const r = await waitForQuery(
        prom.url,
        substituteVariables(q.expr, { job: JOB, profile: '.*', tier: '.*', host: '.*' }),
        (x) => x.length === 1,
      );
      const age = await waitForQuery(
        prom.url,
        'restic:backup_last_success_age_seconds',
        (x) => x.length === 1,
      );
      const ratio = Number(r[0]?.value[1]);
      const ageSeconds = Number(age[0]?.value[1]);
      // Both read within a few seconds of each other: the ratio is the age over 93600 s.
      assert.ok(Math.abs(ratio - ageSeconds / 93600) < 10 / 93600, `ratio ${ratio}, age ${ageSeconds}`);
    });
  });
}
