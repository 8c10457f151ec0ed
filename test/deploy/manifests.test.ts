import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Cron } from 'croner';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { makeTempDir, startPushgateway } from '../helpers/services.js';

const ROOT = join(import.meta.dirname, '..', '..');
const DEPLOY = join(ROOT, 'deploy');

function run(cmd: string, args: string[], cwd = ROOT): { code: number; out: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

type Obj = Record<string, unknown>;

function get(o: unknown, path: string): unknown {
  let cur: unknown = o;
  for (const k of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Obj)[k];
  }
  return cur;
}

function k8sManifests(): { file: string; doc: Obj }[] {
  const dir = join(DEPLOY, 'kubernetes');
  const out: { file: string; doc: Obj }[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
    for (const d of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      assert.deepEqual(d.errors, [], `${file}: YAML errors`);
      const doc = d.toJS() as Obj | null;
      if (doc) out.push({ file, doc });
    }
  }
  return out;
}

describe('Kubernetes manifests', () => {
  const manifests = k8sManifests();
  const ofKind = (kind: string) => manifests.filter((m) => m.doc.kind === kind).map((m) => m.doc);

  it('each has apiVersion, kind and metadata.name, and the kustomization lists every file', () => {
    const kinds = manifests.map((m) => `${m.doc.kind}/${get(m.doc, 'metadata.name') ?? ''}`).sort();
    assert.deepEqual(kinds, [
      'Deployment/pushgateway',
      'Ingress/pushgateway',
      'Kustomization/',
      'Namespace/monitoring',
      'PersistentVolumeClaim/pushgateway-data',
      'PrometheusRule/resticprom',
      'Secret/prometheus-basic-auth',
      'Secret/pushgateway-web-config',
      'Service/pushgateway',
      'ServiceMonitor/pushgateway',
    ]);
    for (const { file, doc } of manifests) {
      assert.equal(typeof doc.apiVersion, 'string', `${file}: apiVersion`);
      if (doc.kind !== 'Kustomization') assert.match(String(get(doc, 'metadata.name')), /^[a-z0-9-]+$/);
    }
    const kustomization = ofKind('Kustomization')[0];
    const listed = [...((kustomization?.resources as string[]) ?? [])].sort();
    const files = readdirSync(join(DEPLOY, 'kubernetes'))
      .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
      .sort();
    assert.deepEqual(listed, files);
  });

  it('Deployment: selector matches the pod labels, image set, persistence on the PVC, web config mounted', () => {
    const dep = ofKind('Deployment')[0] as Obj;
    const selector = get(dep, 'spec.selector.matchLabels') as Record<string, string>;
    const podLabels = get(dep, 'spec.template.metadata.labels') as Record<string, string>;
    for (const [k, v] of Object.entries(selector)) assert.equal(podLabels[k], v, `pod label ${k}`);
    const containers = get(dep, 'spec.template.spec.containers') as Obj[];
    assert.equal(containers.length, 1);
    const c = containers[0] as Obj;
    assert.match(String(c.image), /^[\w./-]+pushgateway:v\d+\.\d+\.\d+$/);
    const args = c.args as string[];
    assert.ok(args.includes('--persistence.file=/data/pushgateway.data'));
    assert.ok(args.includes('--web.config.file=/etc/pushgateway/web-config.yml'));
    const mounts = Object.fromEntries((c.volumeMounts as Obj[]).map((m) => [m.name, m.mountPath]));
    assert.deepEqual(mounts, { data: '/data', 'web-config': '/etc/pushgateway' });
    const volumes = get(dep, 'spec.template.spec.volumes') as Obj[];
    const pvc = ofKind('PersistentVolumeClaim')[0] as Obj;
    assert.equal(
      get(
        volumes.find((v) => v.name === 'data'),
        'persistentVolumeClaim.claimName',
      ),
      get(pvc, 'metadata.name'),
    );
    assert.equal(
      get(
        volumes.find((v) => v.name === 'web-config'),
        'secret.secretName',
      ),
      'pushgateway-web-config',
    );
    assert.equal(get(dep, 'spec.strategy.type'), 'Recreate');
    assert.equal(get(dep, 'spec.replicas'), 1);
  });

  it('Service selects the pods and exposes 9091; Ingress has TLS and routes to the Service', () => {
    const dep = ofKind('Deployment')[0] as Obj;
    const svc = ofKind('Service')[0] as Obj;
    const podLabels = get(dep, 'spec.template.metadata.labels') as Record<string, string>;
    for (const [k, v] of Object.entries(get(svc, 'spec.selector') as Record<string, string>)) {
      assert.equal(podLabels[k], v);
    }
    const ports = get(svc, 'spec.ports') as Obj[];
    assert.deepEqual(ports, [{ name: 'http', port: 9091, targetPort: 'http' }]);
    const containerPorts = get(dep, 'spec.template.spec.containers') as Obj[];
    assert.deepEqual((containerPorts[0] as Obj).ports, [{ name: 'http', containerPort: 9091 }]);

    const ing = ofKind('Ingress')[0] as Obj;
    const tls = get(ing, 'spec.tls') as { hosts: string[]; secretName: string }[];
    assert.equal(tls.length, 1);
    assert.ok(tls[0]?.secretName);
    const rules = get(ing, 'spec.rules') as Obj[];
    assert.deepEqual(
      tls[0]?.hosts,
      rules.map((r) => r.host),
    );
    const backend = get((get(rules[0], 'http.paths') as Obj[])[0], 'backend.service') as Obj;
    assert.equal(backend.name, get(svc, 'metadata.name'));
    assert.equal(get(backend, 'port.name'), 'http');
  });

  it('ServiceMonitor honours labels and selects the Service; PrometheusRule carries the generated rules', () => {
    const sm = ofKind('ServiceMonitor')[0] as Obj;
    const svc = ofKind('Service')[0] as Obj;
    const svcLabels = get(svc, 'metadata.labels') as Record<string, string>;
    for (const [k, v] of Object.entries(get(sm, 'spec.selector.matchLabels') as Record<string, string>)) {
      assert.equal(svcLabels[k], v);
    }
    const endpoints = get(sm, 'spec.endpoints') as Obj[];
    assert.equal(endpoints[0]?.honorLabels, true);
    assert.equal(endpoints[0]?.port, 'http');
    const rule = ofKind('PrometheusRule')[0] as Obj;
    const fromFile = parseYaml(readFileSync(join(DEPLOY, 'prometheus/resticprom-rules.yml'), 'utf8')) as Obj;
    assert.deepEqual(get(rule, 'spec.groups'), fromFile.groups);
  });

  it('the web config Secret is what the real Pushgateway takes: basic auth with the documented password', async () => {
    const secret = ofKind('Secret').find((s) => get(s, 'metadata.name') === 'pushgateway-web-config') as Obj;
    const tmp = makeTempDir('resticprom-webcfg-');
    try {
      const webConfig = join(tmp.dir, 'web-config.yml');
      writeFileSync(
        webConfig,
        String((get(secret, 'stringData') as Record<string, string>)['web-config.yml']),
      );
      const gw = await startPushgateway({
        webConfigFile: webConfig,
        persistenceFile: join(tmp.dir, 'pushgateway.data'),
        skipReady: true,
      });
      try {
        const auth = (user: string, pass: string) =>
          ({ authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` }) as Record<
            string,
            string
          >;
        const body = 'restic_backup_status{host="h"} 2\n';
        const url = `${gw.url}/metrics/job/nfs_backup/instance/daily`;
        assert.equal((await fetch(url, { method: 'POST', body })).status, 401);
        assert.equal(
          (await fetch(url, { method: 'POST', body, headers: auth('backup', 'wrong') })).status,
          401,
        );
        assert.equal(
          (await fetch(url, { method: 'POST', body, headers: auth('backup', 'change-me') })).status,
          200,
        );
        const metrics = await (
          await fetch(`${gw.url}/metrics`, { headers: auth('backup', 'change-me') })
        ).text();
        assert.match(metrics, /^restic_backup_status\{host="h",instance="daily",job="nfs_backup"\} 2$/m);
      } finally {
        await gw.stop();
      }
    } finally {
      tmp.cleanup();
    }
  });
});

describe('Prometheus, Alertmanager and Grafana files', () => {
  it('promtool check config passes on prometheus.yml and finds the rule file', () => {
    const r = run('promtool', ['check', 'config', join(DEPLOY, 'prometheus/prometheus.yml')]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /SUCCESS: 1 rule files found/);
    assert.match(r.out, /SUCCESS: 28 rules found/);
    const cfg = parseYaml(readFileSync(join(DEPLOY, 'prometheus/prometheus.yml'), 'utf8')) as Obj;
    const jobs = cfg.scrape_configs as Obj[];
    assert.equal(jobs.find((j) => j.job_name === 'pushgateway')?.honor_labels, true);
  });

  it('amtool check-config passes; Failed inhibits Late for the same backup', () => {
    const file = join(DEPLOY, 'alertmanager/alertmanager.yml');
    const r = run('amtool', ['check-config', file]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /SUCCESS/);
    const cfg = parseYaml(readFileSync(file, 'utf8')) as Obj;
    const inhibit = (cfg.inhibit_rules as Obj[])[0] as Obj;
    assert.deepEqual(inhibit, {
      source_matchers: ['alertname="ResticBackupFailed"'],
      target_matchers: ['alertname="ResticBackupLate"'],
      equal: ['job', 'profile', 'tier', 'host'],
    });
    const routes = get(cfg, 'route.routes') as Obj[];
    assert.deepEqual(
      routes.map((x) => x.matchers),
      [['severity="critical"'], ['severity="warning"']],
    );
  });

  it('Grafana provisioning files point at the dashboard folder and a Prometheus data source', () => {
    const dash = parseYaml(
      readFileSync(join(DEPLOY, 'grafana/provisioning/dashboards/resticprom.yml'), 'utf8'),
    ) as Obj;
    assert.equal(dash.apiVersion, 1);
    assert.equal(get((dash.providers as Obj[])[0], 'type'), 'file');
    assert.ok(get((dash.providers as Obj[])[0], 'options.path'));
    const ds = parseYaml(
      readFileSync(join(DEPLOY, 'grafana/provisioning/datasources/prometheus.yml'), 'utf8'),
    ) as Obj;
    assert.equal(get((ds.datasources as Obj[])[0], 'type'), 'prometheus');
  });
});

describe('systemd units and cron example', () => {
  const tmp = makeTempDir('resticprom-units-');
  after(() => tmp.cleanup());
  const unitDir = join(DEPLOY, 'systemd');
  const units = readdirSync(unitDir).sort();

  it('systemd-analyze verify accepts the units (with a stand-in resticprom binary)', (t) => {
    if (run('systemd-analyze', ['--version']).code !== 0) {
      t.skip('systemd-analyze is not available');
      return;
    }
    const fakeBin = join(tmp.dir, 'resticprom');
    writeFileSync(fakeBin, '#!/bin/sh\nexit 0\n');
    chmodSync(fakeBin, 0o755);
    for (const u of units) {
      const text = readFileSync(join(unitDir, u), 'utf8').replaceAll('/usr/local/bin/resticprom', fakeBin);
      writeFileSync(join(tmp.dir, u), text);
    }
    // The template is verified through one of its instances.
    copyFileSync(
      join(tmp.dir, 'resticprom-backup@.service'),
      join(tmp.dir, 'resticprom-backup@daily.service'),
    );
    const toVerify = ['resticprom-backup@daily.service', ...units.filter((u) => !u.includes('@'))];
    const r = run('systemd-analyze', ['verify', '--man=no', ...toVerify], tmp.dir);
    assert.equal(r.code, 0, r.out);
    assert.equal(r.out.trim(), '');
  });

  it('the backup service is hardened and reads the password as a credential', () => {
    const svc = readFileSync(join(unitDir, 'resticprom-backup@.service'), 'utf8');
    for (const line of [
      'ProtectSystem=strict',
      'PrivateTmp=yes',
      'NoNewPrivileges=yes',
      'StateDirectory=resticprom',
      'ReadWritePaths=/srv/restic-repo',
      'LoadCredential=restic-password:/etc/resticprom/nfs.pass',
      'SuccessExitStatus=3 75',
    ]) {
      assert.ok(svc.split('\n').includes(line), `missing ${line}`);
    }
    assert.doesNotMatch(svc, /password\s*=|RESTIC_PASSWORD=/i);
  });

  it("timers run the seed's four schedules, each one valid for systemd-analyze calendar", (t) => {
    const expected: Record<string, string> = {
      'sub-daily': '*-*-* 00/4:00:00',
      daily: '*-*-* 01:30:00',
      weekly: 'Sun *-*-* 03:00:00',
      monthly: '*-*-01 04:00:00',
    };
    const hasCalendar = run('systemd-analyze', ['--version']).code === 0;
    for (const [tier, cal] of Object.entries(expected)) {
      const text = readFileSync(join(unitDir, `resticprom-backup-${tier}.timer`), 'utf8');
      assert.ok(text.includes(`OnCalendar=${cal}\n`), `${tier}: OnCalendar`);
      assert.ok(text.includes(`Unit=resticprom-backup@${tier}.service\n`), `${tier}: Unit`);
      assert.ok(text.includes('Persistent=true\n'));
      if (hasCalendar) {
        const r = run('systemd-analyze', ['calendar', cal]);
        assert.equal(r.code, 0, r.out);
        assert.match(r.out, new RegExp(`Normalized form: ${cal.replace(/[*/]/g, '\\$&')}`));
      }
    }
    if (!hasCalendar) t.diagnostic('systemd-analyze missing: calendar expressions not checked');
  });

  it('the cron example runs the same four tiers at the same times', () => {
    const lines = readFileSync(join(DEPLOY, 'cron/resticprom.cron'), 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#') && !/^[A-Z]+=/.test(l));
    const jobs = lines.map((l) => {
      const f = l.split(/\s+/);
      return { schedule: f.slice(0, 5).join(' '), user: f[5], command: f.slice(6).join(' ') };
    });
    const backups = Object.fromEntries(
      jobs
        .filter((j) => j.command.includes(' backup '))
        .map((j) => [/--tier (\S+)/.exec(j.command)?.[1], j.schedule]),
    );
    assert.deepEqual(backups, {
      'sub-daily': '0 */4 * * *',
      daily: '30 1 * * *',
      weekly: '0 3 * * 0',
      monthly: '0 4 1 * *',
    });
    for (const j of jobs) {
      assert.equal(j.user, 'root');
      assert.ok(new Cron(j.schedule, { paused: true }).nextRun(), j.schedule);
    }
    assert.ok(jobs.some((j) => j.command === 'resticprom flush --quiet'));
  });
});
