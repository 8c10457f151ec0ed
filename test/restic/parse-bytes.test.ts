import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { runBackup } from '../../src/restic/backup.js';
import { createBackupParser } from '../../src/restic/parse-backup.js';
import { LineSplitter } from '../../src/restic/spawn.js';
import { FAKE_RESTIC, FIXTURE_VERSIONS, fakeResticEnv, resticFixture } from '../helpers/restic.js';

/** Parses `bytes` split at `cuts`, with or without the byte path (LineSplitter's `take`). */
function parse(bytes: Buffer, cuts: number[], withBytes: boolean, max = 65_536) {
  const parser = createBackupParser({ onProgress: () => {} });
  const emitted: string[] = [];
  const s = new LineSplitter(
    max,
    (l) => {
      emitted.push(l);
      parser.push(l, 'stdout');
    },
    withBytes ? parser.pushBytes : undefined,
  );
  let at = 0;
  for (const c of [...cuts.filter((x) => x > 0 && x < bytes.length).sort((a, b) => a - b), bytes.length]) {
    s.push(bytes.subarray(at, c));
    at = c;
  }
  s.end();
  return { r: parser.result(), emitted, count: s.count, truncated: s.truncated };
}

const VERBOSE =
  '{"message_type":"verbose_status","action":"new","item":"/data/a.txt","duration":0.1,"data_size":13,"data_size_in_repo":95,"metadata_size":0,"metadata_size_in_repo":0,"total_files":0}';
const SCAN_NEW =
  '{"message_type":"verbose_status","action":"scan_finished","item":"","duration":0.2,"data_size":12061,"data_size_in_repo":0,"metadata_size":0,"metadata_size_in_repo":0,"total_files":3}';
const SCAN_OLD =
  '{"message_type":"status","action":"scan_finished","item":"","duration":0.2,"data_size":12061,"data_size_in_repo":0,"metadata_size":0,"metadata_size_in_repo":0,"total_files":3}';
const STATUS =
  '{"message_type":"status","seconds_elapsed":2,"percent_done":0.5,"total_files":3,"files_done":1,"total_bytes":100,"bytes_done":50,"current_files":["/data/é.txt"]}';
const SUMMARY =
  '{"message_type":"summary","files_new":3,"files_changed":0,"files_unmodified":0,"dirs_new":3,"dirs_changed":0,"dirs_unmodified":0,"data_blobs":3,"tree_blobs":4,"data_added":14168,"total_files_processed":3,"total_bytes_processed":12061,"total_duration":0.21,"snapshot_id":"fe7ef11e"}';

describe('parser.pushBytes: verbose lines counted without decoding', () => {
  it('takes a verbose_status item line and counts it; leaves every other line to push()', () => {
    const p = createBackupParser();
    const b = (s: string) => Buffer.from(`xx${s}yy`);
    const take = (s: string) => p.pushBytes(b(s), 2, 2 + Buffer.byteLength(s));
    assert.equal(take(VERBOSE), true);
    assert.equal(take(SCAN_NEW), false);
    assert.equal(take(SCAN_OLD), false);
    assert.equal(take(STATUS), false);
    assert.equal(take(SUMMARY), false);
    assert.equal(take(VERBOSE.slice(0, -1)), false, 'no closing brace: push() reports it malformed');
    assert.equal(take('{"message_type":"verbose_status",}'.slice(0, 33)), false);
    assert.equal(take('{"message_type":"verbose_status","action":"scan_finishe}'), true);
    assert.equal(take('plain text'), false);
    assert.equal(take(''), false);
    const r = p.result();
    assert.equal(r.verboseLines, 2);
    assert.equal(r.statusLines, 0);
    assert.equal(r.malformedLines, 0);
  });

  it('gives the same result as decoding every line, for every fixture version', () => {
    for (const v of FIXTURE_VERSIONS) {
      for (const name of ['backup-success', 'backup-changed', 'backup-unreadable']) {
        const bytes = readFileSync(resticFixture(v, name).stdoutFile);
        const a = parse(bytes, [], false);
        const b = parse(bytes, [], true);
        assert.deepEqual(b.r, a.r, `${v} ${name}`);
        assert.equal(b.count, a.count);
        assert.equal(
          b.emitted.length,
          a.emitted.length - a.r.verboseLines,
          `${v} ${name}: verbose lines not decoded`,
        );
      }
    }
  });

  it('same result as decoding for any mix of lines, CRLF, cuts and truncation (property)', () => {
    const line = fc.oneof(
      fc.constantFrom(
        VERBOSE,
        SCAN_NEW,
        SCAN_OLD,
        STATUS,
        SUMMARY,
        '',
        'Fatal: x',
        '{"message_type":"verbose_status"',
      ),
      fc.string({ maxLength: 40 }),
      fc.string({ maxLength: 20 }).map((s) => `{"message_type":"verbose_status",${s}}`),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(line, fc.boolean()), { maxLength: 30 }),
        fc.array(fc.nat({ max: 4000 }), { maxLength: 12 }),
        fc.constantFrom(64, 200, 65_536),
        (lines, cuts, max) => {
          const bytes = Buffer.from(lines.map(([l, crlf]) => `${l}${crlf ? '\r\n' : '\n'}`).join(''));
          const a = parse(bytes, cuts, false, max);
          const b = parse(bytes, cuts, true, max);
          assert.deepEqual(b.r, a.r);
          assert.equal(b.count, a.count);
          assert.equal(b.truncated, a.truncated);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('runBackup counts -vv items through the byte path: same summary and counts', async () => {
    const fx = resticFixture('0.14.0', 'backup-success');
    const r = await runBackup({
      resticBinary: FAKE_RESTIC,
      env: fakeResticEnv(fx),
      repository: '/srv/repo',
      paths: ['/data'],
    });
    assert.equal(r.outcome, 'success');
    assert.equal(r.summary?.snapshotId, 'fe7ef11e');
    assert.equal(r.summary?.filesNew, 3);
    assert.equal(r.malformedLines, undefined);
  });
});
