/**
 * Turns a list of samples described by the metric table (names.ts) into
 * exposition text, with prom-client's metric objects doing the formatting.
 */
import type { MetricDef } from './names.js';

/** One value to expose. */
export interface Sample {
  def: MetricDef;
  value: number;
  /** Labels beyond the common ones (must be among `def.labels`). */
  labels?: Record<string, string>;
}

/**
 * Renders samples as text exposition format 0.0.4, every series carrying `commonLabels`.
 * Families appear in the order of their first sample; a family with several samples
 * (different label values) is written once.
 */
export async function renderSamples(
  samples: Sample[],
  commonLabels: Record<string, string>,
): Promise<string> {
  // prom-client is CommonJS: its exports are the module's default, in Node and in the bundle.
  const { Registry, Gauge, Counter } = (await import('prom-client')).default;
  const registry = new Registry();
  registry.setDefaultLabels(commonLabels);
  const made = new Map<string, { set: (labels: Record<string, string>, v: number) => void }>();
  for (const s of samples) {
    let metric = made.get(s.def.name);
    if (!metric) {
      const base = {
        name: s.def.name,
        help: s.def.help,
        labelNames: [...(s.def.labels ?? [])],
        registers: [registry],
      };
      if (s.def.type === 'counter') {
        const c = new Counter(base);
        metric = { set: (labels, v) => c.inc(labels, v) };
      } else {
        const g = new Gauge(base);
        metric = { set: (labels, v) => g.set(labels, v) };
      }
      made.set(s.def.name, metric);
    }
    metric.set(s.labels ?? {}, s.value);
  }
  // prom-client separates families with a blank line; the text format allows it, but
  // a compact body is what users see in the textfile and the outbox.
  return (await registry.metrics()).replace(/\n\n+/g, '\n');
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
