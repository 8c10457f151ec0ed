/**
 * `resticprom rules --format prometheusrule` prints the rules as a prometheus-operator
 * PrometheusRule, from the same source as the rule file: without a config it is the
 * committed deploy/kubernetes/prometheusrule.yaml (comments aside); with a config its
 * groups are exactly those of `resticprom rules` for that config.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { ensureBuilt, ROOT, runCli } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/services.js';

const temps: Array<() => void> = [];
after(() => {
  for (const c of temps) c();
});

describe('rules --format prometheusrule', () => {
  before(async () => {
    await ensureBuilt();
  });

  it("without a config: the committed PrometheusRule, the seed's job and tiers", async () => {
    const t = makeTempDir('resticprom-promrule-');
    temps.push(t.cleanup);
    const r = await runCli(['rules', '--format', 'prometheusrule'], { cwd: t.dir });
    assert.equal(r.code, 0, r.stderr);
    const committed = parse(readFileSync(join(ROOT, 'deploy', 'kubernetes', 'prometheusrule.yaml'), 'utf8'));
    assert.deepEqual(parse(r.stdout), committed);
    assert.equal(committed.kind, 'PrometheusRule');
    assert.equal(committed.apiVersion, 'monitoring.coreos.com/v1');
  });

  it("with a config: the groups of that config's rule file", async () => {
    const t = makeTempDir('resticprom-promrule-');
    temps.push(t.cleanup);
    const config = join(t.dir, 'resticprom.yaml');
    writeFileSync(
      config,
      `profiles:
  db:
    repository: /srv/db-repo
    password-file: /etc/resticprom/db.pass
    paths: [/var/lib/db]
    tiers:
      hourly: { schedule: "0 * * * *", max-age: 3h }
`,
      { mode: 0o600 },
    );
    const rules = await runCli(['rules', '--config', config]);
    const resource = await runCli(['rules', '--config', config, '--format', 'prometheusrule']);
    assert.equal(resource.code, 0, resource.stderr);
    const obj = parse(resource.stdout);
    assert.equal(obj.kind, 'PrometheusRule');
    assert.deepEqual(obj.spec.groups, parse(rules.stdout).groups);
    assert.ok(resource.stdout.includes('tier="hourly"'));
    const bad = await runCli(['rules', '--format', 'json']);
    assert.equal(bad.code, 2);
  });
});
