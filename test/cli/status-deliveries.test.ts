/**
 * `resticprom status` while the gateway is down: a real backup (real restic) whose push
 * finds nothing listening waits in the outbox; `status` counts it for its own tier only
 * and says under the table that deliveries are failing, where to, since when and why
 * (`--json` too), never the gateway's password. Once the real Pushgateway listens and
 * `flush` delivers, the line is gone.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import type { DeliveriesStatus, StatusRow } from '../../src/state/status.js';
import { formatClockTime } from '../../src/util/table.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { makeRepo, makeSourceTree } from '../helpers/restic.js';
import { freePort, makeTempDir, type RunningService, startPushgateway } from '../helpers/services.js';

const SECRET = 'gw-pass-never-printed';

describe('resticprom status while deliveries are failing', () => {
  const tmp = makeTempDir('resticprom-status-deliveries-');
  let gateway: RunningService | undefined;
  let configFile: string;
  let port: number;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    await ensureBuilt();
    const repo = makeRepo(tmp.dir, 'status-pass');
    const tree = makeSourceTree(join(tmp.dir, 'src'), { files: 5, bytes: 512 });
    port = await freePort();
    const secretFile = join(tmp.dir, 'gateway-password');
    writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
    const stateDir = join(tmp.dir, 'state');
    mkdirSync(stateDir, { mode: 0o700 });
    configFile = join(tmp.dir, 'resticprom.yaml');
    writeFileSync(
      configFile,
      `state-dir: ${stateDir}
timezone: UTC
hostname: status-host
profiles:
  nfs:
    repository: ${repo.repository}
    password-file: ${repo.passwordFile}
    paths: [${tree.dir}]
    metrics:
      pushgateway:
        url: http://127.0.0.1:${port}
        retries: 0
        timeout: 2s
        basic-auth: { username: pusher, password-file: ${secretFile} }
    tiers:
      daily: { schedule: "30 1 * * *" }
      weekly: { schedule: "0 3 * * 0" }
`,
      { mode: 0o600 },
    );
    env = { HOME: tmp.dir, RESTIC_CACHE_DIR: repo.cacheDir };
  });
  after(async () => {
    await gateway?.stop();
    tmp.cleanup();
  });

  it('counts the waiting push for its own tier and says where deliveries fail', async () => {
    const backup = await runCli(['backup', '--config', configFile, '--tier', 'daily'], { env });
    assert.equal(backup.code, ExitCode.TEMPFAIL, `the metrics wait in the outbox: ${backup.stderr}`);

    const json = await runCli(['status', '--config', configFile, '--json'], { env });
    assert.ok(!json.stdout.includes(SECRET));
    const report = JSON.parse(json.stdout) as { rows: StatusRow[]; deliveries: DeliveriesStatus };
    assert.deepEqual(
      report.rows.map((r) => [r.tier, r.state, r.pendingDeliveries, r.deadLetters]),
      [
        ['daily', 'OK', 1, 0],
        ['weekly', 'WAITING', 0, 0],
      ],
    );
    const gw = `http://127.0.0.1:${port}`;
    const refused = `gateway ${gw} unreachable after 1 attempt (connect ECONNREFUSED 127.0.0.1:${port})`;
    const [failing] = report.deliveries.failing;
    assert.ok(failing);
    assert.deepEqual(
      { ...report.deliveries, failing: [{ ...failing, since: 0, lastAttemptAt: 0 }] },
      {
        pending: 1,
        deadLetters: 0,
        failing: [
          { destination: `gateway ${gw}`, pending: 1, since: 0, lastAttemptAt: 0, lastError: refused },
        ],
      },
    );
    // The push was tried once, by the backup, right after it was stored.
    assert.ok(failing.lastAttemptAt >= failing.since && failing.lastAttemptAt - failing.since < 5000);

    const table = await runCli(['status', '--config', configFile], { env });
    // Healthy tiers keep exit 0: the exit code judges the backups, the line says the deliveries.
    assert.equal(table.code, ExitCode.OK, table.stderr);
    assert.ok(!table.stdout.includes(SECRET));
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /PENDING {2}DEAD$/);
    assert.match(lines[1] ?? '', /^nfs {6}daily {3}OK .* 1 {8}0$/);
    assert.match(lines[2] ?? '', /^nfs {6}weekly {2}WAITING .* 0 {8}0$/);
    assert.equal(
      lines[3],
      `deliveries failing: 1 entry waits for gateway ${gw} since ${formatClockTime(failing.since, 'UTC')}; last attempt ${formatClockTime(failing.lastAttemptAt, 'UTC')}: ${refused}`,
    );
    assert.equal(lines.length, 4);
  });

  it('shows no failing deliveries once the gateway has them', async () => {
    gateway = await startPushgateway({ port });
    const flush = await runCli(['flush', '--config', configFile], { env });
    assert.equal(flush.code, ExitCode.OK, flush.stderr);
    const table = await runCli(['status', '--config', configFile], { env });
    const lines = table.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 3, table.stdout);
    assert.match(lines[1] ?? '', /^nfs {6}daily {3}OK .* 0 {8}0$/);
    const json = JSON.parse((await runCli(['status', '--config', configFile, '--json'], { env })).stdout) as {
      deliveries: DeliveriesStatus;
    };
    assert.deepEqual(json.deliveries, { pending: 0, deadLetters: 0, failing: [] });
  });
});
