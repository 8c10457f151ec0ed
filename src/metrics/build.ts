/**
 * Turns a list of samples described by the metric table (names.ts) into
 * exposition text, with prom-client's metric objects doing the formatting.
 */
import { formatExposition, type ParsedFamily } from './exposition.js';
import type { MetricDef } from './names.js';

/** One value to expose. */
export interface Sample {
  def: MetricDef;
  value: number;
  /** Labels beyond the common ones (must be among `def.labels`). */
  labels?: Record<string, string>;
}

/**
 * Renders samples as text exposition format 0.0.4, every series carrying `commonLabels`
 * after its own labels. Families appear in the order of their first sample; a family
 * with several samples (different label values) is written once.
 *
 * Written on our exposition formatter rather than prom-client's registry: a backup
 * run formats about twenty samples, and loading prom-client cost more than the rest
 * of the run's bookkeeping (see BENCHMARKS.md). Library users still bring their own
 * prom-client registries to the push client (`registryToText`).
 */
export function renderSamples(samples: Sample[], commonLabels: Record<string, string>): string {
  const families = new Map<string, ParsedFamily>();
  for (const s of samples) {
    let fam = families.get(s.def.name);
    if (!fam) {
      fam = { name: s.def.name, type: s.def.type, help: s.def.help, samples: [] };
      families.set(s.def.name, fam);
    }
    const labels = { ...(s.labels ?? {}) };
    for (const [k, v] of Object.entries(commonLabels)) if (!(k in labels)) labels[k] = v;
    const key = JSON.stringify(labels);
    const same = fam.samples.find((x) => JSON.stringify(x.labels) === key);
    // A counter given twice for one series adds up, a gauge keeps the last value.
    if (same) same.value = s.def.type === 'counter' ? same.value + s.value : s.value;
    else fam.samples.push({ name: s.def.name, labels, value: s.value, line: 0 });
  }
  return formatExposition([...families.values()]);
}

/**
 * The labels every series of a job carries: profile, tier, host and the config's
 * extra labels, minus any that are grouping labels of the push (the gateway
 * refuses a series that carries a grouping label itself).
 */
export function commonLabels(
  base: Record<string, string | undefined>,
  groupingLabels: Iterable<string>,
): Record<string, string> {
  const skip = new Set(groupingLabels);
  skip.add('job');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) {
    if (v !== undefined && v !== '' && !skip.has(k)) out[k] = v;
  }
  return out;
}
