/**
 * The status page's repository section in headless Chromium: each profile's last
 * forget, check, stats and verify with their outcome, age, key numbers and, for a
 * failed run, its error message; at desktop and phone sizes (screenshots saved in
 * test-artifacts/); and no 404 for the favicon.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import type { Daemon } from '../../src/schedule/daemon.js';
import { appendRun, type RunRecord } from '../../src/state/history.js';
import type { StatusView } from '../../src/web/api.js';
import { launchChromium } from '../helpers/browser.js';
import { ROOT } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/services.js';
import { NOW, startFixtureDaemon, writeFixture } from './fixture.js';

const HOUR = 3_600_000;

function run(
  kind: RunRecord['kind'],
  endedAt: number,
  outcome: RunRecord['outcome'],
  extra: Partial<RunRecord>,
): RunRecord {
  return {
    v: 1,
    id: randomUUID(),
    kind,
    profile: 'nfs',
    job: 'restic_backup',
    startedAt: endedAt - 60_000,
    endedAt,
    outcome,
    exitCode: outcome === 'success' ? 0 : 1,
    ...extra,
  };
}

const VERIFY_ERROR =
  '1 of 200 file(s) did not restore as backed up: /srv/nfs/plan.odt (restic: ciphertext verification failed)';

describe('status page: repository runs', () => {
  const tmp = makeTempDir('resticprom-page-repo-');
  let daemon: Daemon;
  let browser: Browser;

  before(async () => {
    const fx = await writeFixture(tmp.dir);
    for (const r of [
      run('forget', NOW - 9 * HOUR, 'success', { tier: 'daily', summary: { kept: 7, removed: 1 } }),
      run('check', NOW - 30 * HOUR, 'success', { summary: { errors: 0, messages: [] } }),
      run('check', NOW - 6 * HOUR, 'failed', {
        reason: 'other',
        error: 'restic check found 2 error(s) in the repository: pack 1a2b3c: not referenced in any index',
        summary: { errors: 2, messages: [] },
      }),
      run('stats', NOW - 2 * HOUR, 'success', {
        summary: { rawSize: 5 * 1024 ** 3, restoreSize: 9e9, snapshots: 42 },
      }),
      run('verify', NOW - 3 * HOUR, 'failed', {
        reason: 'other',
        error: VERIFY_ERROR,
        summary: { tier: 'daily', files: 200, bytes: 1e9, mismatches: 1, comparedWithSource: 190 },
      }),
    ])
      await appendRun(fx.stateDir, r);
    daemon = await startFixtureDaemon(fx);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await daemon?.stop(0);
    tmp.cleanup();
  });

  it('/api/status lists the last forget, check, stats and verify with figures and errors', async () => {
    const s = (await (await fetch(`${daemon.url}/api/status`)).json()) as StatusView;
    const nfs = s.repositoryRuns.filter((r) => r.profile === 'nfs');
    assert.deepEqual(
      nfs.map((r) => [r.kind, r.tier, r.outcome, r.ageMs, r.error, r.figures]),
      [
        ['forget', 'daily', 'success', 9 * HOUR, null, { kept: 7, removed: 1 }],
        [
          'check',
          null,
          'failed',
          6 * HOUR,
          'restic check found 2 error(s) in the repository: pack 1a2b3c: not referenced in any index',
          { errors: 2 },
        ],
        [
          'stats',
          null,
          'success',
          2 * HOUR,
          null,
          { rawSize: 5 * 1024 ** 3, restoreSize: 9e9, snapshots: 42 },
        ],
        [
          'verify',
          'daily',
          'failed',
          3 * HOUR,
          VERIFY_ERROR,
          { files: 200, bytes: 1e9, mismatches: 1, comparedWithSource: 190 },
        ],
      ],
    );
    assert.equal(nfs.find((r) => r.kind === 'check')?.lastSuccess, NOW - 30 * HOUR);
    assert.equal(s.repositoryRuns.filter((r) => r.profile === 'db').length, 0);
  });

  for (const [name, viewport] of [
    ['desktop', { width: 1280, height: 800 }],
    ['phone', { width: 390, height: 844 }],
  ] as const) {
    it(`shows what a user reads at ${viewport.width}x${viewport.height} (${name}), screenshot saved`, async () => {
      const page = await browser.newPage({ viewport, timezoneId: 'UTC' });
      const notFound: string[] = [];
      const errors: string[] = [];
      page.on('response', (r) => {
        if (r.status() >= 400) notFound.push(`${r.status()} ${r.url()}`);
      });
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${daemon.url}/`);
      await page.waitForSelector('body[data-updated-at]');
      const rows = await page.$$eval('tr.repo-row', (trs) =>
        trs.map((tr) =>
          Array.from(tr.querySelectorAll('td') as ArrayLike<{ textContent: string | null }>).map(
            (td) => td.textContent ?? '',
          ),
        ),
      );
      assert.deepEqual(rows, [
        ['nfs', 'forget daily', 'success', '9h 0m ago', 'kept 7, removed 1', ''],
        [
          'nfs',
          'check',
          'failed',
          '6h 0m ago',
          '2 error(s) found',
          'restic check found 2 error(s) in the repository: pack 1a2b3c: not referenced in any index',
        ],
        ['nfs', 'stats', 'success', '2h 0m ago', '5.0 GiB stored, 42 snapshot(s)', ''],
        ['nfs', 'verify daily', 'failed', '3h 0m ago', '200 file(s) verified, 1 mismatch(es)', VERIFY_ERROR],
      ]);
      // The error is readable: it wraps inside the page instead of running off a phone's screen.
      const box = await page.$eval('tr.repo-row[data-kind="verify"] td.error', (td) => {
        const r = (td as unknown as { getBoundingClientRect(): { height: number } }).getBoundingClientRect();
        return { height: r.height };
      });
      assert.ok(box.height > 0);
      const dir = join(ROOT, 'test-artifacts');
      mkdirSync(dir, { recursive: true });
      const png = await page.screenshot({ path: join(dir, `status-repository-${name}.png`), fullPage: true });
      assert.ok(png.length > 10_000);
      assert.deepEqual(errors, []);
      assert.deepEqual(notFound, [], 'no request fails, the favicon included');
      await page.close();
    });
  }

  it('answers the favicon with 204, not 404', async () => {
    const res = await fetch(`${daemon.url}/favicon.ico`);
    assert.equal(res.status, 204);
  });
});
