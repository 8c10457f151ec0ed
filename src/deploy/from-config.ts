/**
 * Rule generator options from a resticprom configuration: one entry per profile and
 * tier, with the tier's max age, the profile's job and its Pushgateway grouping.
 */

import { largestGapMs } from '../config/cadence.js';
import type { Config } from '../config/index.js';
import { expandTemplate, tierMaxAgeMs } from '../config/index.js';
import { escapeRegex, type GenerateRulesOptions, type RulesTier } from './rules.js';

/**
 * Builds {@link GenerateRulesOptions} from a loaded config: each profile's tiers with
 * their max age (`max-age`, or derived from the schedule), `metrics.job` and
 * `metrics.grouping` with `{profile}` and `{tier}` expanded. A grouping value with
 * `{hostname}` becomes a regex matching any host: the rules run on Prometheus, not on
 * the backup host. `extra` options (forDuration, checkMaxAgeSeconds, anomaly) pass through.
 */
export function rulesOptionsFromConfig(
  config: Config,
  extra: Omit<GenerateRulesOptions, 'tiers'> = {},
): GenerateRulesOptions {
  const tiers: RulesTier[] = [];
  for (const [profile, p] of Object.entries(config.profiles)) {
    for (const [tier, t] of Object.entries(p.tiers)) {
      const vars = { profile, tier, hostname: config.hostname };
      const grouping: Record<string, string | { regex: string }> = {};
      for (const [name, template] of Object.entries(p.metrics.grouping)) {
        grouping[name] = template.includes('{hostname}')
          ? {
              regex: template
                .split('{hostname}')
                .map((part) => escapeRegex(expandTemplate(part, vars)))
                .join('.+'),
            }
          : expandTemplate(template, vars);
      }
      tiers.push({
        profile,
        tier,
        maxAgeSeconds: Math.ceil(tierMaxAgeMs(t) / 1000),
        job: expandTemplate(p.metrics.job, vars),
        grouping,
      });
    }
  }
  // The longest window of the scheduled drills (each profile's verify.max-age, 8d by default).
  const drills = Object.values(config.profiles).flatMap((p) =>
    p.verify?.schedule ? [p.verify.maxAgeMs] : [],
  );
  const verifyMaxAge =
    drills.length > 0 ? { verifyMaxAgeSeconds: Math.ceil(Math.max(...drills) / 1000) } : {};
  // Twice the longest rotating check cycle: cycle x the largest gap of its schedule.
  const cycles = Object.values(config.profiles).flatMap((p) =>
    p.check?.readDataRotateCycle && p.check.schedule
      ? [2 * p.check.readDataRotateCycle * largestGapMs(p.check.schedule)]
      : [],
  );
  const cycleMaxAge =
    cycles.length > 0 ? { checkCycleMaxAgeSeconds: Math.ceil(Math.max(...cycles) / 1000) } : {};
  return { ...verifyMaxAge, ...cycleMaxAge, ...extra, tiers };
}
