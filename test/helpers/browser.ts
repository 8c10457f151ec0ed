/**
 * Headless Chromium for the status page tests (Debian's chromium through playwright-core),
 * what a user reads on a page, and screenshots saved as test artifacts.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { ROOT } from './cli.js';

/** Starts Debian's chromium headless, with the flags it needs in a container without a GPU. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** Where screenshots go: `test-artifacts/` at the repository root (gitignored). */
export const ARTIFACTS_DIR = join(ROOT, 'test-artifacts');

/** Saves a screenshot of the whole page as `test-artifacts/<name>.png` and returns its bytes. */
export async function saveScreenshot(
  page: Page,
  name: string,
  opts: { fullPage?: boolean } = {},
): Promise<Buffer> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  return page.screenshot({ path: join(ARTIFACTS_DIR, `${name}.png`), fullPage: opts.fullPage ?? true });
}

/**
 * The text a user reads in each element matching `selector`, whitespace collapsed: the
 * rendered text (hidden parts left out); for SVG elements, which have none, what they draw.
 */
export function readTexts(page: Page, selector: string): Promise<string[]> {
  return page.$$eval(selector, (es) =>
    es.map((e) =>
      // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what a user reads
      ((e as unknown as { innerText?: string }).innerText ?? e.textContent ?? '').replace(/\s+/g, ' ').trim(),
    ),
  );
}
