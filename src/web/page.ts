/**
 * The daemon's status page: one HTML document with its CSS and script inline,
 * and the Content-Security-Policy that allows exactly those two (by hash) plus
 * requests to the daemon itself, nothing else.
 */
import { createHash } from 'node:crypto';
import { PAGE_SCRIPT } from './page-script.js';
import { PAGE_STYLE } from './page-style.js';

function cspHash(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/** The status page, served on `/`. */
export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>resticprom status</title>
<style>${PAGE_STYLE}</style>
</head>
<body>
<header><h1>resticprom</h1><span class="meta" id="meta">loading…</span></header>
<main>
<div id="error" role="alert"></div>
<div id="deliveries" role="alert"></div>
<div id="summary"></div>
<h2 class="section">Repository</h2>
<div id="repository"></div>
<div class="tiers" id="tiers"></div>
</main>
<footer>Refreshes every 10 s · <a href="metrics">/metrics</a> · <a href="api/status">/api/status</a></footer>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;

/** The Content-Security-Policy of the status page: its own inline style and script only, requests to itself. */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  `style-src ${cspHash(PAGE_STYLE)}`,
  `script-src ${cspHash(PAGE_SCRIPT)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
