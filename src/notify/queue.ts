/**
 * Failure and warning notifications that could not be delivered within their run
 * wait in a durable outbox of their own, `<stateDir>/notify/outbox/`, with their
 * original time, and are sent, oldest first per receiver, by the next run.
 *
 * Built on the metrics outbox ({@link Outbox}): an entry's text is the message as
 * JSON, and its target names the receiver by key only (`http://receiver.invalid/KEY`),
 * so no URL, token or header of a receiver is ever stored; they are read from the
 * configuration when the entry is sent. An entry whose receiver was removed or
 * changed is moved to the dead-letter folder, like a refused payload.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Outbox } from '../sinks/outbox.js';
import type { Target } from '../sinks/target.js';
import type { Receiver } from './receivers.js';
import { NotifyError, type NotifySendOptions, sendToReceiver } from './send.js';
import type { NotificationMessage } from './types.js';

/** The job every queued notification is stored under. */
const QUEUE_JOB = 'resticprom_notification';
const TARGET_PREFIX = 'http://receiver.invalid/';

function queueOutbox(stateDir: string): Outbox {
  return new Outbox({ stateDir: join(stateDir, 'notify'), maxEntries: 1000 });
}

function targetOf(receiver: Receiver): Target {
  return { kind: 'remote-write', url: `${TARGET_PREFIX}${encodeURIComponent(receiver.key)}` };
}

function keyOf(target: Target): string | undefined {
  if (target.kind === 'textfile' || !target.url.startsWith(TARGET_PREFIX)) return undefined;
  return decodeURIComponent(target.url.slice(TARGET_PREFIX.length));
}

/** Stores `message` for `receiver` (fsynced, mode 0600), to be sent by the next run. */
export async function queueNotification(
  stateDir: string,
  receiver: Receiver,
  message: NotificationMessage,
): Promise<void> {
  await queueOutbox(stateDir).enqueue(
    {
      text: JSON.stringify(message),
      job: QUEUE_JOB,
      grouping: { type: receiver.config.type },
      method: 'post',
      measuredAt: message.at,
    },
    [targetOf(receiver)],
  );
}

/** What a flush of the queue did. */
export interface NotificationFlushReport {
  delivered: number;
  /** Still waiting: one line each, the receiver named by its label. */
  pending: string[];
  /** Moved to the dead-letter folder (refused, or the receiver is gone). */
  dead: string[];
}

/**
 * Sends what waits in the queue to receivers of the current configuration. Returns at
 * once, creating nothing, when nothing was ever queued.
 */
export async function flushQueuedNotifications(
  stateDir: string,
  receivers: ReadonlyMap<string, Receiver>,
  opts: NotifySendOptions = {},
): Promise<NotificationFlushReport> {
  const outbox = queueOutbox(stateDir);
  const report: NotificationFlushReport = { delivered: 0, pending: [], dead: [] };
  if (!existsSync(outbox.dir)) return report;
  const labelOf = (target: string) => {
    const at = target.indexOf(TARGET_PREFIX);
    if (at === -1) return target;
    const key = decodeURIComponent(target.slice(at + TARGET_PREFIX.length).split(/[\s:]/)[0] ?? '');
    return receivers.get(key)?.label ?? `receiver ${key}`;
  };
  // The outbox's words name the pseudo target; name the receiver instead.
  const reword = (reason: string | undefined) =>
    (reason ?? '').replace(
      /remote write http:\/\/receiver\.invalid\/(\S+?)(:| |$)/g,
      (_m, enc: string, end: string) => {
        const key = decodeURIComponent(enc);
        return `${receivers.get(key)?.label ?? `receiver ${key}`}${end}`;
      },
    );
  const flush = await outbox.flush({
    ...(opts.sendOptions ? { sendOptions: opts.sendOptions } : {}),
    send: async (payload, target) => {
      const key = keyOf(target);
      const receiver = key === undefined ? undefined : receivers.get(key);
      if (!receiver) {
        throw new NotifyError('its receiver was removed from the configuration or changed', {
          url: labelOf(key ?? ''),
          isRetryable: false,
          kind: 'setup',
        });
      }
      await sendToReceiver(receiver, JSON.parse(payload.text) as NotificationMessage, opts);
    },
  });
  report.delivered = flush.delivered.length;
  report.pending = flush.pending.map((e) => reword(e.reason));
  report.dead = [...flush.deadLettered, ...flush.superseded].map(
    (e) => `${labelOf(e.target)}: ${reword(e.reason)}`,
  );
  return report;
}
