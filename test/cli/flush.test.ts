import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Outbox } from '../../src/sinks/outbox.js';
import { ensureBuilt, runCli, spawnCli } from '../helpers/cli.js';
import { freePort, gatewayGroups, groupValues, makeTempDir, startPushgateway } from '../helpers/services.js';

/** Run n: `flush_a n`, and on run 2 also `flush_b 2`. POST keeps b, so a wrong order would show a=2. */
const run = (n: number) =>
  `# TYPE flush_a gauge\nflush_a ${n}\n${n === 2 ? '# TYPE flush_b gauge\nflush_b 2\n' : ''}`;

async function groupState(url: string, instance: string): Promise<{ a: string[]; b: string[] }> {
  const g = (await gatewayGroups(url)).find(
    (x) => x.labels.job === 'flush_job' && x.labels.instance === instance,
  );
  return {
    a: g ? groupValues(g, 'flush_a').map((m) => m.value) : [],
    b: g ? groupValues(g, 'flush_b').map((m) => m.value) : [],
  };
}

function entryIds(state: string): string[] {
  return readdirSync(join(state, 'outbox'))
    .filter((n) => /^\d{13}-\d{6}-[0-9a-f]{8}\.json$/.test(n))
    .sort()
    .map((n) => n.slice(0, -5));
}

function leftovers(state: string): string[] {
  return readdirSync(join(state, 'outbox')).filter((n) => n.endsWith('.tmp') || n === '.lock');
}

