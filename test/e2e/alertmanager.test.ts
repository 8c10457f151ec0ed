/**
 * The Prometheus way, end to end, until a person is told: real restic backups through
 * `resticprom backup`, the real Pushgateway, the real Prometheus with the rules
 * `resticprom rules` writes, and the real Alertmanager with the shipped
 * deploy/alertmanager/alertmanager.yml, its routes and inhibition rules as shipped and
 * its two webhook receivers pointed at this test. A failed backup (a failing
 * run-before hook) arrives as ResticBackupFailed on the critical route with the profile,
 * tier and host labels and a readable summary; a backup that stops arrives as
 * ResticBackupLate; while a backup is both failed and late, the shipped inhibition
 * keeps the late alert from being sent; the next good run sends the resolved
 * notification.
 *
 * It runs once per Alertmanager of the matrix (Debian 12's 0.25 and trixie's 0.28).
 *
 * The copy's only other change: group_wait and group_interval of 1s instead of the
 * shipped 1m and 10m, which would make the test take a quarter of an hour.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { amAlerts, type RunningAlertmanager, startAlertmanager } from '../helpers/alertmanager.js';
import { ensureBuilt, ROOT, runCli } from '../helpers/cli.js';
import { waitUntil } from '../helpers/e2e.js';
import { alertmanagerMatrix, type MatrixEntry } from '../helpers/matrix.js';
import { waitForFiring } from '../helpers/prom-alerts.js';
import { type ReceivedRequest, type Receiver, startReceiver } from '../helpers/receiver.js';
import { makeRepo, makeSourceTree } from '../helpers/restic.js';
import {
  makeTempDir,
  type RunningPrometheus,
  type RunningService,
  scrapeConfig,
  startPrometheus,
  startPushgateway,
} from '../helpers/services.js';

const JOB = 'am_backup';
const HOST = 'e2e-host';

interface WebhookAlert {
  status: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
interface WebhookPayload {
  version: string;
  status: string;
  receiver: string;
  alerts: WebhookAlert[];
}

for (const alertmanager of alertmanagerMatrix()) {
  describe(
    `alerts reach a person through the shipped Alertmanager routes (e2e, Alertmanager ${alertmanager.version})`,
    { skip: alertmanager.skip },
    () => alertmanagerSuite(alertmanager),
  );
}

function alertmanagerSuite(alertmanager: MatrixEntry): void {
  const tmp = makeTempDir('resticprom-e2e-am-');
  const config = join(tmp.dir, 'resticprom.yaml');
  const failFlag = join(tmp.dir, 'fail-next');
  const env = { HOME: tmp.dir };
  let gw: RunningService;
  let prom: RunningPrometheus;
  let am: RunningAlertmanager;
  let rx: Receiver;

  /** Every alert the webhooks got, with the receiver (route) and the notification's path. */
  const notified = (): (WebhookAlert & { receiver: string; path: string })[] =>
    rx.requests.flatMap((r: ReceivedRequest) => {
      const p = JSON.parse(r.body) as WebhookPayload;
      return p.alerts.map((a) => ({ ...a, receiver: p.receiver, path: r.url }));
    });
  const backup = (profile: string) =>
    runCli(['backup', '--config', config, '--profile', profile, '--tier', 'daily', '--quiet'], { env });

  before(async () => {
    await ensureBuilt();
    rx = await startReceiver();
    gw = await startPushgateway();
    const repo = makeRepo(tmp.dir, 'am-e2e-password');
    const tree = makeSourceTree(join(tmp.dir, 'src'), { files: 5, bytes: 500 });
    const profile = (name: string) => `  ${name}:
    repository: ${repo.repository}
    password-file: ${repo.passwordFile}
    env: { RESTIC_CACHE_DIR: ${repo.cacheDir} }
    paths: [${tree.dir}]
    hooks:
      # Fails while the flag file exists: the backup fails before restic runs.
      run-before: [[sh, -c, "if [ -e ${failFlag} ]; then echo 'database dump failed' >&2; exit 1; fi"]]
    tiers:
      daily: { schedule: "30 1 * * *", max-age: 45s }
    metrics:
      job: ${JOB}
      pushgateway: { url: "${gw.url}", retries: 0 }
`;
    writeFileSync(
      config,
      `state-dir: ${join(tmp.dir, 'state')}\nhostname: ${HOST}\nprofiles:\n${profile('db')}${profile('stale')}`,
      { mode: 0o600 },
    );
    const rulesFile = join(tmp.dir, 'rules.yml');
    const rules = await runCli(['rules', '--config', config, '--for', '0s', '--out', rulesFile], { env });
    assert.equal(rules.code, 0, rules.stderr);

    const shipped = parse(readFileSync(join(ROOT, 'deploy', 'alertmanager', 'alertmanager.yml'), 'utf8')) as {
      route: Record<string, unknown>;
      receivers: { name: string; webhook_configs: { url: string }[] }[];
    };
    shipped.route.group_wait = '1s';
    shipped.route.group_interval = '1s';
    for (const r of shipped.receivers) for (const w of r.webhook_configs) w.url = `${rx.url}/${r.name}`;
    am = await startAlertmanager(stringify(shipped), { bin: alertmanager.bin });
    // The version of the matrix, not whichever alertmanager is on PATH.
    const status = (await (await fetch(`${am.url}/api/v2/status`)).json()) as {
      versionInfo: { version: string };
    };
    assert.match(
      status.versionInfo.version,
      new RegExp(`^${alertmanager.version.replaceAll('.', '\\.')}\\b`),
    );

    prom = await startPrometheus({
      config: `${scrapeConfig([{ job: 'pushgateway', target: `127.0.0.1:${gw.port}` }])}rule_files:
  - rules.yml
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['127.0.0.1:${am.port}']
`,
      ruleFiles: { 'rules.yml': readFileSync(rulesFile, 'utf8') },
    });
  });

  after(async () => {
    await prom?.stop();
    await am?.stop();
    await gw?.stop();
    await rx?.stop();
    tmp.cleanup();
  });

  it('failed: ResticBackupFailed on the critical route; late but failed: inhibited; stale: ResticBackupLate; good again: resolved', async () => {
    assert.equal((await backup('db')).code, ExitCode.OK);
    assert.equal((await backup('stale')).code, ExitCode.OK);
    writeFileSync(failFlag, '');
    const failed = await backup('db');
    assert.equal(failed.code, ExitCode.FAILURE, failed.stderr);

    const failedAlert = await waitUntil(
      'ResticBackupFailed at the pager webhook',
      () => notified().find((a) => a.labels.alertname === 'ResticBackupFailed' && a.status === 'firing'),
      90_000,
      200,
    );
    assert.equal(failedAlert.receiver, 'pager', 'critical alerts take the pager route');
    assert.equal(failedAlert.path, '/pager');
    assert.equal(failedAlert.labels.profile, 'db');
    assert.equal(failedAlert.labels.tier, 'daily');
    assert.equal(failedAlert.labels.host, HOST);
    assert.equal(failedAlert.labels.job, JOB);
    assert.equal(failedAlert.labels.severity, 'critical');
    assert.equal(failedAlert.annotations.summary, `restic backup db/daily on ${HOST} failed`);

    // max-age 45s leaves a loaded machine (load 20 on 2 cores) time to push the failure before db goes late.
    // No new success: both tiers go late. stale's Late is sent; db's Late is inhibited
    // by its failure (same job, profile, tier, host), live in Alertmanager.
    const staleLate = await waitUntil(
      'ResticBackupLate for stale at a webhook',
      () => notified().find((a) => a.labels.alertname === 'ResticBackupLate' && a.labels.profile === 'stale'),
      90_000,
      200,
    );
    assert.equal(staleLate.status, 'firing');
    assert.equal(staleLate.labels.host, HOST);
    assert.equal(staleLate.annotations.summary, `restic backup stale/daily on ${HOST} is late`);
    await waitForFiring(prom.url, (firing) =>
      firing.some((a) => a.labels.alertname === 'ResticBackupLate' && a.labels.profile === 'db'),
    );
    const dbLate = await waitUntil(
      'db late and inhibited in Alertmanager',
      async () =>
        (await amAlerts(am.url)).find(
          (a) =>
            a.labels.alertname === 'ResticBackupLate' &&
            a.labels.profile === 'db' &&
            a.status.inhibitedBy.length > 0,
        ),
      30_000,
      200,
    );
    assert.equal(dbLate.status.state, 'suppressed');
    // Two group intervals later it still has not been sent.
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(
      notified().filter((a) => a.labels.alertname === 'ResticBackupLate' && a.labels.profile === 'db').length,
      0,
      'the inhibited late alert was never sent',
    );

    const { rmSync } = await import('node:fs');
    rmSync(failFlag);
    assert.equal((await backup('db')).code, ExitCode.OK);
    const resolved = await waitUntil(
      'ResticBackupFailed resolved at the pager webhook',
      () => notified().find((a) => a.labels.alertname === 'ResticBackupFailed' && a.status === 'resolved'),
      90_000,
      200,
    );
    assert.equal(resolved.receiver, 'pager');
    assert.equal(resolved.labels.profile, 'db');
    assert.equal(resolved.labels.tier, 'daily');
  });
}
