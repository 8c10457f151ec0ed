/**
 * The line `resticprom status` prints for a destination whose deliveries are failing:
 * counted right, times in the config's zone, and escaped (an error that came back from a
 * server may hold a line break or a terminal escape sequence); and an outbox that cannot
 * be read costs the status a warning, not its tiers.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/index.js';
import { computeStatus, formatFailingDelivery } from '../../src/state/status.js';
import { makeTempDir } from '../helpers/services.js';

const AT = Date.UTC(2024, 4, 10, 11, 0);

describe('the deliveries-failing line', () => {
  it('says how many wait for where since when, and the last error, escaped', () => {
    const f = {
      destination: 'gateway https://gw.example:9091',
      pending: 1,
      since: AT,
      lastAttemptAt: AT + 55 * 60_000,
      lastError: 'gateway https://gw.example:9091 answered 502: <html>\n\x1b[31mbad gateway',
    };
    assert.equal(
      formatFailingDelivery(f, 'Europe/Berlin'),
      'deliveries failing: 1 entry waits for gateway https://gw.example:9091 since 2024-05-10 13:00; last attempt 2024-05-10 13:55: gateway https://gw.example:9091 answered 502: <html>\\n\\x1b[31mbad gateway',
    );
    assert.match(
      formatFailingDelivery({ ...f, pending: 3 }, 'UTC'),
      /^deliveries failing: 3 entries wait for /,
    );
  });
});

describe('status with an unreadable outbox', () => {
  const t = makeTempDir('resticprom-status-outbox-');
  after(t.cleanup);

  it('judges the tiers and warns, naming the outbox', async () => {
    const config = parseConfigText(
      `timezone: UTC
profiles:
  nfs:
    repository: /srv/repo
    password-file: /etc/resticprom/nfs.pass
    paths: [/srv/nfs]
    tiers:
      daily: { schedule: "30 1 * * *" }
`,
      { file: '/c.yaml', env: {} },
    ).config;
    // outbox/dead is a file: the outbox's folders cannot be used.
    mkdirSync(join(t.dir, 'outbox'));
    writeFileSync(join(t.dir, 'outbox', 'dead'), 'x');
    const report = await computeStatus({ config, stateDir: t.dir, now: AT });
    assert.deepEqual(
      report.rows.map((r) => [r.tier, r.state, r.pendingDeliveries]),
      [['daily', 'WAITING', 0]],
    );
    assert.deepEqual(report.deliveries, { pending: 0, deadLetters: 0, failing: [] });
    assert.equal(report.warnings.length, 1);
    assert.match(report.warnings[0] ?? '', new RegExp(`^cannot read the outbox ${join(t.dir, 'outbox')}: `));
  });
});
