/**
 * What the job commands print about hooks and notifications, and how an undelivered
 * notification shows in the exit code.
 */
import type { HookedRunReport } from '../jobs/hooked-run.js';
import { escapeControl } from '../util/escape.js';
import { ExitCode } from './exit-codes.js';
import type { Logger } from './output.js';

/** Logs a hook's output line, prefixed with its stage and position and escaped: `hook run-before 1: ...`. */
export function hookLineLogger(log: Logger) {
  return (hook: { stage: string; index: number }, line: string) =>
    log.info(`hook ${hook.stage} ${hook.index + 1}: ${escapeControl(line)}`);
}

/** One line per notification delivered (the undelivered ones are among the job's warnings). */
export function reportNotifications(log: Logger, report: HookedRunReport): void {
  for (const n of report.notifications) {
    if (n.isDelivered) {
      log.info(`${n.event} notification delivered to ${n.receiver}${n.status ? ` (${n.status})` : ''}`);
    }
  }
  if (report.queue && report.queue.delivered > 0)
    log.info(`${report.queue.delivered} queued notification(s) of earlier runs delivered`);
}

/** Exit code once notifications are known: like metrics, one not delivered shows only when the run itself succeeded (75). */
export function withNotifications(code: number, report: HookedRunReport): number {
  if (code !== ExitCode.OK) return code;
  return report.notifications.some((n) => !n.isDelivered) ? ExitCode.TEMPFAIL : code;
}
