/**
 * Stray files in the outbox: each of `null` as an entry, a folder with an entry's name, a FIFO,
 * a dangling symbolic link, a symbolic link to a root-only file, an entry file owned by another
 * user, and a file that is no entry at all, planted next to a real waiting entry. With the real
 * Pushgateway, `push`, `flush` and `backup`-like delivery must quarantine each one with a line
 * naming it (never opening the FIFO, never following the link), deliver every real entry, and
 * leave nothing pending.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { pushgatewayMatrix } from '../helpers/matrix.js';
import { freePort, gatewayGroups, groupValues, makeTempDir, startPushgateway } from '../helpers/services.js';

const ENTRY = /^\d{13}-\d{6}-[0-9a-f]{8}\.json$/;
const metrics = (n: number) => `# TYPE stray_value gauge\nstray_value ${n}\n`;

/** The strays, by the name they are planted under and how. */
const STRAYS: { name: string; plant: (path: string, dir: string) => void; reason: RegExp }[] = [
  {
    name: '0000000000001-000001-00000001.json',
    plant: (p) => writeFileSync(p, 'null'),
    reason: /corrupt: not an outbox entry \(a JSON null\)/,
  },
  {
    name: '0000000000001-000002-00000002.json',
    plant: (p) => mkdirSync(p),
    reason: /not a regular file of ours: a directory/,
  },
  {
    name: '0000000000001-000003-00000003.json',
    plant: (p) => execFileSync('mkfifo', [p]),
    reason: /not a regular file of ours: a FIFO/,
  },
  {
    name: '0000000000001-000004-00000004.json',
    plant: (p, dir) => symlinkSync(join(dir, 'nowhere.json'), p),
    reason: /not a regular file of ours: a symbolic link/,
  },
  {
    name: '0000000000001-000005-00000005.json',
    plant: (p) => symlinkSync('/etc/shadow', p),
    reason: /not a regular file of ours: a symbolic link/,
  },
  {
    name: '0000000000001-000006-00000006.json',
    plant: (p) => {
      writeFileSync(p, '{}');
      chownSync(p, 65534, 65534);
    },
    reason: /not a regular file of ours: owned by uid 65534/,
  },
  {
    name: 'notes.txt',
    plant: (p) => writeFileSync(p, 'hello'),
    reason: /not an outbox entry \(a regular file named "notes.txt"\)/,
  },
];

for (const pg of pushgatewayMatrix()) {
  describe(`stray files in the outbox never block delivery (Pushgateway ${pg.version})`, {
    skip: pg.skip,
  }, () => {
    const tmp = makeTempDir('resticprom-stray-');
    before(async () => {
      await ensureBuilt();
    });
    after(() => tmp.cleanup());

    const push = (url: string, state: string, n: number, group: string) =>
      runCli(
        [
          'push',
          '--gateway',
          url,
          '--job',
          'stray',
          '--group',
          `g=${group}`,
          '--retries',
          '0',
          '--state-dir',
          state,
          '-',
        ],
        { input: metrics(n), timeoutMs: 30_000 },
      );

    for (const command of ['push', 'flush'] as const) {
      it(`${command}: quarantines every stray with a line naming it and delivers the waiting entry`, async () => {
        const state = join(tmp.dir, `state-${command}`);
        const port = await freePort();
        const url = `http://127.0.0.1:${port}`;
        // A real entry waits: the gateway is down.
        const first = await push(url, state, 1, 'waiting');
        assert.equal(first.code, ExitCode.TEMPFAIL, first.stderr);
        const outbox = join(state, 'outbox');
        for (const s of STRAYS) s.plant(join(outbox, s.name), outbox);

        const gw = await startPushgateway({ port, bin: pg.bin });
        try {
          const r =
            command === 'push'
              ? await push(url, state, 2, 'new')
              : await runCli(['flush', '--state-dir', state], { timeoutMs: 30_000 });
          const out = `${r.stdout}${r.stderr}`;
          for (const s of STRAYS) {
            const line = out.split('\n').find((l) => l.includes(join(outbox, s.name)));
            assert.ok(line, `no line names ${s.name}:\n${out}`);
            assert.match(line, s.reason);
          }
          // Nothing stray is pending; every real entry is at the gateway.
          assert.deepEqual(
            readdirSync(outbox).filter((n) => ENTRY.test(n) || !['dead', '.lock'].includes(n)),
            [],
          );
          const groups = await gatewayGroups(gw.url);
          const value = (g: string) =>
            groupValues(groups.find((x) => x.labels.g === g)!, 'stray_value').map((m) => m.value);
          assert.deepEqual(value('waiting'), ['1']);
          if (command === 'push') {
            assert.equal(r.code, ExitCode.OK, r.stderr);
            assert.deepEqual(value('new'), ['2']);
          } else {
            // The quarantined files are reported as dead letters: exit 1, nothing pending.
            assert.equal(r.code, ExitCode.FAILURE, r.stderr);
            assert.match(r.stdout, /flush: 1 delivered, 0 pending, 7 dead-lettered/);
          }
          // Moved as they were: the links are still links, the FIFO a FIFO, /etc/shadow untouched.
          const dead = join(outbox, 'dead');
          const moved = readdirSync(dead).filter((n) => n.endsWith('.corrupt'));
          assert.equal(moved.length, STRAYS.length);
          const kinds = moved
            .map((n) => lstatSync(join(dead, n)))
            .map((st) =>
              st.isFIFO() ? 'fifo' : st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'dir' : 'file',
            );
          assert.deepEqual(kinds.sort(), ['dir', 'fifo', 'file', 'file', 'file', 'link', 'link']);
          for (const n of readdirSync(dead).filter((x) => x.endsWith('.json'))) {
            assert.ok(!readFileSync(join(dead, n), 'utf8').includes('root:'), 'a link was followed');
          }
          // The next flush has nothing to say.
          const again = await runCli(['flush', '--state-dir', state], { timeoutMs: 30_000 });
          assert.equal(again.code, ExitCode.OK, again.stderr);
          assert.match(again.stdout, /flush: 0 delivered, 0 pending, 0 dead-lettered/);
        } finally {
          await gw.stop();
        }
      });
    }
  });
}
