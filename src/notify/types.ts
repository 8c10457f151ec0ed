/**
 * The notification extension point: one {@link Notifier} per receiver type turns a
 * run's event into the request its service documents.
 */
import type { NotificationConfig, NotificationEventName } from '../config/types.js';
import type { RunFacts } from '../jobs/run-facts.js';

/** One event about one run, as sent (and as queued: `at` is the original time). */
export interface NotificationMessage {
  event: NotificationEventName;
  /** When the event happened, Unix ms. */
  at: number;
  run: RunFacts;
  /** True for `resticprom notify test`. */
  isTest?: boolean;
}

/** A request to a receiver, its secrets (URL, token, headers) already read. */
export interface NotifierRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** What a notifier gets besides the message: the receiver and its secrets, read. */
export interface NotifierInput {
  config: NotificationConfig;
  /** The receiver's URL, read from its secret source. */
  url: string;
  /** The token, read (gotify, ntfy). */
  token?: string;
}

/** One receiver type. */
export interface Notifier {
  /** Builds the request for `message`; undefined when the type has nothing to send for this event. */
  request(message: NotificationMessage, input: NotifierInput): Promise<NotifierRequest | undefined>;
  /** Where the request format is documented (docs/hooks.md links the same). */
  readonly spec: string;
}
