/**
 * Sends a run's event to its receivers: each request built by the receiver type's
 * notifier, its secrets read just before, sent with bounded retries and backoff
 * (the sinks' HTTP transport). What cannot be delivered never changes the run's
 * outcome: a failure or warning is queued in the durable outbox (see queue.ts),
 * a start or success is dropped (a late success ping would tell a dead man's switch
 * that a run it missed happened on time) and reported.
 */
import { errorText, SinkError } from '../errors.js';
import { resolveSecret, sendHttp } from '../sinks/http.js';
import type { SendOptions } from '../sinks/target.js';
import { oneLine } from '../util/escape.js';
import { NOTIFIERS } from './notifiers/index.js';
import type { Receiver } from './receivers.js';
import type { NotificationMessage } from './types.js';

/** Attempts after the first within a run. */
export const DEFAULT_NOTIFY_RETRIES = 2;
/** Per-attempt timeout, ms. */
export const DEFAULT_NOTIFY_TIMEOUT_MS = 10_000;

/** What happened to one notification. */
export interface ReceiverOutcome {
  receiver: string;
  type: string;
  event: NotificationMessage['event'];
  isDelivered: boolean;
  /** The receiver's HTTP status, when it answered. */
  status?: number;
  /** The start of its answer, escaped, when it answered. */
  answer?: string;
  /** Why it was not delivered (one line, no secret). */
  reason?: string;
  /** True when it waits in the outbox for the next run. */
  isQueued?: boolean;
}

/** Options of {@link sendToReceiver} and {@link notifyReceivers}. */
export interface NotifySendOptions {
  /** Where `{ env: NAME }` secrets are read from. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Transport hooks (fetch, sleep, signal), as for the sinks. */
  sendOptions?: SendOptions;
}

/** A send failure with the reason in words that carry no URL (a ping URL is a secret). */
export class NotifyError extends SinkError {}

function describeError(err: unknown, label: string): NotifyError {
  if (err instanceof SinkError) {
    const reason =
      err.status !== undefined
        ? `${label} answered ${err.status}${err.body ? `: ${oneLine(err.body, 200)}` : ''}`
        : `${label}: ${oneLine(err.message.replace(/https?:\/\/\S+/g, '(its URL)'), 300)}`;
    return new NotifyError(
      reason,
      {
        url: label,
        isRetryable: err.isRetryable,
        kind: err.kind,
        attempts: err.attempts,
        ...(err.status !== undefined ? { status: err.status } : {}),
        ...(err.body !== undefined ? { body: oneLine(err.body, 200) } : {}),
      },
      { cause: err },
    );
  }
  const msg = errorText(err);
  return new NotifyError(
    `${label}: ${oneLine(msg, 300)}`,
    { url: label, isRetryable: false, kind: 'setup' },
    { cause: err },
  );
}

/**
 * Sends one message to one receiver; resolves to its answer, or undefined when the
 * type has nothing to send for this event (an Uptime Kuma push has no start).
 * @throws NotifyError naming the receiver by its label, never its URL or a secret
 */
export async function sendToReceiver(
  receiver: Receiver,
  message: NotificationMessage,
  opts: NotifySendOptions = {},
): Promise<{ status: number; body: string } | undefined> {
  const c = receiver.config;
  const env = opts.env ?? process.env;
  try {
    const url = await resolveSecret(c.url, { env, what: 'url' });
    const token = c.token ? await resolveSecret(c.token, { env, what: 'token' }) : undefined;
    const headers: Record<string, string> = {};
    for (const [name, source] of Object.entries(c.headers)) {
      headers[name] = await resolveSecret(source, { env, what: `header ${name}` });
    }
    const req = await NOTIFIERS[c.type].request(message, {
      config: c,
      url,
      ...(token !== undefined ? { token } : {}),
    });
    if (!req) return undefined;
    const res = await sendHttp(
      {
        method: req.method,
        url: req.url,
        headers: req.headers,
        ...(req.body !== undefined ? { body: Buffer.from(req.body) } : {}),
        action: 'notifying',
      },
      {
        headers,
        timeoutMs: c.timeoutMs ?? DEFAULT_NOTIFY_TIMEOUT_MS,
        retries: c.retries ?? DEFAULT_NOTIFY_RETRIES,
      },
      { ...opts.sendOptions, env },
    );
    return res;
  } catch (err) {
    throw describeError(err, receiver.label);
  }
}

/**
 * Sends `message` to every receiver whose `on:` has its event, in parallel. Returns one
 * outcome per receiver told; `onUndelivered` decides what becomes of a failure (queue it
 * or not) and returns true when it was queued.
 */
export async function notifyReceivers(
  receivers: readonly Receiver[],
  message: NotificationMessage,
  opts: NotifySendOptions & {
    onUndelivered?: (receiver: Receiver, err: NotifyError) => Promise<boolean>;
  } = {},
): Promise<ReceiverOutcome[]> {
  const told = receivers.filter((r) => r.config.on.includes(message.event));
  return Promise.all(
    told.map(async (r): Promise<ReceiverOutcome> => {
      const base = { receiver: r.label, type: r.config.type, event: message.event };
      try {
        const res = await sendToReceiver(r, message, opts);
        if (!res) return { ...base, isDelivered: true, reason: 'nothing to send for this event' };
        return { ...base, isDelivered: true, status: res.status, answer: oneLine(res.body, 200) };
      } catch (err) {
        const e = err instanceof NotifyError ? err : describeError(err, r.label);
        const isQueued = (await opts.onUndelivered?.(r, e).catch(() => false)) ?? false;
        return {
          ...base,
          isDelivered: false,
          reason: e.message,
          ...(e.status !== undefined ? { status: e.status } : {}),
          ...(e.body !== undefined ? { answer: e.body } : {}),
          isQueued,
        };
      }
    }),
  );
}
