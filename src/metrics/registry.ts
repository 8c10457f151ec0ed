/**
 * prom-client input: turns a `Registry` into text exposition format 0.0.4.
 */
import type { Registry, RegistryContentType } from 'prom-client';
import { InvalidMetricsError } from '../errors.js';
import { formatExposition, formatValue, type ParsedFamily, type ParsedSample } from './exposition.js';

const TYPES: Record<string, ParsedFamily['type']> = {
  counter: 'counter',
  gauge: 'gauge',
  histogram: 'histogram',
  summary: 'summary',
  untyped: 'untyped',
};

/**
 * Collects a prom-client registry and returns its metrics as canonical text
 * exposition format 0.0.4 (always the Prometheus text format, also for a registry
 * set to OpenMetrics; default labels included; ends with `\n`). Empty families
 * (a labelled metric never set) are left out.
 *
 * @throws InvalidMetricsError when a metric has a type the text format cannot carry
 * @example
 * const registry = new Registry();
 * new Gauge({ name: 'backup_files', help: 'Files', registers: [registry] }).set(42);
 * await registryToText(registry); // '# HELP backup_files Files\n# TYPE backup_files gauge\nbackup_files 42\n'
 */
export async function registryToText(registry: Registry<RegistryContentType>): Promise<string> {
  const metrics = await registry.getMetricsAsJSON();
  const families: ParsedFamily[] = [];
  for (const m of metrics) {
    const type = TYPES[String(m.type)];
    if (!type) throw new InvalidMetricsError(`metric ${m.name} has unsupported type ${String(m.type)}`);
    const samples: ParsedSample[] = m.values.map((v) => {
      const labels: Record<string, string> = {};
      for (const [k, lv] of Object.entries(v.labels)) {
        if (lv === undefined) continue;
        labels[k] = typeof lv === 'number' ? formatValue(lv) : String(lv);
      }
      const name = (v as { metricName?: string }).metricName ?? m.name;
      return { name, labels, value: v.value, line: 0 };
    });
    if (samples.length === 0) continue;
    const fam: ParsedFamily = { name: m.name, type, samples };
    if (m.help) fam.help = m.help;
    families.push(fam);
  }
  return formatExposition(families);
}
