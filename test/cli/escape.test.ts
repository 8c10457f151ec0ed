/**
 * One event is one line: a server's answer (or a file name) holding a newline, a carriage
 * return and terminal escape sequences is printed escaped, so it can neither forge a log line
 * (`error: backup ... FAILED`) nor clear the screen.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { escapeLine } from '../../src/cli/output.js';
import { startStandIn } from '../faults/helpers.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/services.js';

const HOSTILE = 'bad\nerror: backup nfs/daily FAILED\r\x1b[2J\x1b]0;owned\x07\x9b';

describe('printed lines are escaped', () => {
  const tmp = makeTempDir('resticprom-escape-');
  before(async () => {
    await ensureBuilt();
  });
  after(() => tmp.cleanup());

  it('escapeLine turns control characters into visible escapes and keeps tabs', () => {
    assert.equal(
      escapeLine(`a\tb${HOSTILE}`),
      'a\tbbad\\nerror: backup nfs/daily FAILED\\r\\x1b[2J\\x1b]0;owned\\x07\\x9b',
    );
  });

  it("a gateway's answer with a newline and escape sequences stays on one escaped line", async () => {
    const gw = await startStandIn(() => ({ status: 400, body: HOSTILE }));
    try {
      const r = await runCli(
        [
          'push',
          '--gateway',
          gw.url,
          '--job',
          'esc',
          '--retries',
          '0',
          '--state-dir',
          join(tmp.dir, 's'),
          '-',
        ],
        { input: '# TYPE x gauge\nx 1\n' },
      );
      assert.equal(r.code, ExitCode.FAILURE, r.stderr);
      assert.ok(!/[\x00-\x08\x0b-\x1f\x7f-\x9f]/.test(r.stderr), JSON.stringify(r.stderr));
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.ok(!r.stderr.includes('\nerror: backup'), 'a forged line');
      // The body's line breaks are folded into blanks; what is left of the controls is escaped.
      assert.match(
        lines[0]!,
        /^resticprom: gateway \S+ answered 400: bad error: backup nfs\/daily FAILED \\x1b\[2J\\x1b\]0;owned\\x07\\x9b/,
      );
    } finally {
      await gw.close();
    }
  });
});
