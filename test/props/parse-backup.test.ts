/**
 * Property: the streaming `restic backup --json` parser on mutated real outputs of every
 * restic version with fixtures. Lines are dropped, duplicated, byte-flipped, cut short, and
 * garbage (text, broken JSON, invalid UTF-8, huge lines) is inserted; the bytes go through the
 * same LineSplitter restic's output goes through, in random chunks. The parser never throws;
 * when the summary line is still there intact (and no damaged copy of it), the summary equals
 * the fixture's; every non-JSON stdout line is counted.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createBackupParser } from '../../src/restic/parse-backup.js';
import { LineSplitter, type ResticStream } from '../../src/restic/spawn.js';
import { FIXTURE_VERSIONS, RESTIC_FIXTURES } from '../helpers/restic.js';
import { runs, SEED } from './settings.js';

const MAX_LINE = 65_536;

interface Fixture {
  id: string;
  stdout: Buffer[];
  stderr: Buffer[];
}

function splitLines(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (;;) {
    const nl = buf.indexOf(10, start);
    if (nl === -1) break;
    out.push(buf.subarray(start, nl));
    start = nl + 1;
  }
  if (start < buf.length) out.push(buf.subarray(start));
  return out;
}

const fixtures: Fixture[] = FIXTURE_VERSIONS.flatMap((version) =>
  readdirSync(join(RESTIC_FIXTURES, version))
    .filter((f) => f.startsWith('backup-') && f.endsWith('.jsonl'))
    .map((f) => {
      const base = join(RESTIC_FIXTURES, version, f.slice(0, -'.jsonl'.length));
      return {
        id: `${version}/${f}`,
        stdout: splitLines(readFileSync(`${base}.jsonl`)),
        stderr: splitLines(readFileSync(`${base}.stderr`)),
      };
    }),
);

const GARBAGE: Buffer[] = [
  Buffer.from('Warning: at least one source file could not be read'),
  Buffer.from('{"message_type":"summary","files_new":'),
  Buffer.from('{"message_type":"status","percent_done":0.5'),
  Buffer.from('{"message_type":"status",}'),
  Buffer.from('{"message_type":"verbose_status",'),
  Buffer.from('{"message_type":"nope"}'),
  Buffer.from('{"message_type":"error"}'),
  Buffer.from('{"message_type":"exit_error","code":"x"}'),
  Buffer.from('{}'),
  Buffer.from('[1,2]'),
  Buffer.from('null'),
  Buffer.from('{'),
  Buffer.from('}'),
  Buffer.from('\x1b[2Ksignal interrupt received, cleaning up'),
  Buffer.from('Fatal: unable to open repository'),
  Buffer.from([0xff, 0xfe, 0x7b, 0x22, 0xc3, 0x28]),
  Buffer.from([0x7b, 0xed, 0xa0, 0x80, 0x7d]),
  Buffer.from('{"message_type":"summary","__proto__":{"x":1}}'),
  Buffer.from('\r'),
  Buffer.alloc(0),
];

type Op =
  | { kind: 'drop' | 'dup' | 'toStderr'; at: number }
  | { kind: 'flip'; at: number; pos: number; byte: number }
  | { kind: 'cut'; at: number; pos: number }
  | { kind: 'garbage'; at: number; which: number }
  | { kind: 'huge'; at: number; size: number; json: boolean }
  | { kind: 'truncateStream'; pos: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constantFrom('drop', 'dup', 'toStderr') as fc.Arbitrary<'drop' | 'dup' | 'toStderr'>,
    at: fc.nat(),
  }),
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.nat(),
    pos: fc.nat(),
    byte: fc.integer({ min: 0, max: 255 }),
  }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat(), pos: fc.nat() }),
  fc.record({
    kind: fc.constant('garbage' as const),
    at: fc.nat(),
    which: fc.nat({ max: GARBAGE.length - 1 }),
  }),
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('huge' as const),
      at: fc.nat(),
      size: fc.constantFrom(1000, MAX_LINE - 1, MAX_LINE + 10, 300_000),
      json: fc.boolean(),
    }),
  },
  fc.record({ kind: fc.constant('truncateStream' as const), pos: fc.nat() }),
);

interface Line {
  bytes: Buffer;
  stream: ResticStream;
}

function applyOps(fx: Fixture, ops: Op[]): { lines: Line[]; truncateAt: number | undefined } {
  const lines: Line[] = [
    ...fx.stdout.map((bytes) => ({ bytes, stream: 'stdout' as const })),
    ...fx.stderr.map((bytes) => ({ bytes, stream: 'stderr' as const })),
  ];
  let truncateAt: number | undefined;
  for (const op of ops) {
    if (op.kind === 'truncateStream') {
      truncateAt = op.pos;
      continue;
    }
    const i = lines.length === 0 ? 0 : op.at % lines.length;
    const line = lines[i];
    switch (op.kind) {
      case 'drop':
        lines.splice(i, 1);
        break;
      case 'dup':
        if (line) lines.splice(i, 0, { ...line });
        break;
      case 'toStderr':
        if (line) lines[i] = { bytes: line.bytes, stream: line.stream === 'stdout' ? 'stderr' : 'stdout' };
        break;
      case 'flip':
        if (line && line.bytes.length > 0) {
          const b = Buffer.from(line.bytes);
          b[op.pos % b.length] = op.byte;
          lines[i] = { bytes: b, stream: line.stream };
        }
        break;
      case 'cut':
        if (line)
          lines[i] = { bytes: line.bytes.subarray(0, op.pos % (line.bytes.length + 1)), stream: line.stream };
        break;
      case 'garbage':
        lines.splice(i, 0, { bytes: GARBAGE[op.which] as Buffer, stream: op.at % 2 ? 'stdout' : 'stderr' });
        break;
      case 'huge': {
        const fill = Buffer.alloc(op.size, 'a');
        if (op.json) fill.write('{"message_type":"status","x":"', 0);
        lines.splice(i, 0, { bytes: fill, stream: 'stdout' });
        break;
      }
    }
  }
  return { lines, truncateAt };
}

/** Feeds the lines through LineSplitters in random chunk sizes, as spawn does; returns what was emitted. */
function feed(
  lines: Line[],
  truncateAt: number | undefined,
  chunk: number,
  push: (l: string, s: ResticStream) => void,
) {
  const emitted: { line: string; stream: ResticStream }[] = [];
  const splitters = {
    stdout: new LineSplitter(MAX_LINE, (l) => {
      emitted.push({ line: l, stream: 'stdout' });
      push(l, 'stdout');
    }),
    stderr: new LineSplitter(MAX_LINE, (l) => {
      emitted.push({ line: l, stream: 'stderr' });
      push(l, 'stderr');
    }),
  };
  for (const stream of ['stdout', 'stderr'] as const) {
    let bytes = Buffer.concat(
      lines.filter((l) => l.stream === stream).flatMap((l) => [l.bytes, Buffer.from('\n')]),
    );
    if (truncateAt !== undefined && stream === 'stdout')
      bytes = bytes.subarray(0, truncateAt % (bytes.length + 1));
    for (let i = 0; i < bytes.length; i += chunk) splitters[stream].push(bytes.subarray(i, i + chunk));
    splitters[stream].end();
  }
  return emitted;
}

