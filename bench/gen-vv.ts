/**
 * Generates a realistic `restic backup --json -vv` stream of restic 0.14 (the shapes of
 * test/fixtures/restic/0.14.0/backup-success.jsonl and of a captured 2,000-file run): an
 * incremental backup of a home-directory tree where most files are unchanged, a `status` line
 * every 20th line (restic prints up to 60 a second; a large incremental backup prints far more
 * items than that), the 0.14 `scan_finished` tagged `status` after the first 1%, directories as
 * `verbose_status` with metadata sizes, and one `summary` last. Deterministic: the same line count
 * gives the same bytes. Files go to bench/out/ (gitignored) and are reused.
 *
 * Run alone: npx tsx bench/gen-vv.ts [--lines 1000000]
 */
import { closeSync, existsSync, mkdirSync, openSync, renameSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { argNumber, OUT_DIR } from './lib.js';

/** A tiny deterministic PRNG (mulberry32). */
function makeRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const EXT = ['txt', 'jpg', 'pdf', 'dat', 'go', 'ts', 'json', 'tar.gz', 'png', 'md'];

/** Path of the generated `-vv` stream with exactly `lines` lines; generated when missing. */
export function ensureVerboseStream(lines: number): { path: string; bytes: number } {
  const path = join(OUT_DIR, `restic-0.14-vv-${lines}.jsonl`);
  if (existsSync(path)) return { path, bytes: statSync(path).size };
  mkdirSync(OUT_DIR, { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w');
  const rnd = makeRandom(lines);
  let buf = '';
  let written = 0;
  const emit = (line: string): void => {
    buf += `${line}\n`;
    written++;
    if (buf.length > 4 * 1024 * 1024) {
      writeSync(fd, buf);
      buf = '';
    }
  };

  const body = lines - 3; // first status, scan_finished, summary
  const totalFiles = Math.round(body * 0.9);
  const totalBytes = totalFiles * 131_072;
  let filesDone = 0;
  let bytesDone = 0;
  let seconds = 0;
  const counts = { fNew: 0, fChanged: 0, fUnmod: 0, dNew: 0, dChanged: 0, dUnmod: 0, dataAdded: 0 };
  let dirIndex = 0;
  let inDir = 0;
  let dirPath = '/srv/nfs/home/user000/projects/proj-00/src';
  const current: string[] = [];

  emit(`{"message_type":"status","percent_done":0,"total_files":1,"total_bytes":${4096}}`);
  for (let i = 0; i < body; i++) {
    if (i === Math.floor(body / 100)) {
      emit(
        `{"message_type":"status","action":"scan_finished","item":"","duration":${(12 + rnd() * 5).toFixed(9)},"data_size":${totalBytes},"data_size_in_repo":0,"metadata_size":0,"metadata_size_in_repo":0,"total_files":${totalFiles}}`,
      );
    }
    if (i % 20 === 19) {
      seconds = Math.floor(i / 2000);
      const pct = Math.min(1, bytesDone / totalBytes);
      const left = pct > 0 ? Math.round((seconds / pct) * (1 - pct)) : 0;
      emit(
        `{"message_type":"status","seconds_elapsed":${seconds},"seconds_remaining":${left},"percent_done":${pct},"total_files":${totalFiles},"files_done":${filesDone},"total_bytes":${totalBytes},"bytes_done":${bytesDone},"current_files":${JSON.stringify(current)}}`,
      );
      continue;
    }
    if (inDir >= 40 + (dirIndex % 25)) {
      // close the directory: a tree entry
      const r = rnd();
      const action = r < 0.85 ? 'unchanged' : r < 0.95 ? 'modified' : 'new';
      if (action === 'unchanged') counts.dUnmod++;
      else if (action === 'modified') counts.dChanged++;
      else counts.dNew++;
      const meta = 300 + Math.floor(rnd() * 4000);
      emit(
        `{"message_type":"verbose_status","action":"${action}","item":"${dirPath}/","duration":${action === 'unchanged' ? 0 : (rnd() * 0.01).toFixed(9)},"data_size":0,"data_size_in_repo":0,"metadata_size":${meta},"metadata_size_in_repo":${action === 'unchanged' ? 0 : Math.floor(meta * 0.6)},"total_files":0}`,
      );
      dirIndex++;
      inDir = 0;
      const u = dirIndex % 200;
      dirPath = `/srv/nfs/home/user${String(u).padStart(3, '0')}/projects/proj-${String(dirIndex % 37).padStart(2, '0')}/${dirIndex % 3 === 0 ? 'src' : dirIndex % 3 === 1 ? 'assets/images' : 'docs'}/d${dirIndex}`;
      continue;
    }
    inDir++;
    const r = rnd();
    const action = r < 0.9 ? 'unchanged' : r < 0.97 ? 'new' : 'modified';
    const item = `${dirPath}/file-${String(i).padStart(7, '0')}.${EXT[i % EXT.length]}`;
    const size = Math.floor(rnd() * 262_144);
    filesDone++;
    bytesDone += 131_072;
    if (current.length === 2) current.shift();
    current.push(item);
    if (action === 'unchanged') {
      counts.fUnmod++;
      emit(
        `{"message_type":"verbose_status","action":"unchanged","item":"${item}","duration":0,"data_size":0,"data_size_in_repo":0,"metadata_size":0,"metadata_size_in_repo":0,"total_files":0}`,
      );
    } else {
      if (action === 'new') counts.fNew++;
      else counts.fChanged++;
      const inRepo = Math.floor(size * 0.98) + 83;
      counts.dataAdded += inRepo;
      emit(
        `{"message_type":"verbose_status","action":"${action}","item":"${item}","duration":${(rnd() * 0.05).toFixed(9)},"data_size":${size},"data_size_in_repo":${inRepo},"metadata_size":0,"metadata_size_in_repo":0,"total_files":0}`,
      );
    }
  }
  emit(
    `{"message_type":"summary","files_new":${counts.fNew},"files_changed":${counts.fChanged},"files_unmodified":${counts.fUnmod},"dirs_new":${counts.dNew},"dirs_changed":${counts.dChanged},"dirs_unmodified":${counts.dUnmod},"data_blobs":${counts.fNew + counts.fChanged},"tree_blobs":${counts.dNew + counts.dChanged + 1},"data_added":${counts.dataAdded},"total_files_processed":${filesDone},"total_bytes_processed":${bytesDone},"total_duration":${seconds + 1.5},"snapshot_id":"5c1e2b9a"}`,
  );
  writeSync(fd, buf);
  closeSync(fd);
  if (written !== lines) throw new Error(`generator wrote ${written} lines, wanted ${lines}`);
  renameSync(tmp, path);
  return { path, bytes: statSync(path).size };
}

if (process.argv[1]?.endsWith('gen-vv.ts')) {
  const lines = argNumber('lines', 1_000_000);
  const { path, bytes } = ensureVerboseStream(lines);
  console.log(`${path}: ${lines} lines, ${(bytes / 1e6).toFixed(1)} MB`);
}
