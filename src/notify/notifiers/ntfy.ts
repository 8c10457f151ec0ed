/**
 * `type: ntfy`: a POST of the message to the topic URL, title, priority and tags in
 * headers (https://docs.ntfy.sh/publish/).
 */
import { messageLines, messageTitle } from '../message.js';
import type { NotificationMessage, Notifier, NotifierInput } from '../types.js';

/** ntfy's priorities: 5 max, 4 high, 3 default, 2 low, 1 min. */
function priority(m: NotificationMessage, failure: number | undefined): number {
  if (m.event === 'failure') return failure ?? 4;
  if (m.event === 'warning') return 3;
  return 2;
}

/** ntfy turns these tags into emoji. */
const TAGS = {
  start: 'hourglass',
  success: 'white_check_mark',
  warning: 'warning',
  failure: 'rotating_light',
};

/** `type: ntfy`. */
export const ntfyNotifier: Notifier = {
  spec: 'https://docs.ntfy.sh/publish/',
  async request(m: NotificationMessage, input: NotifierInput) {
    const headers: Record<string, string> = {
      'Content-Type': 'text/plain; charset=utf-8',
      // Header values must be Latin-1; the title is ASCII apart from names from the config.
      Title: messageTitle(m).replace(/[^\x20-\x7e]/g, '?'),
      Priority: String(priority(m, input.config.priority)),
      Tags: `${TAGS[m.event]},resticprom`,
    };
    if (input.token) headers.Authorization = `Bearer ${input.token}`;
    return { method: 'POST', url: input.url, headers, body: messageLines(m).join('\n') };
  },
};
