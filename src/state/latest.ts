/**
 * The latest metrics of every run, kept in the state directory so that
 * `resticprom daemon` can serve them on `/metrics` the way a Pushgateway would:
 * one file per kind/profile/tier, `<stateDir>/latest/<kind>--<profile>--<tier>.json`
 * (mode 0600, written atomically and fsynced).
 *
 * Each file also says which run its metrics are of (`runId`) and keeps the group's state
 * before that run (`before`), so the state as of the last run the history records is at hand
 * even when the newest save is of a run that was never recorded (killed before its history
 * append). The outbox re-queues a recorded run whose metrics were not confirmed delivered
 * from it (`outbox/requeue.ts`): that is why these files are durable again.
 *
 * Saving follows the gateway's POST ("push add"): the families of the new run
 * replace the same-named families of the group, other families stay. So a failed
 * backup, which pushes no `..._last_success_timestamp_seconds`, keeps the last
 * success's value, exactly as on a gateway.
 */

import { join } from 'node:path';
import { errorText, StateError } from '../errors.js';
import { formatExposition, type ParsedFamily, parseExposition } from '../metrics/exposition.js';
import { readStateFile, writeFileAtomic } from './dir.js';
import { recordedRuns } from './history.js';
import { mkdir, readdir } from './io.js';

/** The metrics of one run, as handed to the sinks. */
export interface LatestMetricsInput {
  /** What ran: `backup`, `forget`, `check`, `stats` or `run`. */
  kind: string;
  /** Config profile; absent for `resticprom run`. */
  profile?: string;
  /** Tier; absent for runs without one. */
  tier?: string;
  /** The push's job. */
  job: string;
  /** The push's grouping labels beyond `job`. */
  grouping: Record<string, string>;
  /** Text exposition format 0.0.4 of the run. */
  text: string;
  /** The families of `text` when already parsed (then it is not parsed again). */
  families?: ParsedFamily[];
  /** The run (history record id) these metrics are of. */
  runId?: string;
}

/** The group's state as of one run: the merged metrics after that run's save. */
export interface LatestState {
  /** The run (history record id) the state is of. */
  runId: string;
  /** Text exposition format 0.0.4, merged as a Pushgateway POST merges. */
  text: string;
  /** When it was saved, Unix ms. */
  savedAt: number;
}

/** Options of {@link saveLatestMetrics}. */
export interface SaveLatestOptions {
  /** Clock, Unix ms (tests). @default Date.now */
  now?: () => number;
}

/** One saved file of `<stateDir>/latest/`. */
export interface LatestMetricsEntry extends LatestMetricsInput {
  /** Format version. */
  v: 1;
  /** When the group was last saved, Unix ms (served as `push_time_seconds`). */
  savedAt: number;
  /**
   * The state `text` was merged onto, when it is of a known run: the state as of the last
   * recorded run when the run of `text` was not recorded (yet, or ever).
   */
  before?: LatestState;
}

/**
 * The group's metrics as of run `runId`: the saved text when it is of that run, else the state
 * before it when that is; undefined when the file holds neither.
 */
export function latestStateOf(entry: LatestMetricsEntry, runId: string): LatestState | undefined {
  if (entry.runId === runId) return { runId, text: entry.text, savedAt: entry.savedAt };
  return entry.before?.runId === runId ? entry.before : undefined;
}

/** Returns the folder of the latest metrics: `<stateDir>/latest`. */
export function latestDir(stateDir: string): string {
  return join(stateDir, 'latest');
}

/**
 * Returns the file of one kind/profile/tier: `<stateDir>/latest/<kind>--<profile>--<tier>.json`.
 * Each part is percent-encoded (so `/` and `--` cannot clash); an absent profile
 * is replaced by the job (so two `resticprom run` jobs keep separate files), an
 * absent tier by `_`.
 */
export function latestPath(
  stateDir: string,
  entry: Pick<LatestMetricsInput, 'kind' | 'profile' | 'tier' | 'job'>,
): string {
  const part = (s: string) => encodeURIComponent(s).replace(/-/g, '%2D');
  const profile = entry.profile ?? `job=${entry.job}`;
  const tier = entry.tier ?? '_';
  return join(latestDir(stateDir), `${part(entry.kind)}--${part(profile)}--${part(tier)}.json`);
}

/**
 * Saves a run's metrics as the latest of its kind/profile/tier, merged into what
 * was saved before for the same group the way a Pushgateway POST merges: families
 * in `text` replace same-named ones, others are kept. A different job or grouping
 * than before replaces the file. Returns the file written.
 * @throws StateError when the file cannot be written.
 * @throws InvalidMetricsError when `text` is not valid exposition text.
 */
