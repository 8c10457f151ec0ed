/**
 * The words of a notification: a title and a few lines, the same for every chat
 * service; each service only decides the colour or priority.
 */
import { formatBytes } from '../util/bytes.js';
import { formatDuration } from '../util/duration.js';
import { oneLine } from '../util/escape.js';
import type { NotificationMessage } from './types.js';

/** `backup nfs/daily on host1`. */
function what(m: NotificationMessage): string {
  const r = m.run;
  return `${r.kind} ${r.profile}${r.tier ? `/${r.tier}` : ''} on ${r.host}`;
}

/** The verb of an event: `started`, `succeeded`, `finished with warnings`, `failed`. */
export function eventVerb(m: NotificationMessage): string {
  if (m.event === 'start') return 'started';
  if (m.event === 'success') return 'succeeded';
  if (m.event === 'warning') return 'finished with warnings';
  return m.run.outcome === 'interrupted' ? 'was interrupted' : 'failed';
}

/** The title: `[test] backup nfs/daily on host1 failed`. */
export function messageTitle(m: NotificationMessage): string {
  if (m.isTest) return oneLine(`[test] resticprom notifications for ${what(m)}`, 250);
  return oneLine(`${what(m)} ${eventVerb(m)}`, 250);
}

/** The lines under the title: the error, the figures, when. */
export function messageLines(m: NotificationMessage): string[] {
  const r = m.run;
  const lines: string[] = [];
  if (m.isTest) lines.push('A test notification from resticprom notify test; no backup ran.');
  if (r.error) lines.push(oneLine(r.error, 1000));
  const facts: string[] = [];
  if (r.reason) facts.push(`reason ${r.reason}`);
  if (r.exitCode !== undefined) facts.push(`exit code ${r.exitCode ?? 'none (signal)'}`);
  if (r.snapshotId) facts.push(`snapshot ${r.snapshotId.slice(0, 8)}`);
  if (r.filesNew !== undefined) facts.push(`${r.filesNew} new and ${r.filesChanged ?? 0} changed files`);
  if (r.bytesAdded !== undefined) facts.push(`${formatBytes(r.bytesAdded)} added`);
  if (r.durationMs !== undefined) facts.push(`took ${formatDuration(r.durationMs)}`);
  if (facts.length > 0) lines.push(facts.join(', '));
  lines.push(`at ${new Date(m.at).toISOString()}`);
  return lines;
}

/** The run as the JSON a webhook gets, and the variables of a webhook's body template. */
export function messageRecord(m: NotificationMessage): Record<string, unknown> {
  const r = m.run;
  return {
    event: m.event,
    time: new Date(m.at).toISOString(),
    title: messageTitle(m),
    text: messageLines(m).join('\n'),
    test: Boolean(m.isTest),
    run: {
      id: r.runId,
      kind: r.kind,
      profile: r.profile,
      tier: r.tier ?? null,
      host: r.host,
      outcome: r.outcome ?? null,
      exitCode: r.exitCode ?? null,
      reason: r.reason ?? null,
      error: r.error ?? null,
      snapshotId: r.snapshotId ?? null,
      startedAt: new Date(r.startedAt).toISOString(),
      endedAt: r.endedAt === undefined ? null : new Date(r.endedAt).toISOString(),
      durationSeconds: r.durationMs === undefined ? null : Math.round(r.durationMs) / 1000,
      filesNew: r.filesNew ?? null,
      filesChanged: r.filesChanged ?? null,
      bytesAdded: r.bytesAdded ?? null,
      bytesProcessed: r.bytesProcessed ?? null,
    },
  };
}
