/**
 * Ping URLs of dead man's switches: Healthchecks (https://healthchecks.io/docs/http_api/),
 * and, with `style`, Uptime Kuma push monitors and Cronitor's telemetry API
 * (https://cronitor.io/docs/telemetry-api).
 */
import type { NotificationMessage, Notifier, NotifierInput, NotifierRequest } from '../types.js';

/** Healthchecks keeps the first 100 kB of a ping's body; we send the last lines only. */
const MAX_BODY_CHARS = 10_000;

function withPath(url: string, suffix: string): URL {
  const u = new URL(url);
  u.pathname = `${u.pathname.replace(/\/+$/, '')}${suffix}`;
  return u;
}

/** The ping's body: the outcome line, the error, the last lines of output. */
function pingBody(m: NotificationMessage): string {
  const r = m.run;
  const head = `resticprom ${r.kind} ${r.profile}${r.tier ? `/${r.tier}` : ''}: ${m.isTest ? 'test' : (r.outcome ?? m.event)}`;
  const parts = [head, r.error ?? '', r.outputTail ?? ''].filter((s) => s !== '');
  const text = parts.join('\n');
  return text.length > MAX_BODY_CHARS ? text.slice(text.length - MAX_BODY_CHARS) : text;
}

function healthchecks(m: NotificationMessage, url: string): NotifierRequest {
  // start: /start; success: the URL; warning: the exit status form (/3, a failure to
  // Healthchecks); failure: /fail. `rid` pairs a start with its end.
  // A test logs an event without changing the check's state (`/log`).
  const suffix = m.isTest
    ? '/log'
    : m.event === 'start'
      ? '/start'
      : m.event === 'success'
        ? ''
        : m.event === 'warning'
          ? `/${m.run.exitCode ?? 3}`
          : '/fail';
  const u = withPath(url, suffix);
  u.searchParams.set('rid', m.run.runId);
  return {
    method: 'POST',
    url: u.toString(),
    headers: { 'Content-Type': 'text/plain; charset=utf-8' },
    body: m.event === 'start' ? '' : pingBody(m),
  };
}

function uptimeKuma(m: NotificationMessage, url: string): NotifierRequest | undefined {
  if (m.event === 'start') return undefined; // a push monitor knows only up and down
  const u = new URL(url);
  u.searchParams.set('status', m.event === 'success' ? 'up' : 'down');
  u.searchParams.set('msg', pingBody(m).split('\n').slice(0, 2).join(': ').slice(0, 250));
  if (m.run.durationMs !== undefined) u.searchParams.set('ping', String(Math.round(m.run.durationMs)));
  return { method: 'GET', url: u.toString(), headers: {} };
}

function cronitor(m: NotificationMessage, url: string): NotifierRequest {
  const u = new URL(url);
  const state = m.isTest ? 'ok' : m.event === 'start' ? 'run' : m.event === 'success' ? 'complete' : 'fail';
  u.searchParams.set('state', state);
  u.searchParams.set('series', m.run.runId);
  if (m.event !== 'start') {
    u.searchParams.set('message', pingBody(m).split('\n').slice(0, 2).join(': ').slice(0, 1000));
    if (m.run.exitCode !== undefined && m.run.exitCode !== null)
      u.searchParams.set('status_code', String(m.run.exitCode));
    if (m.run.durationMs !== undefined) u.searchParams.set('duration', (m.run.durationMs / 1000).toFixed(3));
  }
  return { method: 'GET', url: u.toString(), headers: {} };
}

/** `type: healthchecks`. */
export const healthchecksNotifier: Notifier = {
  spec: 'https://healthchecks.io/docs/http_api/',
  async request(m: NotificationMessage, input: NotifierInput) {
    const style = input.config.style ?? 'healthchecks';
    if (style === 'uptime-kuma') return uptimeKuma(m, input.url);
    if (style === 'cronitor') return cronitor(m, input.url);
    return healthchecks(m, input.url);
  },
};
