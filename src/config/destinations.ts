/**
 * From configuration to what a run needs: the profile to use, and where its
 * metrics go with the templates expanded. Secrets stay references
 * (`SecretSource`); they are read only by the sink that sends them.
 */
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import type { RequeueSource } from '../sinks/outbox.js';
import type { Destination } from '../sinks/types.js';
import { suggest } from './suggest.js';
import type { Config, ProfileConfig } from './types.js';

/** What {@link profileDestinations} returns. */
export interface ProfileDestinations {
  /** Pushgateway job, expanded. */
  job: string;
  /** Grouping labels beyond `job`, expanded. */
  grouping: Record<string, string>;
  /** Extra series labels, expanded. */
  labels: Record<string, string>;
  /** Where to deliver; never empty. */
  destinations: Destination[];
  /**
   * True when the profile configures no destination: `destinations` holds the
   * fallback textfile `<stateDir>/metrics/<profile>-<tier>.prom`, and the caller
   * should also print the metrics so they are seen.
   */
  isFallback: boolean;
}

/** Expands `{tier}`, `{profile}` and `{hostname}` in a template. */
export function expandTemplate(
  template: string,
  vars: { tier: string; profile: string; hostname: string },
): string {
  return template.replace(
    /\{(tier|profile|hostname)\}/g,
    (_, name: 'tier' | 'profile' | 'hostname') => vars[name],
  );
}

/**
 * Returns the profile named `name`, or the only profile when `name` is omitted.
 * @throws UsageError when the name is unknown (with a "did you mean" hint) or omitted while several profiles exist.
 */
export function resolveProfile(config: Config, name?: string): [string, ProfileConfig] {
  const names = Object.keys(config.profiles);
  if (name === undefined) {
    const only = names[0];
    if (names.length === 1 && only !== undefined) return [only, config.profiles[only] as ProfileConfig];
    throw new UsageError(`several profiles are configured (${names.join(', ')}); name one with --profile`);
  }
  const profile = config.profiles[name];
  if (profile) return [name, profile];
  const hint = suggest(name, names);
  throw new UsageError(
    `unknown profile "${name}"${hint ? `; did you mean "${hint}"?` : ''} (configured: ${names.join(', ')})`,
  );
}

/**
 * Returns the job, grouping, series labels and destinations of a profile's tier,
 * templates expanded. With no destination configured, the destination is the
 * textfile `<stateDir>/metrics/<profile>-<tier>.prom` and `isFallback` is true.
 * With `isRepositoryLevel` (check, stats: runs about the whole repository) `tier` is
 * the command's name, which stands in for `{tier}` and need not be a configured tier.
 * @throws UsageError when the profile or the tier is not configured.
 */
export function profileDestinations(
  config: Config,
  profile: string,
  tier: string,
  opts: { isRepositoryLevel?: boolean } = {},
): ProfileDestinations {
  const [, p] = resolveProfile(config, profile);
  if (!opts.isRepositoryLevel && !(tier in p.tiers)) {
    const tiers = Object.keys(p.tiers);
    const hint = suggest(tier, tiers);
    throw new UsageError(
      `profile "${profile}" has no tier "${tier}"${hint ? `; did you mean "${hint}"?` : ''} (tiers: ${tiers.join(', ')})`,
    );
  }
  const vars = { tier, profile, hostname: config.hostname };
  const expand = (m: Record<string, string>) =>
    Object.fromEntries(Object.entries(m).map(([k, v]) => [k, expandTemplate(v, vars)]));
  const m = p.metrics;
  const destinations: Destination[] = [
    ...m.pushgateway.map((g): Destination => ({ kind: 'pushgateway', ...g, urls: [...g.urls] })),
    ...m.remoteWrite.map((r): Destination => ({ kind: 'remote-write', ...r })),
    ...m.otlp.map((o): Destination => ({ kind: 'otlp', ...o })),
  ];
  if (m.textfile) destinations.push({ kind: 'textfile', path: expandTemplate(m.textfile, vars) });
  const isFallback = destinations.length === 0;
  if (isFallback) {
    destinations.push({
      kind: 'textfile',
      path: join(config.stateDir, 'metrics', `${profile}-${tier}.prom`),
    });
  }
  return {
    job: expandTemplate(m.job, vars),
    grouping: expand(m.grouping),
    labels: expand(m.labels),
    destinations,
    isFallback,
  };
}

/**
 * Every destination the config names: each tier of each profile (templates expanded), and
 * `check`/`stats` runs, without the fallback textfiles. For a flush (whose settings win for
 * these targets) and for the secret variables no child may see.
 */
export function configuredDestinations(config: Config): Destination[] {
  const out: Destination[] = [];
  for (const [name, profile] of Object.entries(config.profiles)) {
    for (const tier of [...Object.keys(profile.tiers), 'check', 'stats']) {
      const isRepositoryLevel = !(tier in profile.tiers);
      const d = profileDestinations(config, name, tier, { isRepositoryLevel });
      if (!d.isFallback) out.push(...d.destinations);
    }
  }
  return out;
}

/**
 * Where the config sends each run scope now, for re-queuing runs whose metrics were lost
 * (`sinks/outbox/requeue.ts`): a backup or forget goes to its profile's tier, a check, stats
 * or verify run to its profile's repository-level group; a profile or tier the config no
 * longer has, and a `resticprom run` job, have none.
 */
export function requeueRoutes(config: Config): RequeueSource {
  return (scope) => {
    if (scope.profile === undefined || !(scope.profile in config.profiles)) return undefined;
    const isRepositoryLevel = scope.kind === 'check' || scope.kind === 'stats' || scope.kind === 'verify';
    const tier = isRepositoryLevel ? scope.kind : scope.tier;
    if (tier === undefined || (scope.kind !== 'backup' && scope.kind !== 'forget' && !isRepositoryLevel))
      return undefined;
    try {
      const d = profileDestinations(config, scope.profile, tier, { isRepositoryLevel });
      return { job: d.job, grouping: d.grouping, destinations: d.destinations };
    } catch (err) {
      if (err instanceof UsageError) return undefined;
      throw err;
    }
  };
}
