/**
 * The status page of a daemon running real backups (real restic, a temporary repository)
 * that push to the real Pushgateway, read in headless Chromium at 1280x800 and 390x844:
 * the tiers' states, a failed run's error, a tier that never ran as one line, each
 * tier's last runs as they are in the history; then the gateway is stopped, and the
 * banner says that deliveries are failing, where to and why; then it is started again,
 * the next run delivers the backlog and the banner goes. Screenshots of both moments at
 * both sizes go to test-artifacts/.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { type Daemon, startDaemon } from '../../src/schedule/daemon.js';
import type { HistoryView, StatusView, TierStatusView } from '../../src/web/api.js';
import { launchChromium, readTexts, saveScreenshot } from '../helpers/browser.js';
import { waitUntil } from '../helpers/e2e.js';
import { makeRepo, makeSourceTree } from '../helpers/restic.js';
import { freePort, makeTempDir, type RunningService, startPushgateway } from '../helpers/services.js';

const VIEWPORTS = [
  ['desktop', { width: 1280, height: 800 }],
  ['phone', { width: 390, height: 844 }],
] as const;

describe('status page of a daemon running real backups, gateway up, down and up again', () => {
  const tmp = makeTempDir('resticprom-page-e2e-');
  let gateway: RunningService | undefined;
  let gwPort: number;
  let daemon: Daemon | undefined;
  let browser: Browser;
  const logged: string[] = [];

  const status = async () => (await (await fetch(`${daemon?.url}/api/status`)).json()) as StatusView;
  const tierOf = (s: StatusView, profile: string, tier: string) =>
    s.tiers.find((t) => t.profile === profile && t.tier === tier) as TierStatusView;
  const history = async (profile: string, tier: string) =>
    (
      (await (
        await fetch(`${daemon?.url}/api/history?profile=${profile}&tier=${tier}&limit=10`)
      ).json()) as HistoryView
    ).runs;

  before(async () => {
    const repo = makeRepo(tmp.dir, 'page-e2e-pass');
    const tree = makeSourceTree(join(tmp.dir, 'src'), { files: 12, bytes: 4096 });
    gwPort = await freePort();
    gateway = await startPushgateway({ port: gwPort });
    const port = await freePort();
    const stateDir = join(tmp.dir, 'state');
    mkdirSync(stateDir, { mode: 0o700 });
    const configFile = join(tmp.dir, 'resticprom.yaml');
    const push = `    metrics:\n      pushgateway: { url: "http://127.0.0.1:${gwPort}", retries: 0, timeout: 2s }\n`;
    writeFileSync(
      configFile,
      `state-dir: ${stateDir}
timezone: UTC
hostname: page-e2e
daemon:
  listen: 127.0.0.1:${port}
  run-missed: false
profiles:
  home:
    repository: ${repo.repository}
    password-file: ${repo.passwordFile}
    paths: [${tree.dir}]
${push}    tiers:
      fast: { schedule: "*/3 * * * * *" }
      weekly: { schedule: "0 4 * * 0" }
  broken:
    repository: ${join(tmp.dir, 'no-such-repo')}
    password-file: ${repo.passwordFile}
    paths: [${tree.dir}]
${push}    tiers:
      hourly: { schedule: "*/5 * * * * *" }
