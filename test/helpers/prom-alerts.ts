/**
 * Reading alerts from a real Prometheus (`/api/v1/alerts`) in end-to-end tests.
 * API: https://prometheus.io/docs/prometheus/latest/querying/api/#alerts
 */

/** One active alert as Prometheus' HTTP API returns it. */
export interface PromAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
  /** The expression's value when the alert last evaluated, as Prometheus formats it (e.g. `1e+02`). */
  value: string;
  activeAt: string;
}

/** Every active (pending or firing) alert of the Prometheus at `promUrl`. */
export async function activeAlerts(promUrl: string): Promise<PromAlert[]> {
  const res = await fetch(`${promUrl}/api/v1/alerts`);
  if (!res.ok) throw new Error(`GET ${promUrl}/api/v1/alerts: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { data: { alerts: PromAlert[] } }).data.alerts;
}

/**
 * Polls the firing alerts every 250 ms until `accept` holds and returns them; throws
 * with the labels of what was firing when `timeoutMs` passes first.
 */
export async function waitForFiring(
  promUrl: string,
  accept: (firing: PromAlert[]) => boolean,
  timeoutMs = 30_000,
): Promise<PromAlert[]> {
  const deadline = Date.now() + timeoutMs;
  let firing: PromAlert[] = [];
  while (Date.now() < deadline) {
    firing = (await activeAlerts(promUrl)).filter((a) => a.state === 'firing');
    if (accept(firing)) return firing;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `alerts did not reach the expected state; firing: ${JSON.stringify(firing.map((a) => a.labels))}`,
  );
}

/** The firing alert named `alertname` whose labels include every one of `labels`, if any. */
export function findAlert(
  firing: PromAlert[],
  alertname: string,
  labels: Record<string, string> = {},
): PromAlert | undefined {
  return firing.find(
    (a) => a.labels.alertname === alertname && Object.entries(labels).every(([k, v]) => a.labels[k] === v),
  );
}

/** `alertname/profile` (or `alertname/instance` for series without a profile) of each firing alert, sorted and unique. */
export function firingNames(firing: PromAlert[]): string[] {
  return [
    ...new Set(firing.map((a) => `${a.labels.alertname}/${a.labels.profile ?? a.labels.instance ?? ''}`)),
  ].sort();
}
