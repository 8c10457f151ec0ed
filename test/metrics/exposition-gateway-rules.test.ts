/**
 * Two inputs the validator let through although the real gateways refuse them: a sample line
 * with a trailing blank (`x 1 `: both 1.5.1 and 1.11 answer 400) and a negative histogram
 * bucket count (1.11 answers 400). Each gateway of the matrix is asked first, so the rule is
 * the gateway's; then `push` must exit 65 with the line and queue nothing.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { InvalidMetricsError } from '../../src/errors.js';
import { validateExposition } from '../../src/metrics/exposition.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { pushgatewayMatrix } from '../helpers/matrix.js';
import { makeTempDir, type RunningService, startPushgateway } from '../helpers/services.js';

const CASES = [
  {
    name: 'a trailing blank after the value',
    text: '# TYPE x gauge\nx 1 \n',
    message: 'line 2: trailing blank at the end of the line of metric x',
    refusedBy: ['1.5', '1.11'],
  },
  {
    name: 'a trailing tab after a labelled sample',
    text: '# TYPE x gauge\nx{a="b"} 1\t\n',
    message: 'line 2: trailing blank at the end of the line of metric x',
    refusedBy: ['1.5', '1.11'],
  },
  {
    name: 'a negative histogram bucket count',
    text: '# TYPE h histogram\nh_bucket{le="1"} -1\nh_bucket{le="+Inf"} 0\nh_sum 0\nh_count 0\n',
    message: 'line 2: histogram h: bucket count -1 is negative',
    refusedBy: ['1.11'],
  },
];

for (const pg of pushgatewayMatrix()) {
  describe(`the validator refuses what Pushgateway ${pg.version} refuses`, { skip: pg.skip }, () => {
    const tmp = makeTempDir('resticprom-gwrules-');
    let gw: RunningService;
    before(async () => {
      await ensureBuilt();
      gw = await startPushgateway({ bin: pg.bin });
    });
    after(async () => {
      await gw?.stop();
      tmp.cleanup();
    });

    for (const c of CASES) {
      it(`${c.name}: exit 65 naming the line, nothing queued`, async () => {
        const minor = pg.version.split('.').slice(0, 2).join('.');
        if (c.refusedBy.includes(minor)) {
          const res = await fetch(`${gw.url}/metrics/job/probe`, { method: 'PUT', body: c.text });
          assert.equal(res.status, 400, `Pushgateway ${pg.version} accepted ${JSON.stringify(c.text)}`);
        }
        assert.throws(
          () => validateExposition(c.text),
          (err: unknown) => {
            assert.ok(err instanceof InvalidMetricsError);
            assert.equal(err.message, c.message);
            return true;
          },
        );
        const state = join(tmp.dir, c.name.replace(/\W/g, '_'));
        const r = await runCli(['push', '--gateway', gw.url, '--job', 'rules', '--state-dir', state, '-'], {
          input: c.text,
        });
        assert.equal(r.code, ExitCode.DATAERR, r.stderr);
        assert.equal(
          r.stderr,
          `resticprom: invalid metrics in stdin: ${c.message}; nothing was sent or queued\n`,
        );
        const outbox = join(state, 'outbox');
        assert.deepEqual(
          existsSync(outbox) ? readdirSync(outbox).filter((n) => n.endsWith('.json')) : [],
          [],
        );
      });
    }
  });
}
