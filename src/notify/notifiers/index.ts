/** Every receiver type and its notifier. */
import type { NotificationType } from '../../config/types.js';
import type { Notifier } from '../types.js';
import { discordNotifier, slackNotifier } from './chat.js';
import { gotifyNotifier } from './gotify.js';
import { healthchecksNotifier } from './healthchecks.js';
import { ntfyNotifier } from './ntfy.js';
import { webhookNotifier } from './webhook.js';

/** The notifier of each receiver type. */
export const NOTIFIERS: Record<NotificationType, Notifier> = {
  healthchecks: healthchecksNotifier,
  webhook: webhookNotifier,
  ntfy: ntfyNotifier,
  gotify: gotifyNotifier,
  slack: slackNotifier,
  discord: discordNotifier,
};
