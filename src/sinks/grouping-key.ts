/**
 * The Pushgateway's grouping key: `job` plus grouping labels, encoded in the URL path.
 *
 * Spec: https://github.com/prometheus/pushgateway#url (base64 encoding of path
 * components, as client_golang's `push` package does).
 */
import { InvalidMetricsError } from '../errors.js';

const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
// In a `u` regexp a surrogate pair is one code point, so this matches only a lone surrogate:
// it has no UTF-8 form (encodeURIComponent throws on it, Buffer turns it into U+FFFD).
const LONE_SURROGATE_RE = /\p{Cs}/u;

/**
 * Checks the grouping label names of a push: each matches `[a-zA-Z_][a-zA-Z0-9_]*`,
 * does not start with `__`, and is not `job` (the job is given on its own); each value is a
 * string of valid Unicode (no lone surrogate, which has no UTF-8 form), and `instance` is not
 * empty.
 *
 * @throws InvalidMetricsError naming the bad label
 */
export function checkGroupingLabels(grouping: Record<string, string>): void {
  for (const [name, value] of Object.entries(grouping)) {
    if (!LABEL_NAME_RE.test(name)) {
      throw new InvalidMetricsError(
        `invalid grouping label name ${JSON.stringify(name)} (must match [a-zA-Z_][a-zA-Z0-9_]*)`,
      );
    }
    if (name.startsWith('__'))
      throw new InvalidMetricsError(`grouping label name ${name} is reserved (starts with "__")`);
    if (name === 'job') {
      throw new InvalidMetricsError('grouping label "job" is not allowed; the job is given on its own');
    }
    if (typeof value !== 'string') {
      throw new InvalidMetricsError(`grouping label ${name} must have a string value`);
    }
    if (name === 'instance' && value === '') {
      // The gateway gives every series without `instance` the label instance="", so this group's
      // series equal those of the group without `instance`: the push is refused (400), and the
      // failed group left behind breaks the gateway's whole /metrics page (seen with 1.5.1).
      throw new InvalidMetricsError(
        'grouping label instance must not be empty (the Pushgateway takes instance="" as no instance); leave it out instead',
      );
    }
    if (LONE_SURROGATE_RE.test(value)) {
      throw new InvalidMetricsError(
        `grouping label ${name} has a value that is not valid Unicode (a lone surrogate)`,
      );
    }
  }
}

/**
 * Checks a job name: any non-empty string of valid Unicode.
 *
 * @throws InvalidMetricsError when it is empty or holds a lone surrogate
 */
export function checkJob(job: string): void {
  if (typeof job !== 'string' || job.length === 0) throw new InvalidMetricsError('job must not be empty');
  if (LONE_SURROGATE_RE.test(job))
    throw new InvalidMetricsError('job is not valid Unicode (a lone surrogate)');
}

/**
 * Encodes one label name/value pair as two path components. A value that is
 * empty, contains `/`, or is `.` or `..` (which URL parsers would resolve away)
 * is sent as base64url without padding, with `@base64` on the name (`=` for the
 * empty value); other values are percent-encoded (space is `%20`, never `+`).
 */
function encodePair(name: string, value: string): string {
  if (value === '') return `/${name}@base64/=`;
  if (value.includes('/') || value === '.' || value === '..') {
    return `/${name}@base64/${Buffer.from(value, 'utf8').toString('base64url')}`;
  }
  return `/${name}/${encodeURIComponent(value)}`;
}

/**
 * Builds the Pushgateway path of a group: `/metrics/job/<job>{/<label>/<value>}`,
 * labels sorted by name so the same group always has the same URL.
 *
 * @throws InvalidMetricsError for an empty job or a bad grouping label name
 *   (before any network call)
 * @example
 * encodeGroupingPath('nfs_backup', { instance: 'daily' }) // '/metrics/job/nfs_backup/instance/daily'
 * encodeGroupingPath('cleaner', { path: '/var/tmp' })     // '/metrics/job/cleaner/path@base64/L3Zhci90bXA'
 */
export function encodeGroupingPath(job: string, grouping: Record<string, string>): string {
  checkJob(job);
  checkGroupingLabels(grouping);
  let path = `/metrics${encodePair('job', job)}`;
  for (const name of Object.keys(grouping).sort()) path += encodePair(name, grouping[name] as string);
  return path;
}