describe('resticprom flush', () => {
  let tmp: { dir: string; cleanup: () => void };
  let n = 0;
  const stateDir = () => join(tmp.dir, `state-${++n}`);
  before(async () => {
    tmp = makeTempDir('resticprom-flush-cli-');
    await ensureBuilt();
  });
  after(() => tmp.cleanup());

  const push = (port: number, state: string, value: number, extra: string[] = []) =>
    runCli(
      [
        'push',
        '--gateway',
        `http://127.0.0.1:${port}`,
        '--job',
        'flush_job',
        '--group',
        'instance=daily',
        '--retries',
        '0',
        '--state-dir',
        state,
        ...extra,
        '-',
      ],
      { input: run(value) },
    );

  it('exits 0 and says so when nothing waits', async () => {
    const state = stateDir();
    const r = await runCli(['flush', '--state-dir', state]);
    assert.equal(
      r.stdout,
      `flush: 0 delivered, 0 pending, 0 dead-lettered, 0 superseded (${state}/outbox)\n`,
    );
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
  });

  it('outage: three pushes wait (75), the gateway comes back on the same port, flush sends them in order', async () => {
    const state = stateDir();
    const first = await startPushgateway();
    const port = first.port;
    await first.stop();
    for (const v of [1, 2, 3]) {
      const r = await push(port, state, v);
      assert.equal(
        r.stderr,
        `resticprom: gateway http://127.0.0.1:${port} unreachable after 1 attempt (connect ECONNREFUSED 127.0.0.1:${port}); queued in ${state}/outbox (${v} pending)\n`,
      );
      assert.equal(r.code, 75);
    }
    const ids = entryIds(state);
    assert.equal(ids.length, 3);

    const still = await runCli(['flush', '--state-dir', state]);
    assert.equal(still.code, 75);
    assert.equal(still.stderr, `resticprom: 3 payloads still pending in ${state}/outbox\n`);

    const gw = await startPushgateway({ port });
    try {
      const r = await runCli(['flush', '--state-dir', state]);
      assert.equal(
        r.stdout,
        `${ids.map((id) => `delivered ${id} to pushgateway http://127.0.0.1:${port} (job flush_job, instance=daily)\n`).join('')}flush: 3 delivered, 0 pending, 0 dead-lettered, 0 superseded (${state}/outbox)\n`,
      );
      assert.equal(r.code, 0);
      assert.deepEqual(await groupState(gw.url, 'daily'), { a: ['3'], b: ['2'] });
      assert.deepEqual(entryIds(state), []);
      assert.deepEqual(leftovers(state), []);
    } finally {
      await gw.stop();
    }
  });

  it('a later push delivers what waits first, then its own payload', async () => {
    const state = stateDir();
    const port = await freePort();
    assert.equal((await push(port, state, 1)).code, 75);
    assert.equal((await push(port, state, 2)).code, 75);
    const gw = await startPushgateway({ port });
    try {
      const r = await push(port, state, 3);
      assert.equal(
        r.stderr,
        `resticprom: delivered 2 earlier payloads from ${state}/outbox\nresticprom: delivered job flush_job, instance=daily (POST) to pushgateway http://127.0.0.1:${port}\n`,
      );
      assert.equal(r.code, 0);
      assert.deepEqual(await groupState(gw.url, 'daily'), { a: ['3'], b: ['2'] });
    } finally {
      await gw.stop();
    }
  });

  it('kill -9 during delivery loses nothing: flush later sends every payload, newest wins, no temp files', async () => {
    const state = stateDir();
    const port = await freePort();
    assert.equal((await push(port, state, 1)).code, 75);
    assert.equal((await push(port, state, 2)).code, 75);

    // A gateway stand-in that takes the request and never answers.
    const sockets: Socket[] = [];
    let onRequest: () => void = () => {};
    const requested = new Promise<void>((r) => {
      onRequest = r;
    });
    const staller = createServer((s) => {
      sockets.push(s);
      s.on('data', () => onRequest());
      s.on('error', () => {});
    });
    await new Promise<void>((r) => staller.listen(port, '127.0.0.1', r));
    const child = spawnCli(
      [
        'push',
        '--gateway',
        `http://127.0.0.1:${port}`,
        '--job',
        'flush_job',
        '--group',
        'instance=daily',
        '--timeout',
        '60s',
        '--state-dir',
        state,
        '-',
      ],
      { input: run(3) },
    );
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_c, sig) => r(sig)));
    await requested;
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => staller.close(() => r()));

    // Every payload is still there and whole; the dead process's lock is left behind.
    const pending = await new Outbox({ stateDir: state }).pending();
    assert.deepEqual(
      pending.map((e) => e.payload.text),
      [run(1), run(2), run(3)],
    );

    const gw = await startPushgateway({ port });
    try {
      const r = await runCli(['flush', '--state-dir', state]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /flush: 3 delivered, 0 pending, 0 dead-lettered, 0 superseded/);
      assert.deepEqual(await groupState(gw.url, 'daily'), { a: ['3'], b: ['2'] });
      assert.deepEqual(entryIds(state), []);
      assert.deepEqual(leftovers(state), []);
    } finally {
      await gw.stop();
    }
  });

  it('exits 1 when an entry is dead-lettered (type clash), and still sends the next one', async () => {
    const state = stateDir();
    const port = await freePort();
    const clash = '# TYPE flush_clash gauge\nflush_clash 1\n';
    const r1 = await runCli(
      [
        'push',
        '--gateway',
        `http://127.0.0.1:${port}`,
        '--job',
        'flush_job',
        '--group',
        'instance=dl',
        '--retries',
        '0',
        '--state-dir',
        state,
        '-',
      ],
      { input: clash },
    );
    assert.equal(r1.code, 75);
    const r2 = await runCli(
      [
        'push',
        '--gateway',
        `http://127.0.0.1:${port}`,
        '--job',
        'flush_job',
        '--group',
        'instance=dl2',
        '--retries',
        '0',
        '--state-dir',
        state,
        '-',
      ],
      { input: run(7) },
    );
    assert.equal(r2.code, 75);
    const [badId, goodId] = entryIds(state);
    const gw = await startPushgateway({ port });
    try {
      const seed = await fetch(`${gw.url}/metrics/job/other`, {
        method: 'PUT',
        body: '# TYPE flush_clash counter\nflush_clash 1\n',
      });
      assert.equal(seed.status, 200);
      const r = await runCli(['flush', '--state-dir', state]);
      assert.equal(r.code, 1);
      const lines = r.stdout.split('\n');
      assert.equal(
        lines[0],
        `delivered ${goodId} to pushgateway http://127.0.0.1:${port} (job flush_job, instance=dl2)`,
      );
      assert.match(
        lines[1]!,
        new RegExp(
          `^dead-lettered ${badId} for pushgateway http://127\\.0\\.0\\.1:${port} \\(job flush_job, instance=dl\\): gateway http://127\\.0\\.0\\.1:${port} answered 400: .*inconsistent with existing metrics`,
        ),
      );
      assert.equal(
        lines[2],
        `flush: 1 delivered, 0 pending, 1 dead-lettered, 0 superseded (${state}/outbox)`,
      );
      assert.match(
        r.stderr,
        /^resticprom: gateway .* answered 400: .*; refused, dead-lettered in .*\/outbox\/dead\n$/,
      );
      assert.deepEqual(readdirSync(join(state, 'outbox', 'dead')), [`${badId}.json`]);
    } finally {
      await gw.stop();
    }
  });

  it('bounds: with --outbox-max-entries 3, five failed pushes keep the newest three and report the two drops', async () => {
    const state = stateDir();
    const port = await freePort();
    const warnings: string[] = [];
    for (let v = 1; v <= 5; v++) {
      const r = await push(port, state, v, ['--group', `run=r${v}`, '--outbox-max-entries', '3']);
      assert.equal(r.code, 75);
      warnings.push(...r.stderr.split('\n').filter((l) => l.includes('outbox full')));
    }
    assert.equal(warnings.length, 2);
    assert.match(
      warnings[0]!,
      /^resticprom: warning: outbox full \(limit 3 entries\): dropped the oldest entry \d{13}-\d{6}-[0-9a-f]{8} for pushgateway http:\/\/127\.0\.0\.1:\d+, job flush_job, enqueued /,
    );
    const pending = await new Outbox({ stateDir: state }).pending();
    assert.deepEqual(
      pending.map((e) => e.payload.grouping.run),
      ['r3', 'r4', 'r5'],
    );
  });

  it('moves a corrupt entry aside, reports it, and exits 1 without crashing', async () => {
    const state = stateDir();
    const port = await freePort();
    assert.equal((await push(port, state, 1)).code, 75);
    const garbage = join(state, 'outbox', '0000000000001-000001-deadbeef.json');
    const torn = '{"format":"resticprom-outbox/1","sha256":"00","entry":{"id"';
    writeFileSync(garbage, torn);
    const r = await runCli(['flush', '--state-dir', state, '--retries', '0']);
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      new RegExp(
        `^dead-lettered ${garbage}: corrupt: not valid JSON \\(${torn.length} bytes; torn or truncated write\\)$`,
        'm',
      ),
    );
    assert.match(
      r.stdout,
      /^pending \d{13}-\d{6}-[0-9a-f]{8} for pushgateway .* unreachable after 1 attempt/m,
    );
    assert.deepEqual(readdirSync(join(state, 'outbox', 'dead')).sort(), [
      '0000000000001-000001-deadbeef.corrupt',
      '0000000000001-000001-deadbeef.json',
    ]);
  });
});
