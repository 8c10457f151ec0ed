/**
 * The live progress line as a person sees it: a real `resticprom backup` in a tmux terminal
 * of 80 and 120 columns, with the fake restic sending restic's status lines slowly, the
 * screen read back while it runs and after. Without a terminal (a pipe, cron) or with -q
 * there is no live line at all.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import stringWidth from 'string-width';
import { CLI, ensureBuilt, runCli } from '../helpers/cli.js';
import { resticFixture, writeFakeResticConfig } from '../helpers/restic.js';
import { makeTempDir } from '../helpers/services.js';
import { startTmux, type TmuxTerminal, tmuxSkip } from '../helpers/tmux.js';

const GiB = 1024 ** 3;
const LONG_NAME = '/srv/nfs/home/アリス/写真/2026/夏休み/a-rather-long-directory-name/IMG_0001.jpg';
/** A row of the progress line: its percentage. */
const PROGRESS = /\d+\.\d%/;

/** restic 0.18's status lines for a 2 GiB backup in `steps` steps, then its summary. */
function statusLines(steps: number): string {
  const fx = resticFixture('0.18.0', 'backup-success');
  const summary = readFileSync(fx.stdoutFile, 'utf8').trim().split('\n').at(-1) as string;
  const lines: string[] = [];
  for (let i = 0; i < steps; i++) {
    const done = Math.round((i / steps) * 2 * GiB);
    lines.push(
      JSON.stringify({
        message_type: 'status',
        seconds_elapsed: Math.floor(i / 10),
        percent_done: i / steps,
        total_files: 4000,
        files_done: Math.round((i / steps) * 4000),
        total_bytes: 2 * GiB,
        bytes_done: done,
        current_files: [LONG_NAME],
      }),
    );
  }
  return `${[...lines, summary].join('\n')}\n`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls the screen until `pred` holds for it; fails with the last screen after `ms`. */
async function waitForScreen(
  term: TmuxTerminal,
  pred: (rows: string[]) => boolean,
  what: string,
  ms = 30_000,
): Promise<string[]> {
  const end = Date.now() + ms;
  let rows: string[] = [];
  while (Date.now() < end) {
    rows = term.capture({ isJoined: true });
    if (pred(rows)) return rows;
    await sleep(100);
  }
  assert.fail(`the screen never showed ${what}:\n${rows.join('\n')}`);
}

/** The one progress row on the screen (joined, so a line that wrapped shows whole). */
function progressRows(rows: string[]): string[] {
  return rows.filter((r) => PROGRESS.test(r));
}

describe('progress line in a real terminal (tmux)', { skip: tmuxSkip() }, () => {
  const tmp = makeTempDir();
  const terminals: TmuxTerminal[] = [];
  let config = '';
  let script = '';
  before(async () => {
    await ensureBuilt();
    writeFileSync(join(tmp.dir, 'status.jsonl'), statusLines(150));
    config = writeFakeResticConfig(tmp.dir, { metrics: `textfile: ${join(tmp.dir, 'backup.prom')}` });
    // What a person types, with the fake restic's settings; the exit code is printed after.
    script = join(tmp.dir, 'run.sh');
    writeFileSync(
      script,
      `#!/bin/sh
export FAKE_RESTIC_STDOUT=${join(tmp.dir, 'status.jsonl')} FAKE_RESTIC_DELAY_MS=60 FAKE_RESTIC_VERSION=0.18.0
unset NO_COLOR
${process.execPath} ${CLI} backup --tier daily --config ${config} "$@"
echo "exit code $?"
sleep 600
`,
      { mode: 0o755 },
    );
  });
  after(() => {
    for (const t of terminals) t.kill();
    tmp.cleanup();
  });

  it('at 80 columns: one line of at most 80 columns, never stacked copies, then the summary', async () => {
    const term = startTmux(tmp.dir, script, 80);
    terminals.push(term);
    // Once speed and ETA show, every screen has exactly one progress row, within 80 columns.
    const seen = new Set<string>();
    await waitForScreen(
      term,
      (rows) => {
        if (rows.some((r) => r.startsWith('exit code'))) return true;
        if (rows.some((r) => r.startsWith('backup nfs/daily'))) return false; // ended, summary printed
        const shown = progressRows(rows);
        assert.ok(shown.length <= 1, `stacked progress lines:\n${rows.join('\n')}`);
        for (const r of shown) {
          assert.ok(stringWidth(r) <= 80, `${stringWidth(r)} columns: ${r}`);
          if (r.includes('/s') && r.includes('ETA')) seen.add(r);
        }
        // Nothing else on the screen while it runs: no leftover rows of an earlier line.
        assert.deepEqual(
          rows.filter((r) => r !== '' && !PROGRESS.test(r)),
          [],
          `stray rows:\n${rows.join('\n')}`,
        );
        return false;
      },
      'the end of the run',
      60_000,
    );
    assert.ok(seen.size >= 3, `speed and ETA shown on ${seen.size} screens`);
    for (const r of seen) {
      assert.match(
        r,
        /^(\[[=> ]+\] )?\d+\.\d% {2}\d+\/4000 files {2}[\d.]+ [KMG]iB\/2\.00 GiB {2}[\d.]+ [KMG]iB\/s {2}ETA \S+$/,
      );
    }
    const rows = term.capture({ isJoined: true }).filter(Boolean);
    assert.deepEqual(progressRows(rows), [], 'the progress line is cleared at the end');
    assert.match(
      rows[0] ?? '',
      /^backup nfs\/daily succeeded in [\d.]+s: snapshot bce0e2e2, 3 files \(3 new, 0 changed\), 11\.8 KiB processed, 13\.8 KiB added$/,
    );
    assert.equal(rows.at(-1), 'exit code 0');
  });

  it('at 120 columns a bar and the file name shortened in the middle; a resize redraws to the new width', async () => {
    const term = startTmux(tmp.dir, script, 120);
    terminals.push(term);
    const wide = await waitForScreen(
      term,
      (rows) => progressRows(rows).some((r) => r.includes('ETA') && r.includes('…')),
      'a 120-column progress line with ETA and a file name',
    );
    const line120 = progressRows(wide)[0] as string;
    assert.ok(
      stringWidth(line120) <= 120 && stringWidth(line120) > 100,
      `${stringWidth(line120)}: ${line120}`,
    );
    assert.match(line120, /^\[[=> ]{20}\] \d+\.\d% .* ETA \S+ {2}\/srv\/nfs\/.*….*IMG_0001\.jpg$/);

    term.resize(80);
    const narrow = await waitForScreen(
      term,
      (rows) => {
        const shown = progressRows(rows);
        return shown.length === 1 && !(shown[0] as string).includes('…');
      },
      'the line redrawn for 80 columns',
    );
    assert.deepEqual(
      narrow.filter(Boolean).length,
      1,
      `leftover rows after narrowing:\n${narrow.join('\n')}`,
    );
    assert.ok(stringWidth(progressRows(narrow)[0] as string) <= 80);

    term.resize(120);
    const again = await waitForScreen(
      term,
      (rows) => progressRows(rows).some((r) => r.includes('…')),
      'the line redrawn for 120 columns',
    );
    assert.equal(again.filter(Boolean).length, 1, again.join('\n'));
    const done = await waitForScreen(
      term,
      (rows) => rows.some((r) => r === 'exit code 0'),
      'the end',
      60_000,
    );
    assert.deepEqual(progressRows(done), []);
    assert.match(done[0] ?? '', /^backup nfs\/daily succeeded in /);
  });

  it('with -q on a terminal: no progress line at all', async () => {
    const term = startTmux(tmp.dir, `${script} -q`, 80);
    terminals.push(term);
    const done = await waitForScreen(
      term,
      (rows) => {
        assert.deepEqual(progressRows(rows), [], rows.join('\n'));
        return rows.some((r) => r.startsWith('exit code'));
      },
      'the end of the run',
      60_000,
    );
    assert.deepEqual(done.filter(Boolean), ['exit code 0']);
  });

  it('through a pipe (cron, systemd): no terminal codes, no progress lines in a short run', async () => {
    const r = await runCli(['backup', '--tier', 'daily', '--config', config], {
      env: {
        FAKE_RESTIC_STDOUT: join(tmp.dir, 'status.jsonl'),
        FAKE_RESTIC_DELAY_MS: '10',
        FAKE_RESTIC_VERSION: '0.18.0',
      },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /[\r\x1b]/);
    assert.doesNotMatch(r.stderr, /^progress:/m);
    assert.match(r.stderr, /^backup nfs\/daily succeeded in /m);
  });
});
