/**
 * The status page in headless Chromium, on a crafted state at a fixed time: the banner
 * while deliveries are failing (entries wait, their last attempt to a closed port failed),
 * each tier's own outbox count, each tier's last runs as a list, a duration axis in
 * milliseconds for sub-second runs, one compact line for tiers that never ran, and the
 * failed run's error on `/api/status`. Screenshots at 1280x800 and 390x844 go to
 * test-artifacts/.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { Daemon } from '../../src/schedule/daemon.js';
import { Outbox } from '../../src/sinks/outbox.js';
import type { MetricsPayload, Target } from '../../src/sinks/types.js';
import { appendRun, type RunRecord } from '../../src/state/history.js';
import type { StatusView } from '../../src/web/api.js';
import { launchChromium, readTexts, saveScreenshot } from '../helpers/browser.js';
import { freePort, makeTempDir } from '../helpers/services.js';
import { NOW, startFixtureDaemon, type WebFixture, writeFixture } from './fixture.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const GATEWAY_SECRET = 'gw-s3cret-do-not-show';
const FAILED_ERROR =
  'restic backup failed: wrong repository password (exit 12; restic: wrong password or no key found)';

/** The push of a run of `profile`/`tier` as the default grouping makes it (docs/configuration.md). */
function payload(profile: string, tier: string): MetricsPayload {
  return {
    text: 'restic_backup_status 2\n',
    job: 'restic_backup',
    grouping: { instance: 'web-test', profile, tier },
    method: 'post',
    measuredAt: NOW,
  };
}

function backup(
  tier: string,
  startedAt: number,
  durationMs: number,
  extra: Partial<RunRecord> = {},
): RunRecord {
  return {
    v: 1,
    id: randomUUID(),
    kind: 'backup',
    profile: 'db',
    tier,
    job: 'restic_backup',
    startedAt,
    endedAt: startedAt + durationMs,
    outcome: 'success',
    exitCode: 0,
    summary: { totalBytesProcessed: 2048, dataAdded: 100, filesNew: 1, filesChanged: 0 },
    ...extra,
  };
}

/** The text shown in every visible cell of the rows matching `selector`. */
function rows(page: Page, selector: string): Promise<string[][]> {
  return page.$$eval(selector, (trs) =>
    trs.map((tr) =>
      Array.from(tr.querySelectorAll('td') as ArrayLike<{ innerText: string; offsetParent: unknown }>)
        .filter((td) => td.offsetParent !== null)
        // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what a user reads
        .map((td) => td.innerText),
    ),
  );
}

