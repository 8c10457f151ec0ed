/**
 * `/api/history`'s reading of the run history at a bounded cost: the history is
 * parsed once per version of the file (its device, inode, size and modification
 * time), however many requests ask, and concurrent requests share one parse. What
 * is kept is the slim per-run view, not the records with their summaries, and the
 * answer of each recent query, so a burst of equal requests costs one selection
 * and one serialization.
 */
import { stat } from 'node:fs/promises';
import { historyPath, readHistory } from '../state/history.js';
import { type HistoryQuery, type HistoryRunView, historyRunView, selectRuns, sortRuns } from './api.js';

/** How many distinct queries' answers are kept per version of the history. */
const MAX_CACHED_ANSWERS = 64;

/** The history as `/api/history` serves it. */
export interface HistorySnapshot {
  /** Every run, oldest first (see {@link sortRuns}). */
  runs: readonly HistoryRunView[];
  /** Problems met while reading (torn lines). */
  warnings: readonly string[];
}

/** A cached reader of one state directory's history. */
export interface HistoryCache {
  /** The history as it is now: from the cache when the file has not changed. */
  read(): Promise<HistorySnapshot>;
  /** The `/api/history` JSON body (with its line end) of a query, from the cache when the file has not changed. */
  answer(query: HistoryQuery): Promise<string>;
}

/** Options of {@link createHistoryCache}. */
export interface HistoryCacheOptions {
  /** Reads the whole history. @default readHistory */
  read?: typeof readHistory;
}

/** Creates the cached history reader of a state directory. */
export function createHistoryCache(stateDir: string, opts: HistoryCacheOptions = {}): HistoryCache {
  const file = historyPath(stateDir);
  const readAll = opts.read ?? readHistory;
  let cached: { stamp: string; value: Promise<HistorySnapshot>; answers: Map<string, string> } | undefined;

  async function stampOf(): Promise<string> {
    try {
      const s = await stat(file, { bigint: true });
      return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}`;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
      throw err;
    }
  }

  async function load(): Promise<HistorySnapshot> {
    const read = await readAll(stateDir);
    return { runs: sortRuns(read.records.map(historyRunView)), warnings: read.warnings };
  }

  // Requests that arrive together share one stat of the file.
  let stamping: Promise<string> | undefined;
  function sharedStamp(): Promise<string> {
    stamping ??= stampOf().finally(() => {
      stamping = undefined;
    });
    return stamping;
  }

  async function current() {
    const stamp = await sharedStamp();
    if (cached?.stamp !== stamp) {
      const entry = { stamp, value: load(), answers: new Map<string, string>() };
      cached = entry;
      // A failed read is not kept: the next request tries again.
      entry.value.catch(() => {
        if (cached === entry) cached = undefined;
      });
    }
    return cached;
  }

  return {
    async read() {
      return (await current()).value;
    },
    async answer(query) {
      const entry = await current();
      const snapshot = await entry.value;
      const key = JSON.stringify([query.kind, query.profile, query.tier, query.limit]);
      let body = entry.answers.get(key);
      if (body === undefined) {
        body = `${JSON.stringify({ runs: selectRuns(snapshot.runs, query), warnings: snapshot.warnings })}\n`;
        if (entry.answers.size >= MAX_CACHED_ANSWERS) entry.answers.clear();
        entry.answers.set(key, body);
      }
      return body;
    },
  };
}
