import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InvalidMetricsError } from '../../src/errors.js';
import { deliver, flushPending } from '../../src/sinks/deliver.js';
import { sendToTarget } from '../../src/sinks/target.js';
import type { Destination, MetricsPayload } from '../../src/sinks/types.js';
import {
  freePort,
  gatewayGroups,
  groupValues,
  makeTempDir,
  type RunningService,
  startPushgateway,
} from '../helpers/services.js';

const payload = (value: number, instance = 'daily', extra = ''): MetricsPayload => ({
  text: `# TYPE deliver_test_value gauge\ndeliver_test_value ${value}\n${extra}`,
  job: 'deliver_test',
  grouping: { instance },
  measuredAt: 1_700_000_000_000,
});

async function valueIn(url: string, instance: string, family = 'deliver_test_value'): Promise<string[]> {
  const g = (await gatewayGroups(url)).find(
    (x) => x.labels.job === 'deliver_test' && x.labels.instance === instance,
  );
  return g ? groupValues(g, family).map((m) => m.value) : [];
}

const noSleep = { sleep: async () => {} };

describe('deliver', () => {
  let gw: RunningService;
  const temps: (() => void)[] = [];
  const stateDir = () => {
    const t = makeTempDir('resticprom-deliver-');
    temps.push(t.cleanup);
    return t.dir;
  };
  before(async () => {
    gw = await startPushgateway();
  });
  after(async () => {
    await gw.stop();
    for (const c of temps) c();
  });

  it('delivers to the gateway and leaves the outbox empty', async () => {
    const dir = stateDir();
    const dest: Destination = { kind: 'pushgateway', urls: [gw.url] };
    const r = await deliver(payload(1, 'ok'), [dest], { stateDir: dir });
    assert.deepEqual(r.delivered, [`pushgateway ${gw.url}`]);
    assert.deepEqual(r.queued, []);
    assert.deepEqual(r.deadLettered, []);
    assert.equal(r.isComplete, true);
    assert.equal(r.pendingCount, 0);
    assert.deepEqual(await valueIn(gw.url, 'ok'), ['1']);
    assert.deepEqual(readdirSync(join(dir, 'outbox')).sort(), ['dead']);
  });

  it('honours require any/all across an HA pair with one gateway down', async () => {
    const down = `http://127.0.0.1:${await freePort()}`;
    for (const require of ['any', 'all'] as const) {
      const dir = stateDir();
      const dest: Destination = { kind: 'pushgateway', urls: [gw.url, down], require, retries: 0 };
      const r = await deliver(payload(2, `ha-${require}`), [dest], { stateDir: dir, sendOptions: noSleep });
      assert.deepEqual(r.delivered, [`pushgateway ${gw.url}`]);
      assert.deepEqual(r.queued, [
        {
          destination: `pushgateway ${down}`,
          reason: `gateway ${down} unreachable after 1 attempt (connect ECONNREFUSED ${down.slice(7)})`,
        },
      ]);
      assert.equal(r.isComplete, require === 'any');
      assert.equal(r.pendingCount, 1);
    }
  });

  it('after an outage, sends the queued payloads oldest first, then the new one; the newest wins', async () => {
    const port = await freePort();
    const dir = stateDir();
    const dest: Destination = { kind: 'pushgateway', urls: [`http://127.0.0.1:${port}`], retries: 0 };
    // v2 carries a family v3 does not: POST semantics keep it, so order is visible in the end state.
    const r1 = await deliver(payload(1, 'outage'), [dest], { stateDir: dir });
    const r2 = await deliver(
      payload(2, 'outage', '# TYPE deliver_test_extra gauge\ndeliver_test_extra 2\n'),
      [dest],
      {
        stateDir: dir,
      },
    );
    assert.equal(r1.isComplete, false);
    assert.equal(r2.pendingCount, 2);
    const local = await startPushgateway({ port });
    try {
      const sent: string[] = [];
      const r3 = await deliver(payload(3, 'outage'), [dest], {
        stateDir: dir,
        send: async (p, t, o) => {
          sent.push(p.text.split('\n')[1]!);
          await sendToTarget(p, t, o);
        },
      });
      assert.deepEqual(sent, ['deliver_test_value 1', 'deliver_test_value 2', 'deliver_test_value 3']);
      assert.equal(r3.isComplete, true);
      assert.equal(r3.earlier.delivered.length, 2);
      assert.equal(r3.pendingCount, 0);
      assert.deepEqual(await valueIn(local.url, 'outage'), ['3']);
      assert.deepEqual(await valueIn(local.url, 'outage', 'deliver_test_extra'), ['2']);
    } finally {
      await local.stop();
    }
  });

  it('queues a new payload behind older ones of a target that is still down, without trying it', async () => {
    const port = await freePort();
    const dir = stateDir();
    const dest: Destination = { kind: 'pushgateway', urls: [`http://127.0.0.1:${port}`], retries: 0 };
    await deliver(payload(1, 'behind'), [dest], { stateDir: dir });
    let calls = 0;
    const r = await deliver(payload(2, 'behind'), [dest], {
      stateDir: dir,
      send: async (p, t, o) => {
        calls++;
        await sendToTarget(p, t, o);
      },
    });
    assert.equal(calls, 1, 'only the oldest entry is tried');
    assert.equal(r.queued.length, 1);
    assert.match(
      r.queued[0]!.reason,
      /^gateway http:\/\/127\.0\.0\.1:\d+ unreachable after 1 attempt \(connect ECONNREFUSED/,
    );
    assert.equal(r.pendingCount, 2);
  });

  it('dead-letters a payload the gateway refuses (400) and reports it', async () => {
    const dir = stateDir();
    await sendToTarget(
      { text: '# TYPE deliver_clash counter\ndeliver_clash 1\n', job: 'other', grouping: {}, measuredAt: 0 },
      {
        kind: 'pushgateway',
        url: gw.url,
      },
    );
    const r = await deliver(
      { ...payload(0, 'dead'), text: '# TYPE deliver_clash gauge\ndeliver_clash 1\n' },
      [{ kind: 'pushgateway', urls: [gw.url] }],
      { stateDir: dir },
    );
    assert.deepEqual(r.delivered, []);
    assert.equal(r.deadLettered.length, 1);
    assert.match(
      r.deadLettered[0]!.reason,
      /^gateway http:\/\/127\.0\.0\.1:\d+ answered 400: .*inconsistent with existing metrics/,
    );
    assert.equal(r.isComplete, false);
    const deadFiles = readdirSync(join(dir, 'outbox', 'dead'));
    assert.equal(deadFiles.length, 1);
    const doc = JSON.parse(readFileSync(join(dir, 'outbox', 'dead', deadFiles[0]!), 'utf8')) as {
      dead: { status: number; body: string };
    };
    assert.equal(doc.dead.status, 400);
    assert.match(doc.dead.body, /inconsistent with existing metrics/);
  });

  it('refuses invalid exposition before sending or storing anything', async () => {
    const dir = stateDir();
    await assert.rejects(
      deliver(
        { ...payload(0), text: '# TYPE a gauge\na 1\na{x="1"} zz\n' },
        [{ kind: 'pushgateway', urls: [gw.url] }],
        {
          stateDir: dir,
        },
      ),
      (err: unknown) => err instanceof InvalidMetricsError && err.line === 3,
    );
    assert.equal(existsSync(join(dir, 'outbox')), false);
  });

  it('retries a 503 inside one delivery and counts the attempts', async () => {
    let hits = 0;
    const server: Server = createServer((req, res) => {
      req.resume();
      hits++;
      res.writeHead(hits < 3 ? 503 : 200).end(hits < 3 ? 'busy' : '');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address() as { port: number };
    try {
      const r = await deliver(
        payload(5, 'flaky'),
        [{ kind: 'pushgateway', urls: [`http://127.0.0.1:${addr.port}`], retries: 3 }],
        {
          stateDir: stateDir(),
          sendOptions: noSleep,
        },
      );
      assert.equal(hits, 3);
      assert.equal(r.isComplete, true);
    } finally {
      server.close();
    }
  });

  it('flushPending sends what earlier runs left, using credentials of matching destinations', async () => {
    const port = await freePort();
    const dir = stateDir();
    const dest: Destination = { kind: 'pushgateway', urls: [`http://127.0.0.1:${port}`], retries: 0 };
    await deliver(payload(8, 'later'), [dest], { stateDir: dir });
    const empty = await flushPending({ stateDir: dir });
    assert.equal(empty.pending.length, 1);
    const local = await startPushgateway({ port });
    try {
      const r = await flushPending({ stateDir: dir, targets: [dest] });
      assert.equal(r.delivered.length, 1);
      assert.equal(r.remaining, 0);
      assert.deepEqual(await valueIn(local.url, 'later'), ['8']);
    } finally {
      await local.stop();
    }
  });
});