describe('status page: deliveries, run lists, compact tiers', () => {
  const tmp = makeTempDir('resticprom-page-runs-');
  let fx: WebFixture;
  let daemon: Daemon;
  let browser: Browser;
  let port: number;
  let gateway: string;

  before(async () => {
    fx = await writeFixture(tmp.dir);
    // Two more tiers: db/quick with sub-second backups, nfs/yearly that the config only now names (WAITING).
    const cfg = readFileSync(fx.configFile, 'utf8')
      .replace(
        '      monthly: { schedule: "0 5 1 * *" }\n',
        '      monthly: { schedule: "0 5 1 * *" }\n      yearly: { schedule: "0 6 1 1 *" }\n',
      )
      .replace(
        '      hourly: { schedule: "0 * * * *" }\n',
        '      hourly: { schedule: "0 * * * *" }\n      quick: { schedule: "*/15 * * * *" }\n',
      );
    writeFileSync(fx.configFile, cfg, { mode: 0o600 });
    for (const [i, ms] of [350, 720, 480].entries())
      await appendRun(fx.stateDir, backup('quick', NOW - (3 - i) * 15 * MIN, ms));
    // db/hourly's newest run failed with restic's message.
    await appendRun(
      fx.stateDir,
      backup('hourly', NOW - 30 * MIN, 1500, {
        outcome: 'failed',
        exitCode: 12,
        reason: 'wrong-password',
        error: FAILED_ERROR,
        summary: undefined,
      }),
    );

    // The gateway is down (nothing listens on the port): four pushes wait, one was refused.
    port = await freePort();
    gateway = `http://127.0.0.1:${port}`;
    const secretFile = join(tmp.dir, 'gateway-password');
    writeFileSync(secretFile, `${GATEWAY_SECRET}\n`, { mode: 0o600 });
    const target: Target = {
      kind: 'pushgateway',
      url: gateway,
      retries: 0,
      timeoutMs: 2000,
      basicAuth: { username: 'pusher', password: { file: secretFile } },
    };
    const at = (t: number) => new Outbox({ stateDir: fx.stateDir, now: () => t });
    await at(NOW - 3 * HOUR).enqueue(payload('nfs', 'daily'), [target]);
    await at(NOW - 2 * HOUR).enqueue(payload('nfs', 'daily'), [target]);
    await at(NOW - HOUR).enqueue(payload('db', 'hourly'), [target]);
    await at(NOW - 30 * MIN).enqueue(payload('nfs', 'check'), [target]);
    await at(NOW - 5 * HOUR).deadLetter(payload('nfs', 'weekly'), target, {
      reason: `gateway ${gateway} answered 400: text format parsing error`,
      status: 400,
    });
    // The flush that found the gateway down; the password file is read for a target of the flush's own config.
    const flushed = await at(NOW - 10 * MIN).flush({ targets: [target] });
    assert.equal(flushed.remaining, 4);

    daemon = await startFixtureDaemon(fx);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await daemon?.stop(0);
    tmp.cleanup();
  });

  it("/api/status says where deliveries fail, counts each tier's own entries and carries the failed run's error", async () => {
    const res = await fetch(`${daemon.url}/api/status`);
    const body = await res.text();
    assert.ok(!body.includes(GATEWAY_SECRET), 'the gateway password is not in the answer');
    const s = JSON.parse(body) as StatusView;
    assert.deepEqual(s.deliveries, {
      pending: 4,
      deadLetters: 1,
      failing: [
        {
          destination: `gateway ${gateway}`,
          pending: 4,
          since: NOW - 3 * HOUR,
          lastAttemptAt: NOW - 10 * MIN,
          lastError: `gateway ${gateway} unreachable after 1 attempt (connect ECONNREFUSED 127.0.0.1:${port})`,
        },
      ],
    });
    assert.deepEqual(
      s.tiers.map((t) => [
        `${t.profile}/${t.tier}`,
        t.state,
        t.pendingDeliveries,
        t.deadLetters,
        t.lastError,
      ]),
      [
        ['nfs/daily', 'OK', 2, 0, null],
        ['nfs/weekly', 'LATE', 0, 1, null],
        ['nfs/monthly', 'NEVER', 0, 0, null],
        ['nfs/yearly', 'WAITING', 0, 0, null],
        ['db/hourly', 'FAILED', 1, 0, FAILED_ERROR],
        ['db/quick', 'OK', 0, 0, null],
      ],
    );
  });

  for (const [name, viewport] of [
    ['desktop', { width: 1280, height: 800 }],
    ['phone', { width: 390, height: 844 }],
  ] as const) {
    it(`shows the banner, the run lists and compact tiers at ${viewport.width}x${viewport.height} (${name})`, async () => {
      const page = await browser.newPage({ viewport, timezoneId: 'UTC' });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${daemon.url}/`);
      await page.waitForSelector('body[data-updated-at]');

      assert.deepEqual(await readTexts(page, '#deliveries p'), [
        `Deliveries failing: 4 entries wait for gateway ${gateway} since 2024-06-15 09:00 (3h 0m ago); last attempt 2024-06-15 11:50: gateway ${gateway} unreachable after 1 attempt (connect ECONNREFUSED 127.0.0.1:${port})`,
      ]);
      assert.ok(await page.isVisible('#deliveries'));
      // The summary: each tier's state, age and its own outbox entries (a phone shows fewer columns, shorter).
      const summary = (await rows(page, 'tr.tier-row')).map((r) =>
        name === 'phone' ? r : [r[0], r[1], r[2], r[4], r[8]],
      );
      const ago = name === 'phone' ? '' : ' ago';
      const waiting = name === 'phone' ? '' : ' waiting';
      assert.deepEqual(summary, [
        ['nfs', 'daily', 'OK', `8h 59m${ago}`, `2${waiting}`],
        ['nfs', 'weekly', 'LATE', `19d 23h${ago}`, '0 (1 dead)'],
        ['nfs', 'monthly', 'NEVER', '—', '0'],
        ['nfs', 'yearly', 'WAITING', '—', '0'],
        ['db', 'hourly', 'FAILED', `1h 59m${ago}`, `1${waiting}`],
        ['db', 'quick', 'OK', `15m${ago}`, '0'],
      ]);
      // Tiers that never ran: one line each, no charts.
      assert.deepEqual(await readTexts(page, 'section.tier.compact'), [
        'nfs / monthly NEVER no backup recorded · next run 2024-07-01 05:00 (in 15d 17h) · max age 32d 0h',
        'nfs / yearly WAITING no backup yet, none due so far · next run 2025-01-01 06:00 (in 199d 18h) · max age 367d 0h', // the largest gap, 2024 to 2025 (a leap year), plus a day,
      ]);
      assert.equal(await page.locator('section.tier.compact svg').count(), 0);
      // nfs/daily's last runs, newest first: time, outcome, duration, size.
      const daily = fx.runs['nfs/daily'] ?? [];
      assert.equal(daily.length, 5);
      assert.deepEqual(await rows(page, 'section.tier[data-tier="daily"] tr.run'), [
        ['2024-06-15 03:00', 'success', '1m', '51 MiB'],
        ['2024-06-14 03:00', 'success', '55 s', '51 MiB'],
        ['2024-06-13 03:00', 'failed (wrong-password)', '50 s', '—'],
        ['2024-06-12 03:00', 'success', '45 s', '49 MiB'],
        ['2024-06-11 03:00', 'success', '40 s', '48 MiB'],
      ]);
      // db/hourly: the failed run's error under it in the list, and on the card.
      assert.deepEqual(await rows(page, 'section.tier[data-tier="hourly"] tbody tr'), [
        ['2024-06-15 11:30', 'failed (wrong-password)', '1.5 s', '—'],
        [FAILED_ERROR],
        ['2024-06-15 11:00', 'failed (wrong-password)', '1 s', '—'],
        ['2024-06-15 10:00', 'success', '5 s', '48 MiB'],
      ]);
      assert.deepEqual(await readTexts(page, 'section.tier[data-tier="hourly"] .tier-error'), [FAILED_ERROR]);
      // Sub-second runs: the duration axis reads in milliseconds, not "0s".
      assert.deepEqual(
        await readTexts(
          page,
          'section.tier[data-tier="quick"] svg[data-chart="duration"] text.axis[text-anchor="end"]',
        ),
        ['0', '500 ms', '1 s', '2024-06-15 11:45'],
      );
      assert.deepEqual(
        (await rows(page, 'section.tier[data-tier="quick"] tr.run')).map((r) => r[2]),
        ['480 ms', '720 ms', '350 ms'],
      );
      const png = await saveScreenshot(page, `status-page-deliveries-${name}`);
      assert.ok(png.length > 10_000);
      // And what the window shows first, unscrolled.
      await saveScreenshot(page, `status-page-deliveries-${name}-window`, { fullPage: false });
      // Nothing runs off the screen: the page is no wider than the window.
      const width = await page.evaluate('document.documentElement.scrollWidth');
      assert.ok(Number(width) <= viewport.width, `page width ${width} > ${viewport.width}`);
      assert.ok(!(await page.content()).includes(GATEWAY_SECRET));

      assert.deepEqual(errors, []);
      await page.close();
    });
  }
});
