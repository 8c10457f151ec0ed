/**
 * `type: gotify`: `POST /message` with the application token in `X-Gotify-Key` and
 * a JSON body of title, message and priority (https://gotify.net/api-docs#/message/createMessage).
 */
import { messageLines, messageTitle } from '../message.js';
import type { NotificationMessage, Notifier, NotifierInput } from '../types.js';

function priority(m: NotificationMessage, failure: number | undefined): number {
  if (m.event === 'failure') return failure ?? 8;
  if (m.event === 'warning') return 5;
  return 2;
}

/** `type: gotify`. */
export const gotifyNotifier: Notifier = {
  spec: 'https://gotify.net/api-docs#/message/createMessage',
  async request(m: NotificationMessage, input: NotifierInput) {
    const u = new URL(input.url);
    u.pathname = `${u.pathname.replace(/\/+$/, '')}/message`;
    return {
      method: 'POST',
      url: u.toString(),
      headers: { 'Content-Type': 'application/json', 'X-Gotify-Key': input.token ?? '' },
      body: JSON.stringify({
        title: messageTitle(m),
        message: messageLines(m).join('\n'),
        priority: priority(m, input.config.priority),
      }),
    };
  },
};