export async function saveLatestMetrics(
  stateDir: string,
  input: LatestMetricsInput,
  options: SaveLatestOptions = {},
): Promise<string> {
  const file = latestPath(stateDir, input);
  const fresh = input.families ?? parseExposition(input.text);
  const before = await readEntry(file);
  let families = fresh;
  let base: LatestState | undefined;
  if (before && before.job === input.job && sameGrouping(before.grouping, input.grouping)) {
    base = await recordedBase(stateDir, before, input.runId);
    const baseText = base?.text ?? before.text;
    const replaced = new Set(fresh.map((f) => f.name));
    let kept: ParsedFamily[] = [];
    try {
      kept = parseExposition(baseText).filter((f) => !replaced.has(f.name));
    } catch {
      // An unreadable earlier file is replaced by the new run alone.
    }
    families = [...kept, ...fresh];
  }
  const entry: LatestMetricsEntry = {
    v: 1,
    kind: input.kind,
    ...(input.profile !== undefined ? { profile: input.profile } : {}),
    ...(input.tier !== undefined ? { tier: input.tier } : {}),
    job: input.job,
    grouping: { ...input.grouping },
    text: formatExposition(families),
    savedAt: (options.now ?? Date.now)(),
    ...(input.runId !== undefined ? { runId: input.runId } : {}),
    ...(input.runId !== undefined && base ? { before: base } : {}),
  };
  try {
    await mkdir(latestDir(stateDir), { recursive: true, mode: 0o700 });
    // Durable: a recorded run whose outbox entry is lost is re-queued from this file, so after
    // a power loss it must not hold an older state than the history's last record.
    await writeFileAtomic(file, `${JSON.stringify(entry)}\n`, { mode: 0o600 });
  } catch (err) {
    throw new StateError(`cannot save the latest metrics to ${file}: ${errorText(err)}`, file, {
      cause: err,
    });
  }
  return file;
}

/**
 * The state a new save of run `runId` merges onto: the saved one, unless its run was never
 * recorded (killed before its history append; the gateway never got it), then the state before it.
 */
async function recordedBase(
  stateDir: string,
  saved: LatestMetricsEntry,
  runId: string | undefined,
): Promise<LatestState | undefined> {
  const own = saved.runId === undefined ? undefined : latestStateOf(saved, saved.runId);
  if (!own || saved.runId === runId) return saved.before;
  const recorded = await recordedRuns(stateDir, [own.runId]);
  // A rotation may have folded the record into counts: a state older than it counts as recorded.
  const isRotatedAway = recorded.rotatedAt !== undefined && own.savedAt <= recorded.rotatedAt;
  return recorded.ids.has(own.runId) || isRotatedAway ? own : (saved.before ?? own);
}

/** What {@link readLatestEntries} found. */
export interface LatestEntriesRead {
  /** Entries in file-name order. */
  entries: LatestMetricsEntry[];
  /** One sentence per file that could not be read or parsed (skipped). */
  warnings: string[];
}

/** Reads every saved entry of `<stateDir>/latest/`; a missing folder is no entry. */
export async function readLatestEntries(stateDir: string): Promise<LatestEntriesRead> {
  const dir = latestDir(stateDir);
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort();
  } catch (err) {
    if (isCode(err, 'ENOENT')) return { entries: [], warnings: [] };
    throw new StateError(`cannot read ${dir}: ${errorText(err)}`, dir, { cause: err });
  }
  const entries: LatestMetricsEntry[] = [];
  const warnings: string[] = [];
  for (const name of names) {
    const file = join(dir, name);
    try {
      const e = await readEntry(file);
      if (e) entries.push(e);
    } catch (err) {
      warnings.push(`${file}: ${errorText(err)}; skipped`);
    }
  }
  return { entries, warnings };
}

/** What {@link mergeLatestMetrics} and {@link readLatestMetrics} return. */
export interface MergedLatestMetrics {
  /** Text exposition format 0.0.4, each family once and contiguous, each series once. */
  text: string;
  /** Families or series left out because they clash with another group's, and unreadable files. */
  warnings: string[];
}

/**
 * Merges saved entries into one exposition text, as a Pushgateway exposes its
 * groups: every series gets `job` and the grouping labels (which override
 * same-named labels of the body), `instance=""` when it has none, and each group
 * gets `push_time_seconds` (its save time) and `push_failure_time_seconds` (0),
 * so dashboards and rules written against a gateway work unchanged when
 * Prometheus scrapes the daemon. Each family is written once with one HELP/TYPE;
 * a family whose type differs from the first entry's is left out for that entry;
 * a series seen twice keeps the most recently saved value.
 */
