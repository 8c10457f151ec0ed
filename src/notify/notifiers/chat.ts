/**
 * Chat webhooks: Slack's incoming webhooks (https://api.slack.com/messaging/webhooks,
 * an attachment for the colour: https://api.slack.com/reference/messaging/attachments)
 * and Discord's execute-webhook (https://discord.com/developers/docs/resources/webhook#execute-webhook,
 * an embed for the colour).
 */
import { messageLines, messageTitle } from '../message.js';
import type { NotificationMessage, Notifier, NotifierInput } from '../types.js';

/** Colours by event: red failure, amber warning, green success, grey start. */
const COLOURS = { failure: 0xd0021b, warning: 0xf5a623, success: 0x2eb886, start: 0x9b9b9b } as const;

/** `type: slack`. */
export const slackNotifier: Notifier = {
  spec: 'https://api.slack.com/messaging/webhooks',
  async request(m: NotificationMessage, input: NotifierInput) {
    const title = messageTitle(m);
    const text = messageLines(m).join('\n');
    return {
      method: 'POST',
      url: input.url,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        text: title,
        attachments: [
          {
            color: `#${COLOURS[m.event].toString(16).padStart(6, '0')}`,
            title,
            text,
            fallback: `${title}: ${text}`,
          },
        ],
      }),
    };
  },
};

/** `type: discord`. */
export const discordNotifier: Notifier = {
  spec: 'https://discord.com/developers/docs/resources/webhook#execute-webhook',
  async request(m: NotificationMessage, input: NotifierInput) {
    return {
      method: 'POST',
      url: input.url,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        username: 'resticprom',
        embeds: [
          {
            title: messageTitle(m),
            description: messageLines(m).join('\n').slice(0, 4096),
            color: COLOURS[m.event],
            timestamp: new Date(m.at).toISOString(),
          },
        ],
        // Names from the config must not ping @everyone.
        allowed_mentions: { parse: [] },
      }),
    };
  },
};