describe('restic backup parser on mutated real outputs (property)', () => {
  it(`never throws; keeps an intact summary; counts every bad line (${fixtures.length} fixtures)`, (t) => {
    assert.ok(fixtures.length >= FIXTURE_VERSIONS.length * 5, `fixtures found: ${fixtures.length}`);
    // What each fixture gives unmutated.
    const baseline = new Map(
      fixtures.map((fx) => {
        const p = createBackupParser();
        feed(applyOps(fx, []).lines, undefined, 1 << 20, (l, s) => p.push(l, s));
        return [fx.id, p.result()] as const;
      }),
    );
    const withSummary = fixtures.filter((fx) => baseline.get(fx.id)?.summary !== undefined);
    assert.ok(
      withSummary.length >= FIXTURE_VERSIONS.length * 3,
      `fixtures with a summary: ${withSummary.length}`,
    );

    const totals = { cases: 0, lines: 0, nonJson: 0, malformed: 0, summaryChecked: 0, summaryLost: 0 };
    fc.assert(
      fc.property(
        fc.constantFrom(...fixtures),
        fc.array(opArb, { maxLength: 8 }),
        fc.constantFrom(1, 7, 64, 4096, 1 << 20),
        (fx, ops, chunk) => {
          const { lines, truncateAt } = applyOps(fx, ops);
          const parser = createBackupParser({
            maxErrors: 3,
            ...(chunk === 7 ? { onProgress: () => {} } : {}),
          });
          const emitted = feed(lines, truncateAt, chunk, (l, s) => parser.push(l, s));
          const r = parser.result();
          totals.cases++;
          totals.lines += emitted.length;
          totals.nonJson += r.nonJsonLines;
          totals.malformed += r.malformedLines;

          // Every non-empty stdout line not starting with '{' is log text, counted.
          const textLines = emitted.filter(
            (e) => e.stream === 'stdout' && e.line !== '' && !e.line.startsWith('{'),
          );
          assert.equal(r.nonJsonLines, textLines.length);
          // A '{' line that is not JSON and not a progress line (checked by prefix only) is malformed.
          const broken = emitted.filter((e) => {
            if (!e.line.startsWith('{') || /^\{"message_type":"(verbose_)?status",/.test(e.line))
              return false;
            try {
              JSON.parse(e.line);
              return false;
            } catch {
              return true;
            }
          });
          assert.ok(r.malformedLines >= broken.length, `malformed ${r.malformedLines} < ${broken.length}`);
          assert.ok(r.malformedSamples.length <= 5);
          assert.ok(r.errors.length <= 3 && r.errors.length <= r.errorCount);
          assert.ok(r.stderrTail.split('\n').length <= 20);

          const base = baseline.get(fx.id);
          const summaryLine = fx.stdout
            .map((b) => b.toString('utf8'))
            .find((l) => l.includes('"message_type":"summary"'));
          if (base?.summary && summaryLine) {
            const hasIntact = emitted.some((e) => e.line === summaryLine);
            const hasOther = emitted.some((e) => e.line !== summaryLine && e.line.includes('summary'));
            if (hasIntact && !hasOther) {
              totals.summaryChecked++;
              assert.deepEqual(r.summary, base.summary);
            } else if (!hasIntact) totals.summaryLost++;
          }
        },
      ),
      { numRuns: runs(5000), seed: SEED },
    );
    t.diagnostic(`mutated outputs: ${JSON.stringify(totals)}`);
    assert.ok(totals.summaryChecked > 500, `summaries compared: ${totals.summaryChecked}`);
    assert.ok(totals.nonJson > 0 && totals.malformed > 0);
  });
});