export function mergeLatestMetrics(entries: readonly LatestMetricsEntry[]): MergedLatestMetrics {
  const warnings: string[] = [];
  const families = new Map<string, ParsedFamily>();
  const seriesAt = new Map<string, { index: number; savedAt: number; family: ParsedFamily }>();
  const push = (
    fam: Omit<ParsedFamily, 'samples'>,
    sample: ParsedFamily['samples'][number],
    savedAt: number,
    where: string,
  ) => {
    let target = families.get(fam.name);
    if (!target) {
      target = {
        name: fam.name,
        type: fam.type,
        ...(fam.help !== undefined ? { help: fam.help } : {}),
        samples: [],
      };
      families.set(fam.name, target);
    } else if (target.type !== fam.type) {
      warnings.push(`${where}: ${fam.name} is a ${fam.type} here but a ${target.type} elsewhere; left out`);
      return false;
    }
    const key = seriesKey(sample.name, sample.labels);
    const seen = seriesAt.get(key);
    if (seen) {
      if (savedAt >= seen.savedAt) {
        seen.family.samples[seen.index] = sample;
        seen.savedAt = savedAt;
      }
      return true;
    }
    seriesAt.set(key, { index: target.samples.length, savedAt, family: target });
    target.samples.push(sample);
    return true;
  };

  const ordered = [...entries];
  for (const e of ordered) {
    const where = `latest ${e.kind}/${e.profile ?? e.job}/${e.tier ?? '-'}`;
    let parsed: ParsedFamily[];
    try {
      parsed = parseExposition(e.text);
    } catch (err) {
      warnings.push(`${where}: ${errorText(err)}; skipped`);
      continue;
    }
    const groupLabels: Record<string, string> = { job: e.job, ...e.grouping };
    const decorate = (labels: Record<string, string>): Record<string, string> => {
      const out: Record<string, string> = { ...labels, ...groupLabels };
      if (!('instance' in out)) out.instance = '';
      return out;
    };
    for (const fam of parsed) {
      for (const s of fam.samples) {
        const sample = { name: s.name, labels: decorate(s.labels), value: s.value, line: 0 };
        if (!push(fam, sample, e.savedAt, where)) break;
      }
    }
    const pushLabels = decorate({});
    push(
      {
        name: 'push_time_seconds',
        type: 'gauge',
        help: 'Last Unix time when changing this group in the Pushgateway succeeded.',
      },
      { name: 'push_time_seconds', labels: pushLabels, value: e.savedAt / 1000, line: 0 },
      e.savedAt,
      where,
    );
    push(
      {
        name: 'push_failure_time_seconds',
        type: 'gauge',
        help: 'Last Unix time when changing this group in the Pushgateway failed.',
      },
      { name: 'push_failure_time_seconds', labels: pushLabels, value: 0, line: 0 },
      e.savedAt,
      where,
    );
  }
  return { text: formatExposition([...families.values()]), warnings };
}

/**
 * Reads every saved run's latest metrics and merges them into one exposition
 * text (see {@link mergeLatestMetrics}); unreadable files are skipped with a warning.
 * @throws StateError when the folder exists but cannot be read.
 */
export async function readLatestMetrics(stateDir: string): Promise<MergedLatestMetrics> {
  const read = await readLatestEntries(stateDir);
  const merged = mergeLatestMetrics(read.entries);
  return { text: merged.text, warnings: [...read.warnings, ...merged.warnings] };
}

async function readEntry(file: string): Promise<LatestMetricsEntry | undefined> {
  const bytes = await readStateFile(file);
  if (bytes === undefined) return undefined;
  if (!Buffer.isBuffer(bytes)) throw new Error(`not used: ${bytes.refused}`);
  const raw = bytes.toString('utf8');
  let v: Partial<LatestMetricsEntry>;
  try {
    v = JSON.parse(raw) as Partial<LatestMetricsEntry>;
  } catch {
    throw new Error('not valid JSON');
  }
  if (
    v.v !== 1 ||
    typeof v.kind !== 'string' ||
    typeof v.job !== 'string' ||
    typeof v.text !== 'string' ||
    typeof v.savedAt !== 'number' ||
    typeof v.grouping !== 'object' ||
    v.grouping === null
  ) {
    throw new Error('not a latest-metrics file');
  }
  return v as LatestMetricsEntry;
}

function sameGrouping(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

function seriesKey(name: string, labels: Record<string, string>): string {
  const keys = Object.keys(labels).sort();
  return `${name}{${keys.map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;
}

function isCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
