/**
 * The rules load and evaluate cleanly in every Prometheus of the matrix (2.42 and 3.x): the
 * rules `resticprom rules` generates from a config and the committed
 * deploy/prometheus/resticprom-rules.yml, evaluated every second over real metrics (a real
 * backup, check and stats pushed through the real Pushgateway). Every rule's health is `ok`
 * with no last error, and Prometheus logs no rule evaluation failure.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { ensureBuilt, ROOT, runCli } from '../helpers/cli.js';
import { serverMatrix } from '../helpers/matrix.js';
import { makeRepo, makeSourceTree } from '../helpers/restic.js';
import {
  makeTempDir,
  type RunningPrometheus,
  type RunningService,
  scrapeConfig,
  startPrometheus,
  startPushgateway,
  waitForQuery,
} from '../helpers/services.js';

interface RuleHealth {
  name: string;
  health: string;
  lastError?: string;
  lastEvaluation: string;
}

for (const servers of serverMatrix()) {
  describe(`rules evaluate cleanly (e2e, ${servers.label})`, { skip: servers.skip }, () => {
    const tmp = makeTempDir('resticprom-e2e-rules-');
    let gw: RunningService;
    let prom: RunningPrometheus;

    before(async () => {
      await ensureBuilt();
      gw = await startPushgateway({ bin: servers.pushgateway.bin });
      const repo = makeRepo(tmp.dir, 'rules-health-password');
      const src = makeSourceTree(join(tmp.dir, 'src'), { files: 4, bytes: 500 }).dir;
      const config = join(tmp.dir, 'resticprom.yaml');
      writeFileSync(
        config,
        `state-dir: ${join(tmp.dir, 'state')}
hostname: h
profiles:
  nfs:
    repository: ${repo.repository}
    password-file: ${repo.passwordFile}
    env: { RESTIC_CACHE_DIR: ${repo.cacheDir} }
    paths: [${src}]
    tiers:
      sub-daily: { schedule: "0 */4 * * *" }
      daily:     { schedule: "30 1 * * *" }
    metrics:
      job: nfs_backup
      pushgateway: { url: "${gw.url}" }
`,
        { mode: 0o600 },
      );
      for (const args of [['backup', '--tier', 'daily'], ['check'], ['stats']]) {
        const r = await runCli([...args, '--config', config, '--quiet'], { env: { HOME: tmp.dir } });
        assert.equal(r.code, ExitCode.OK, `${args.join(' ')}: ${r.stderr}`);
      }
      const generated = join(tmp.dir, 'generated.yml');
      const rules = await runCli(['rules', '--config', config, '--out', generated], {
        env: { HOME: tmp.dir },
      });
      assert.equal(rules.code, ExitCode.OK, rules.stderr);
      prom = await startPrometheus({
        bin: servers.prometheus.bin,
        config: `${scrapeConfig([{ job: 'pushgateway', target: `127.0.0.1:${gw.port}` }])}rule_files:\n  - generated.yml\n  - deploy.yml\n`,
        ruleFiles: {
          'generated.yml': readFileSync(generated, 'utf8'),
          'deploy.yml': readFileSync(join(ROOT, 'deploy', 'prometheus', 'resticprom-rules.yml'), 'utf8'),
        },
      });
    });

    after(async () => {
      await prom?.stop();
      await gw?.stop();
      tmp.cleanup();
    });

    it('every rule of both files has health ok and no error, over real metrics', async () => {
      await waitForQuery(prom.url, 'restic_backup_status{job="nfs_backup"}', (r) => r.length === 1);
      // Three more evaluation rounds after the data arrived.
      await new Promise((r) => setTimeout(r, 3500));
      const res = await fetch(`${prom.url}/api/v1/rules`);
      const body = (await res.json()) as {
        data: { groups: { file: string; name: string; rules: RuleHealth[] }[] };
      };
      const files = new Set(body.data.groups.map((g) => g.file.split('/').pop()));
      assert.deepEqual([...files].sort(), ['deploy.yml', 'generated.yml']);
      const rules = body.data.groups.flatMap((g) => g.rules.map((r) => ({ file: g.file, ...r })));
      assert.ok(rules.length >= 20, `${rules.length} rules`);
      const unhealthy = rules.filter((r) => r.health !== 'ok' || (r.lastError ?? '') !== '');
      assert.deepEqual(
        unhealthy.map((r) => `${r.file}: ${r.name}: ${r.health} ${r.lastError ?? ''}`),
        [],
      );
      assert.doesNotMatch(prom.output(), /[Ee]valuating rule failed|rule evaluation failed|error=/);
    });
  });
}
