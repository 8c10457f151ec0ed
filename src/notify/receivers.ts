/**
 * The receivers of a run, from the configuration: the profile's, then the tier's.
 * Each gets a stable key (where it is configured plus a fingerprint of its settings)
 * by which a queued notification finds it again, its secrets read only then.
 */
import { createHash } from 'node:crypto';
import type { Config, HookedRunKind, NotificationConfig } from '../config/types.js';

/** One configured receiver. */
export interface Receiver {
  /** `profile/tier/index/fingerprint`; the tier is empty for the profile's own receivers. */
  key: string;
  config: NotificationConfig;
  /** For people, never a secret: `healthchecks hc-ping.com (profiles.nfs.notifications[0])`. */
  label: string;
}

function fingerprint(c: NotificationConfig): string {
  return createHash('sha256').update(JSON.stringify(c)).digest('hex').slice(0, 12);
}

/** Names a receiver without its secrets: its type, its host when the URL is written inline, where it is configured. */
function labelOf(c: NotificationConfig, where: string): string {
  let host = '';
  if ('value' in c.url) {
    try {
      host = ` ${new URL(c.url.value).host}`;
    } catch {
      host = '';
    }
  }
  return `${c.type}${host} (${where})`;
}

function receiversOf(
  profile: string,
  tier: string | undefined,
  list: NotificationConfig[] | undefined,
): Receiver[] {
  const at = tier === undefined ? `profiles.${profile}` : `profiles.${profile}.tiers.${tier}`;
  return (list ?? []).map((config, i) => ({
    key: `${profile}/${tier ?? ''}/${i}/${fingerprint(config)}`,
    config,
    label: labelOf(config, `${at}.notifications[${i}]`),
  }));
}

/**
 * The receivers of a `kind` run of `profile` (and `tier`, for backup and forget): the
 * profile's, then the tier's, those whose `for:` has the kind.
 */
export function runReceivers(
  config: Config,
  kind: HookedRunKind,
  profile: string,
  tier?: string,
): Receiver[] {
  const p = config.profiles[profile];
  if (!p) return [];
  const t = tier === undefined ? undefined : p.tiers[tier];
  return [
    ...receiversOf(profile, undefined, p.notifications),
    ...(t ? receiversOf(profile, tier, t.notifications) : []),
  ].filter((r) => r.config.for.includes(kind));
}

/** Every receiver of the configuration, by key (queued notifications of any profile are sent by any run). */
export function allReceivers(config: Config): Map<string, Receiver> {
  const out = new Map<string, Receiver>();
  for (const [name, p] of Object.entries(config.profiles)) {
    for (const r of receiversOf(name, undefined, p.notifications)) out.set(r.key, r);
    for (const [tier, t] of Object.entries(p.tiers)) {
      for (const r of receiversOf(name, tier, t.notifications)) out.set(r.key, r);
    }
  }
  return out;
}
