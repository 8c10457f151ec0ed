/**
 * `resticprom outbox list | retry ID | drop ID` against the real Pushgateways: a payload the
 * gateway refused once is listed as dead, retried, and delivered by the next flush; a pending
 * entry is listed with its last error and dropped.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { startStandIn } from '../faults/helpers.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { pushgatewayMatrix } from '../helpers/matrix.js';
import { freePort, gatewayGroups, groupValues, makeTempDir, startPushgateway } from '../helpers/services.js';

const ID = /\d{13}-\d{6}-[0-9a-f]{8}/;

for (const pg of pushgatewayMatrix()) {
  describe(`resticprom outbox (Pushgateway ${pg.version})`, { skip: pg.skip }, () => {
    const tmp = makeTempDir('resticprom-outbox-cli-');
    before(async () => {
      await ensureBuilt();
    });
    after(() => tmp.cleanup());

    const push = (url: string, state: string, group: string, n: number) =>
      runCli(
        [
          'push',
          '--gateway',
          url,
          '--job',
          'ob',
          '--group',
          `g=${group}`,
          '--retries',
          '0',
          '--state-dir',
          state,
          '-',
        ],
        {
          input: `# TYPE ob_value gauge\nob_value ${n}\n`,
        },
      );

    it('lists a pending entry with its error and drops it', async () => {
      const state = join(tmp.dir, 'drop');
      const port = await freePort();
      assert.equal((await push(`http://127.0.0.1:${port}`, state, 'a', 1)).code, ExitCode.TEMPFAIL);
      const list = await runCli(['outbox', 'list', '--state-dir', state]);
      assert.equal(list.code, ExitCode.OK, list.stderr);
      const [line, summary] = list.stdout.trimEnd().split('\n');
      const id = ID.exec(line ?? '')?.[0] as string;
      assert.match(
        line!,
        new RegExp(
          `^pending ${id} for pushgateway http://127\\.0\\.0\\.1:${port} \\(job ob, g=a, POST, queued \\S+, 1 attempt\\): gateway http://127\\.0\\.0\\.1:${port} unreachable after 1 attempt \\(connect ECONNREFUSED 127\\.0\\.0\\.1:${port}\\)$`,
        ),
      );
      assert.equal(summary, `outbox: 1 pending, 0 dead (${state}/outbox)`);
      const json = JSON.parse((await runCli(['outbox', 'list', '--json', '--state-dir', state])).stdout) as {
        pending: { id: string; payload: { text: string } }[];
      };
      assert.deepEqual(
        json.pending.map((e) => [e.id, e.payload.text]),
        [[id, '# TYPE ob_value gauge\nob_value 1\n']],
      );

      const drop = await runCli(['outbox', 'drop', id, '--state-dir', state]);
      assert.equal(drop.code, ExitCode.OK, drop.stderr);
      assert.equal(drop.stdout, `dropped pending entry ${id}\n`);
      assert.deepEqual(
        readdirSync(join(state, 'outbox')).filter((n) => n.endsWith('.json')),
        [],
      );
      const again = await runCli(['outbox', 'drop', id, '--state-dir', state]);
      assert.equal(again.code, ExitCode.FAILURE);
      assert.equal(again.stderr, `resticprom: no entry ${id} in ${state}/outbox\n`);
      const bad = await runCli(['outbox', 'drop', '../../etc/passwd', '--state-dir', state]);
      assert.equal(bad.code, ExitCode.USAGE);
    });

    it('retries a dead letter: the next flush delivers it to the real gateway', async () => {
      const state = join(tmp.dir, 'retry');
      const gw = await startPushgateway({ bin: pg.bin });
      // Refuses the first push (400), then forwards to the real gateway.
      const front = await startStandIn((n) =>
        n === 1 ? { status: 400, body: 'refused once' } : { proxy: gw.url },
      );
      try {
        const r = await push(front.url, state, 'b', 7);
        assert.equal(r.code, ExitCode.FAILURE, r.stderr);
        const list = await runCli(['outbox', 'list', '--state-dir', state]);
        const [line, summary] = list.stdout.trimEnd().split('\n');
        const id = ID.exec(line ?? '')?.[0] as string;
        assert.match(
          line!,
          new RegExp(
            `^dead ${id} for pushgateway ${front.url.replace(/\./g, '\\.')} \\(job ob, g=b\\), \\S+: gateway \\S+ answered 400: refused once$`,
          ),
        );
        assert.equal(summary, `outbox: 0 pending, 1 dead (${state}/outbox)`);

        const retry = await runCli(['outbox', 'retry', id, '--state-dir', state]);
        assert.equal(retry.code, ExitCode.OK, retry.stderr);
        assert.equal(
          retry.stdout,
          `moved ${id} back to ${state}/outbox; the next push, backup or flush sends it\n`,
        );
        const flush = await runCli(['flush', '--state-dir', state]);
        assert.equal(flush.code, ExitCode.OK, flush.stderr);
        assert.match(flush.stdout, /flush: 1 delivered, 0 pending, 0 dead-lettered/);
        const g = (await gatewayGroups(gw.url)).find((x) => x.labels.g === 'b');
        assert.deepEqual(g && groupValues(g, 'ob_value').map((m) => m.value), ['7']);
        const none = await runCli(['outbox', 'retry', id, '--state-dir', state]);
        assert.equal(none.code, ExitCode.FAILURE);
      } finally {
        await front.close();
        await gw.stop();
      }
    });
  });
}