`,
      { mode: 0o600 },
    );
    const log = (m: string) => logged.push(m);
    daemon = await startDaemon({
      configFile,
      env: repo.env,
      log: { info: log, warn: log, error: log },
    });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await daemon?.stop(5000);
    await gateway?.stop();
    tmp.cleanup();
  });

  /** Opens the page at a size, waits for its data, and saves a full-page screenshot. */
  async function open(
    name: string,
    viewport: { width: number; height: number },
    shot: string,
  ): Promise<Page> {
    const page = await browser.newPage({ viewport, timezoneId: 'UTC' });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${daemon?.url}/`);
    await page.waitForSelector('body[data-updated-at]');
    await saveScreenshot(page, `status-page-e2e-${shot}-${name}`);
    assert.deepEqual(errors, []);
    const width = Number(await page.evaluate('document.documentElement.scrollWidth'));
    assert.ok(
      width <= viewport.width,
      `the page (${width} px) is wider than the window (${viewport.width} px)`,
    );
    return page;
  }

  it('shows the states, the failed run’s error, the compact tier and the runs as the history has them', async () => {
    const s = await waitUntil(
      'two delivered backups of home/fast and a failed one of broken/hourly',
      async () => {
        const st = await status();
        const runs = await history('home', 'fast');
        return runs.filter((r) => r.outcome === 'success').length >= 2 &&
          tierOf(st, 'broken', 'hourly').state === 'FAILED' &&
          st.deliveries.pending === 0
          ? st
          : undefined;
      },
      60_000,
      200,
    );
    const broken = tierOf(s, 'broken', 'hourly');
    // restic's own words for a missing repository, kept as the run's error.
    assert.match(broken.lastError ?? '', /repository/i);
    // /api/history carries each failed run's error (the list shows it from there).
    const failed = await history('broken', 'hourly');
    assert.ok(failed.length >= 1);
    assert.deepEqual(
      failed.map((r) => [r.outcome, r.error]),
      failed.map(() => ['failed', broken.lastError]),
    );
    assert.deepEqual(s.deliveries.failing, []);
    for (const [name, viewport] of VIEWPORTS) {
      const page = await open(name, viewport, 'gateway-up');
      assert.equal(
        await page.isVisible('#deliveries'),
        false,
        'no banner while the gateway takes the pushes',
      );
      assert.deepEqual(
        await page.$$eval('tr.tier-row', (trs) =>
          trs.map((tr) => [
            tr.children[0]?.textContent,
            tr.children[1]?.textContent,
            // The state's badge ("running" may follow it while a backup runs).
            tr.children[2]?.querySelector('.badge')?.textContent,
          ]),
        ),
        [
          ['home', 'fast', 'OK'],
          ['home', 'weekly', 'WAITING'],
          ['broken', 'hourly', 'FAILED'],
        ],
      );
      assert.deepEqual(await readTexts(page, 'section.tier[data-tier="hourly"] .tier-error'), [
        broken.lastError,
      ]);
      // Runs that failed alike show their error once, under the newest.
      assert.deepEqual(await readTexts(page, 'section.tier[data-tier="hourly"] tr.run-error'), [
        broken.lastError,
      ]);
      const [weekly] = await readTexts(page, 'section.tier.compact');
      assert.match(
        weekly ?? '',
        /^home \/ weekly WAITING no backup yet, none due so far · next run \d{4}-\d\d-\d\d 04:00 \(in .+\) · max age 8d 0h$/,
      );
      // home/fast's list: the newest runs of the history, newest first, with their outcome,
      // a duration and the bytes processed.
      const shown = await page.$$eval('section.tier[data-tier="fast"] tr.run', (trs) =>
        trs.map((tr) => ({
          id: tr.getAttribute('data-run-id'),
          cells: Array.from(tr.querySelectorAll('td') as ArrayLike<{ textContent: string | null }>).map(
            (td) => td.textContent ?? '',
          ),
        })),
      );
      const runs = (await history('home', 'fast')).reverse();
      const n = Math.min(shown.length, runs.length);
      assert.ok(n >= 2);
      // The history may have gained a run between the two reads: compare the runs both saw.
      const offset = runs.findIndex((r) => r.id === shown[0]?.id);
      assert.ok(offset >= 0, 'the newest run listed is in the history');
      for (let i = 0; i < n - offset; i++) {
        const r = runs[i + offset];
        const row = shown[i];
        assert.equal(row?.id, r?.id);
        assert.equal(row?.cells[1], r?.outcome);
        assert.match(row?.cells[2] ?? '', /^(\d+ ms|\d+(\.\d)? s)$/, 'a short backup reads in ms or s');
        assert.match(row?.cells[3] ?? '', /^\d+(\.\d)? (B|KiB)$/, 'about 48 KiB of files');
      }
      await page.close();
    }
  });

  it('shows the deliveries-failing banner once the gateway is stopped', async () => {
    await gateway?.stop();
    const gw = `http://127.0.0.1:${gwPort}`;
    const refused = `gateway ${gw} unreachable after 1 attempt (connect ECONNREFUSED 127.0.0.1:${gwPort})`;
    const s = await waitUntil(
      'a push of home/fast waiting for the stopped gateway',
      async () => {
        const st = await status();
        return tierOf(st, 'home', 'fast').pendingDeliveries > 0 && st.deliveries.failing.length === 1
          ? st
          : undefined;
      },
      60_000,
      200,
    );
    const [failing] = s.deliveries.failing;
    assert.equal(failing?.destination, `gateway ${gw}`);
    assert.equal(failing?.lastError, refused);
    // The tiers themselves are as healthy as before: their backups work.
    assert.equal(tierOf(s, 'home', 'fast').state, 'OK');
    for (const [name, viewport] of VIEWPORTS) {
      const page = await open(name, viewport, 'gateway-down');
      assert.ok(await page.isVisible('#deliveries'));
      const [banner, ...more] = await readTexts(page, '#deliveries p');
      assert.deepEqual(more, []);
      const m =
        /^Deliveries failing: (\d+) (?:entry waits|entries wait) for (\S+ \S+) since \d\d:\d\d \([^)]+ ago\); last attempt \d\d:\d\d: (.*)$/.exec(
          banner ?? '',
        );
      assert.ok(m, `banner: ${banner}`);
      assert.ok(Number(m[1]) >= 1);
      assert.equal(m[2], `gateway ${gw}`);
      assert.equal(m[3], refused);
      // The tier's own waiting entries, marked in the table.
      const outbox = await readTexts(page, 'tr.tier-row[data-tier="fast"] td.outbox');
      assert.match(outbox[0] ?? '', name === 'phone' ? /^\d+$/ : /^\d+ waiting$/);
      await page.close();
    }
  });

  it('drops the banner once the gateway is back and the next run delivers the backlog', async () => {
    gateway = await startPushgateway({ port: gwPort });
    await waitUntil(
      'the outbox empty again',
      async () => {
        const st = await status();
        return st.deliveries.pending === 0 && st.deliveries.failing.length === 0;
      },
      60_000,
      200,
    );
    const page = await open('desktop', { width: 1280, height: 800 }, 'gateway-back');
    assert.equal(await page.isVisible('#deliveries'), false);
    await page.close();
  });
});
