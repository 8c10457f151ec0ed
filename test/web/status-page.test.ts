import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { Daemon } from '../../src/schedule/daemon.js';
import { launchChromium } from '../helpers/browser.js';
import { ROOT } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/services.js';
import { NOW, startFixtureDaemon, type WebFixture, writeFixture } from './fixture.js';

/** The part of the browser's window the page checks use (the test is typed without the DOM library). */
interface Win {
  getComputedStyle(e: unknown): { backgroundColor: string };
}

interface RowData {
  profile: string;
  tier: string;
  state: string;
  ageMs: string;
  lastSuccess: string;
  nextRun: string;
  ageText: string;
}

describe('status page in headless Chromium', () => {
  const tmp = makeTempDir('resticprom-page-');
  let fx: WebFixture;
  let daemon: Daemon;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];

  before(async () => {
    fx = await writeFixture(tmp.dir);
    daemon = await startFixtureDaemon(fx);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, timezoneId: 'UTC' });
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    // Any request not to the daemon would be an external resource.
    await page.route('**/*', (route) =>
      route.request().url().startsWith(daemon.url) ? route.continue() : route.abort(),
    );
    await page.goto(`${daemon.url}/`);
    await page.waitForSelector('body[data-updated-at]');
  });
  after(async () => {
    await browser?.close();
    await daemon?.stop(0);
    tmp.cleanup();
  });

  it('shows every tier with its state, colour, age and next run', async () => {
    const rows = await page.$$eval('tr.tier-row', (trs) =>
      trs.map((tr) => ({
        profile: tr.getAttribute('data-profile') ?? '',
        tier: tr.getAttribute('data-tier') ?? '',
        state: tr.getAttribute('data-state') ?? '',
        ageMs: tr.getAttribute('data-age-ms') ?? '',
        lastSuccess: tr.getAttribute('data-last-success') ?? '',
        nextRun: tr.getAttribute('data-next-run') ?? '',
        ageText: tr.querySelector('.age')?.textContent ?? '',
      })),
    );
    const end = (k: string, i = -1) => fx.runs[k]?.at(i)?.endedAt ?? 0;
    const want: RowData[] = [
      {
        profile: 'nfs',
        tier: 'daily',
        state: 'OK',
        ageMs: String(NOW - end('nfs/daily')),
        lastSuccess: String(end('nfs/daily')),
        nextRun: String(Date.UTC(2024, 5, 16, 3)),
        ageText: '8h 59m ago',
      },
      {
        profile: 'nfs',
        tier: 'weekly',
        state: 'LATE',
        ageMs: String(NOW - end('nfs/weekly')),
        lastSuccess: String(end('nfs/weekly')),
        nextRun: String(Date.UTC(2024, 5, 16, 4)),
        ageText: '19d 23h ago',
      },
      {
        profile: 'nfs',
        tier: 'monthly',
        state: 'NEVER',
        ageMs: '',
        lastSuccess: '',
        nextRun: String(Date.UTC(2024, 6, 1, 5)),
        ageText: '—',
      },
      {
        profile: 'db',
        tier: 'hourly',
        state: 'FAILED',
        ageMs: String(NOW - end('db/hourly', 0)),
        lastSuccess: String(end('db/hourly', 0)),
        nextRun: String(Date.UTC(2024, 5, 15, 13)),
        ageText: '1h 59m ago',
      },
    ];
    assert.deepEqual(rows, want);
    // The badge colour follows the state.
    const colours = await page.$$eval('tr.tier-row .badge', (bs) =>
      bs.map((b) => (globalThis as unknown as Win).getComputedStyle(b).backgroundColor),
    );
    assert.equal(new Set(colours).size, 4, `four distinct state colours: ${colours.join(', ')}`);
  });

  it("draws each tier's history as chart points with the run's values", async () => {
    const points = await page.$$eval(
      'section.tier[data-profile="nfs"][data-tier="daily"] circle.point',
      (cs) =>
        cs.map((c) => ({
          chart: c.closest('svg')?.getAttribute('data-chart'),
          series: c.getAttribute('data-series'),
          id: c.getAttribute('data-run-id'),
          value: Number(c.getAttribute('data-value')),
          outcome: c.getAttribute('data-outcome'),
        })),
    );
    const runs = fx.runs['nfs/daily'] ?? [];
    const want: typeof points = [];
    for (const r of runs) {
      want.push({
        chart: 'duration',
        series: 'duration',
        id: r.id,
        value: (r.endedAt - r.startedAt) / 1000,
        outcome: r.outcome,
      });
    }
    const ok = runs.filter((r) => r.summary);
    const s = (r: (typeof runs)[number]) => r.summary as Record<string, number>;
    for (const [series, field] of [
      ['processed', 'totalBytesProcessed'],
      ['added', 'dataAdded'],
    ] as const) {
      for (const r of ok)
        want.push({ chart: 'bytes', series, id: r.id, value: s(r)[field] ?? 0, outcome: r.outcome });
    }
    for (const [series, field] of [
      ['new', 'filesNew'],
      ['changed', 'filesChanged'],
    ] as const) {
      for (const r of ok)
        want.push({ chart: 'files', series, id: r.id, value: s(r)[field] ?? 0, outcome: r.outcome });
    }
    assert.deepEqual(points, want);
    // Later runs are further right.
    const xs = await page.$$eval(
      'section.tier[data-tier="daily"] svg[data-chart="duration"] circle.point',
      (cs) => cs.map((c) => Number(c.getAttribute('cx'))),
    );
    assert.deepEqual(
      xs,
      [...xs].sort((a, b) => a - b),
    );
    assert.equal(new Set(xs).size, 5);
  });

  it('shows a tier that never ran as one line without charts and loads no external resource', async () => {
    const monthly = await page.$eval('section.tier[data-tier="monthly"]', (s) => ({
      charts: s.querySelectorAll('svg').length,
      // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what a user reads
      text: (s as unknown as { innerText: string }).innerText.replace(/\s+/g, ' ').trim(),
    }));
    assert.deepEqual(monthly, {
      charts: 0,
      text: 'nfs / monthly NEVER no backup recorded · next run 2024-07-01 05:00 (in 15d 17h) · max age 32d 0h',
    });
    assert.deepEqual(consoleErrors, []);
  });

  it('saves a screenshot to test-artifacts/status-page.png', async () => {
    const dir = join(ROOT, 'test-artifacts');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'status-page.png');
    const png = await page.screenshot({ path: file, fullPage: true });
    assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
  });
});
