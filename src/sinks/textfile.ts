import { SinkError } from '../errors.js';
import { formatExposition, type ParsedFamily, parseExposition } from '../metrics/exposition.js';
import { writeFileAtomic } from '../state/dir.js';
import { readFile, unlink } from '../state/io.js';
import { toBatch } from './batch.js';
import { checkGroupingLabels, checkJob } from './grouping-key.js';
import type { MetricsBatch, MetricsPayload, SendOptions, TextfileDestination } from './types.js';

/** Mode of the written file: node_exporter, often another user, must read it. */
export const TEXTFILE_MODE = 0o644;

function sinkError(path: string, what: string, err: unknown): SinkError {
  const e = err as NodeJS.ErrnoException;
  const reason = e.code ? `${e.code}: ${e.message.replace(/^[A-Z]+: /, '')}` : String(e?.message ?? err);
  return new SinkError(
    `cannot ${what} textfile ${path}: ${reason}`,
    { url: path, isRetryable: true, kind: 'file' },
    { cause: err },
  );
}

/**
 * Builds the file content of a payload: every series gets `job` and the grouping
 * labels (first, grouping winning over a same-named sample label; empty values
 * left out, as Prometheus treats an empty label as absent).
 *
 * @throws InvalidMetricsError when the text, the job or a grouping label name is not valid
 */
export function textfileFamilies(payload: MetricsPayload | MetricsBatch): ParsedFamily[] {
  checkJob(payload.job);
  checkGroupingLabels(payload.grouping);
  const { families } = toBatch(payload, false);
  const added: Record<string, string> = { job: payload.job };
  for (const name of Object.keys(payload.grouping).sort()) added[name] = payload.grouping[name] as string;
  return families.map((fam) => ({
    ...fam,
    samples: fam.samples.map((s) => {
      const labels: Record<string, string> = {};
      for (const [k, v] of Object.entries(added)) if (v !== '') labels[k] = v;
      for (const [k, v] of Object.entries(s.labels)) if (!(k in added)) labels[k] = v;
      return { ...s, labels };
    }),
  }));
}

/** Writes `content` to `path` atomically with mode 0644 (node_exporter must read it). */
export async function writeTextfileAtomic(path: string, content: string): Promise<void> {
  try {
    await writeFileAtomic(path, content, { mode: TEXTFILE_MODE });
  } catch (err) {
    throw sinkError(path, 'write', err);
  }
}

/**
 * Writes a payload to a node_exporter textfile. `put` replaces the file; `post`
 * (the default) replaces only the families of the same names in it, keeping the
 * others (like a Pushgateway group); `delete` removes the file.
 *
 * @throws InvalidMetricsError for an invalid payload
 * @throws SinkError (isRetryable true) when the path does not end in `.prom` or
 *   the file cannot be written; (isRetryable false) when `post` finds an existing
 *   file that is not valid exposition text
 */
export async function writeTextfile(
  payload: MetricsPayload | MetricsBatch,
  target: TextfileDestination,
  opts: Pick<SendOptions, 'signal'> = {},
): Promise<void> {
  const path = target.path;
  if (!path.endsWith('.prom')) {
    throw new SinkError(`textfile path must end in .prom (node_exporter reads only *.prom): ${path}`, {
      url: path,
      isRetryable: true,
      kind: 'setup',
    });
  }
  if (opts.signal?.aborted) {
    throw new SinkError(
      `aborted while writing textfile ${path}`,
      { url: path, isRetryable: true, kind: 'aborted' },
      {
        cause: opts.signal.reason,
      },
    );
  }
  const method = payload.method ?? 'post';
  if (method === 'delete') {
    checkJob(payload.job);
    checkGroupingLabels(payload.grouping);
    try {
      await unlink(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw sinkError(path, 'delete', err);
    }
    return;
  }
  let families = textfileFamilies(payload);
  if (method === 'post') {
    let existing: string | undefined;
    try {
      existing = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw sinkError(path, 'read', err);
    }
    if (existing !== undefined) {
      let old: ParsedFamily[];
      try {
        old = parseExposition(existing);
      } catch (err) {
        throw new SinkError(
          `existing textfile ${path} is not valid exposition text (${(err as Error).message}); remove it or write with method put`,
          { url: path, isRetryable: false, kind: 'file' },
          { cause: err },
        );
      }
      const fresh = new Map(families.map((f) => [f.name, f]));
      const merged = old.map((f) => fresh.get(f.name) ?? f);
      for (const f of families) if (!old.some((o) => o.name === f.name)) merged.push(f);
      families = merged;
    }
  }
  await writeTextfileAtomic(path, formatExposition(families));
}
