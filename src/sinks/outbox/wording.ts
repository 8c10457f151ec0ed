/**
 * How the outbox words a failure for people: one line naming the target, never a secret.
 */
import { errorText, InvalidMetricsError, maskUrl, SinkError } from '../../errors.js';
import { sinkFor } from '../sink.js';
import type { OutboxEntry } from './entry.js';

/** A target for people: `gateway http://gw:9091`, `remote write https://...`, `textfile /path`. */
export function targetLabel(e: Pick<OutboxEntry, 'target' | 'targetId'>): string {
  const prefix = `${e.target.kind} `;
  const where = e.targetId.startsWith(prefix) ? e.targetId.slice(prefix.length) : e.targetId;
  return `${targetNoun(e.target)} ${where}`;
}

/** What people call a target kind in messages: `gateway`, `remote write`, `textfile`. */
export function targetNoun(t: { kind: string }): string {
  return sinkFor(t.kind).noun;
}

/** One line saying why sending an entry failed, naming the target; never a secret. */
export function describeFailure(entry: Pick<OutboxEntry, 'target' | 'targetId'>, err: unknown): string {
  const who = targetLabel(entry);
  if (err instanceof InvalidMetricsError) return `${who} refused: ${err.message}`;
  if (!(err instanceof SinkError)) {
    return entry.target.kind === 'textfile'
      ? `${who} not written: ${rootMessage(err)}`
      : `${who}: delivery failed (${rootMessage(err)})`;
  }
  const times = err.attempts > 1 ? ` after ${err.attempts} attempts` : '';
  switch (err.kind) {
    case 'status': {
      const body = (err.body ?? '').replace(/\s+/g, ' ').trim().slice(0, 300);
      return `${who} answered ${err.status}${body ? `: ${body}` : ''}${times}`;
    }
    case 'network':
      return `${who} unreachable after ${err.attempts} attempt${err.attempts === 1 ? '' : 's'} (${rootMessage(err)})`;
    case 'file':
      return `${who} not written: ${rootMessage(err)}`;
    default:
      // Timeouts, TLS trust, unreadable secrets: the sender's words say it best.
      return `${who}: ${err.detail}${err.attempts > 1 ? ` (after ${err.attempts} attempts)` : ''}`;
  }
}

/** The innermost cause's message (e.g. `connect ECONNREFUSED 127.0.0.1:9`), secrets masked. */
function rootMessage(err: unknown): string {
  let e: unknown = err;
  for (let i = 0; i < 5; i++) {
    const c = (e as { cause?: unknown } | undefined)?.cause;
    if (c === undefined || c === null) break;
    e = c;
  }
  if (e instanceof AggregateError && e.errors[0] instanceof Error) e = e.errors[0];
  // Node says "socket hang up" for a connection closed before the answer.
  if ((e as { code?: unknown } | undefined)?.code === 'ECONNRESET') return 'the server closed the connection';
  const msg = errorText(e);
  return maskUrl(msg);
}
