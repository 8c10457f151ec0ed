/**
 * How a run's hooks and notifications show in its history record and warnings,
 * the same for every kind of run.
 */
import type { RunRecord } from '../state/history.js';
import { oneLine } from '../util/escape.js';
import type { HookedRunReport } from './hooked-run.js';

/** Masks the user info of URLs in text (`rest:https://user:pass@host/` becomes `//***@`). */
function maskCredentials(text: string): string {
  return text.replace(/\/\/[^/@\s]*@/g, '//***@');
}

/** The run's error for the history and for hooks: one line, credentials in URLs masked, at most 500 characters. */
export function resultError(r: { outcome: string; message?: string | undefined }): string | undefined {
  if (r.outcome === 'success' || r.message === undefined) return undefined;
  return oneLine(maskCredentials(r.message), 500);
}

/** The last lines of the command's output for a ping's body: credentials in URLs masked, control characters escaped per line. */
export function outputTail(stderrTail: string): string | undefined {
  if (stderrTail === '') return undefined;
  return maskCredentials(stderrTail)
    .split('\n')
    .map((l) => oneLine(l, 1000))
    .join('\n');
}

/** The hooks and undelivered notifications of a run, as its history record keeps them. */
export function hookedHistory(h: HookedRunReport): Pick<RunRecord, 'hooks' | 'undeliveredNotifications'> {
  return {
    hooks: h.hooks.map((x) => ({
      stage: x.stage,
      index: x.index,
      exitCode: x.exitCode,
      isOk: x.isOk,
      durationMs: Math.round(x.durationMs),
      ...(x.error !== undefined ? { error: x.error } : {}),
    })),
    undeliveredNotifications: h.notifications
      .filter((n) => !n.isDelivered)
      .map((n) => ({
        receiver: n.receiver,
        event: n.event,
        reason: n.reason ?? 'not delivered',
        isQueued: Boolean(n.isQueued),
      })),
  };
}

/**
 * One warning per failed after/finally hook (a failed run-before is the run's own
 * error), per notification not delivered, per queued notification still waiting.
 */
export function hookedWarnings(h: HookedRunReport): string[] {
  const out: string[] = [];
  for (const x of h.hooks) if (!x.isOk && x.stage !== 'run-before' && x.error) out.push(x.error);
  for (const n of h.notifications) {
    if (n.isDelivered) continue;
    const fate = n.isQueued
      ? 'queued in the outbox for the next run'
      : n.event === 'failure' || n.event === 'warning'
        ? 'not queued (refused)'
        : `dropped (a late ${n.event} notification would hide a missed run)`;
    out.push(`${n.event} notification not delivered: ${n.reason}; ${fate}`);
  }
  for (const p of h.queue?.pending ?? []) out.push(`queued notification still waiting: ${p}`);
  for (const d of h.queue?.dead ?? []) out.push(`queued notification moved to the dead-letter folder: ${d}`);
  out.push(...h.warnings);
  return out;
}
