import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Outbox, type SendFunction } from '../../src/sinks/outbox.js';
import { sendToTarget, type Target } from '../../src/sinks/target.js';
import type { MetricsPayload } from '../../src/sinks/types.js';
import {
  bcryptHash,
  freePort,
  gatewayGroups,
  groupValues,
  makeTempDir,
  type RunningService,
  startPushgateway,
} from '../helpers/services.js';

const payload = (
  value: number,
  grouping: Record<string, string> = { instance: 'daily' },
  method?: 'put',
): MetricsPayload => ({
  text: `# TYPE outbox_test_value gauge\noutbox_test_value ${value}\n`,
  job: 'outbox_test',
  grouping,
  measuredAt: 1_700_000_000_000 + value,
  ...(method ? { method } : {}),
});

/** A pid that certainly belongs to no process: a child that has exited. */
function deadPid(): number {
  return Number(execFileSync('sh', ['-c', 'sh -c "echo \\$\\$"'], { encoding: 'utf8' }).trim());
}

async function gatewayValue(url: string, grouping: Record<string, string>, family = 'outbox_test_value') {
  const groups = await gatewayGroups(url);
  const g = groups.find(
    (x) => x.labels.job === 'outbox_test' && Object.entries(grouping).every(([k, v]) => x.labels[k] === v),
  );
  return g ? groupValues(g, family).map((m) => m.value) : [];
}

describe('Outbox', () => {
  let gw: RunningService;
  let target: Target;
  const temps: (() => void)[] = [];
  const stateDir = () => {
    const t = makeTempDir('resticprom-outbox-');
    temps.push(t.cleanup);
    return t.dir;
  };

  before(async () => {
    gw = await startPushgateway();
    target = { kind: 'pushgateway', url: gw.url, retries: 0, timeoutMs: 2000 };
  });
  after(async () => {
    await gw.stop();
    for (const c of temps) c();
  });

  it('stores an entry privately (0600 in a 0700 dir), checksummed, without inline secrets', async () => {
    const dir = stateDir();
    const outbox = new Outbox({ stateDir: dir });
    const secretTarget: Target = {
      kind: 'pushgateway',
      url: gw.url,
      basicAuth: { username: 'backup', password: { value: 'hunter2-inline-pw' } },
      headers: { 'X-Scope-OrgID': 'tenant-1', Authorization: 'Bearer tok-inline-secret' },
    };
    const res = await outbox.enqueue(payload(1), [secretTarget]);
    assert.equal(res.entries.length, 1);
    const entry = res.entries[0]!;
    assert.match(entry.id, /^\d{13}-\d{6}-[0-9a-f]{8}$/);
    assert.deepEqual(entry.secretsFromCaller, ['basicAuth.password', 'headers.Authorization']);
    const file = join(dir, 'outbox', `${entry.id}.json`);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'outbox')).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, 'outbox', 'dead')).mode & 0o777, 0o700);
    const text = readFileSync(file, 'utf8');
    assert.ok(!text.includes('hunter2-inline-pw'), 'password written to the outbox');
    assert.ok(!text.includes('tok-inline-secret'), 'header secret written to the outbox');
    const doc = JSON.parse(text) as { format: string; sha256: string; entry: { target: unknown } };
    assert.equal(doc.format, 'resticprom-outbox/1');
    assert.match(doc.sha256, /^[0-9a-f]{64}$/);
    assert.deepEqual(doc.entry.target, {
      kind: 'pushgateway',
      url: gw.url,
      basicAuth: { username: 'backup', password: { fromCaller: true } },
      headers: { 'X-Scope-OrgID': 'tenant-1' },
    });
    const pending = await outbox.pending();
    assert.deepEqual(
      pending.map((e) => [e.id, e.payload.text, e.payload.method, e.payload.measuredAt]),
      [[entry.id, payload(1).text, 'post', 1_700_000_000_001]],
    );
  });

  it('flushes oldest first; the gateway ends with the newest values', async () => {
    const outbox = new Outbox({ stateDir: stateDir() });
    const ids: string[] = [];
    for (const v of [11, 12, 13])
      ids.push((await outbox.enqueue(payload(v, { instance: 'order' }), [target])).entries[0]!.id);
    const sent: string[] = [];
    const send: SendFunction = async (p, t, o) => {
      sent.push(p.text.split('\n')[1]!);
      await sendToTarget(p, t, o);
    };
    const report = await outbox.flush({ send });
    assert.deepEqual(sent, ['outbox_test_value 11', 'outbox_test_value 12', 'outbox_test_value 13']);
    assert.deepEqual(
      report.delivered.map((e) => e.id),
      ids,
    );
    assert.equal(report.remaining, 0);
    assert.deepEqual(await gatewayValue(gw.url, { instance: 'order' }), ['13']);
    assert.deepEqual(readdirSync(outbox.dir).sort(), ['dead']);
  });

  it('a newer PUT supersedes older entries of its group only; POST keeps them', async () => {
    const outbox = new Outbox({ stateDir: stateDir() });
    const a1 = (await outbox.enqueue(payload(1, { instance: 'a' }), [target])).entries[0]!;
    const b1 = (await outbox.enqueue(payload(2, { instance: 'b' }), [target])).entries[0]!;
    const a2 = (await outbox.enqueue(payload(3, { instance: 'a' }), [target])).entries[0]!;
    assert.equal((await outbox.pending()).length, 3, 'POST must not supersede');
    const res = await outbox.enqueue(payload(4, { instance: 'a' }, 'put'), [target]);
    assert.deepEqual(
      res.superseded.map((e) => [e.id, e.reason]),
      [
        [a1.id, `superseded by newer PUT entry ${res.entries[0]!.id}`],
        [a2.id, `superseded by newer PUT entry ${res.entries[0]!.id}`],
      ],
    );
    assert.deepEqual(
      (await outbox.pending()).map((e) => e.id),
      [b1.id, res.entries[0]!.id],
    );
  });

  it('stops a target at its first retryable failure so order holds, and records the attempt', async () => {
    const outbox = new Outbox({ stateDir: stateDir() });
    const port = await freePort();
    const down: Target = {
      kind: 'pushgateway',
      url: `http://127.0.0.1:${port}`,
      retries: 1,
      timeoutMs: 1000,
    };
    const e1 = (await outbox.enqueue(payload(1), [down])).entries[0]!;
    const e2 = (await outbox.enqueue(payload(2), [down])).entries[0]!;
    const calls: string[] = [];
    const report = await outbox.flush({
      sendOptions: { sleep: async () => {} },
      send: async (p, t, o) => {
        calls.push(p.text);
        await sendToTarget(p, t, o);
      },
    });
    assert.equal(calls.length, 1, 'the second entry must not be tried after the first failed');
    const reason = `gateway http://127.0.0.1:${port} unreachable after 2 attempts (connect ECONNREFUSED 127.0.0.1:${port})`;
    assert.deepEqual(
      report.pending.map((e) => [e.id, e.reason]),
      [
        [e1.id, reason],
        [e2.id, reason],
      ],
    );
    const [p1, p2] = await outbox.pending();
    assert.equal(p1!.attempts, 2);
    assert.equal(p1!.firstError, reason);
    assert.equal(p2!.attempts, 0);
  });

  it('moves a refused entry (type clash, 400) to dead/ and still sends the next ones', async () => {
    const dir = stateDir();
    const outbox = new Outbox({ stateDir: dir });
    // Another group already has outbox_clash as a counter; a gauge of that name is refused.
    await sendToTarget(
      { text: '# TYPE outbox_clash counter\noutbox_clash 1\n', job: 'other', grouping: {}, measuredAt: 0 },
      target,
    );
    const bad = (
      await outbox.enqueue(
        { ...payload(0, { instance: 'dl' }), text: '# TYPE outbox_clash gauge\noutbox_clash 5\n' },
        [target],
      )
    ).entries[0]!;
    const good = (await outbox.enqueue(payload(7, { instance: 'dl' }), [target])).entries[0]!;
    const report = await outbox.flush({});
    assert.equal(report.deadLettered.length, 1);
    assert.equal(report.deadLettered[0]!.id, bad.id);
    assert.equal(report.deadLettered[0]!.status, 400);
    assert.match(
      report.deadLettered[0]!.reason!,
      /^gateway http:\/\/127\.0\.0\.1:\d+ answered 400: .*inconsistent with existing metrics/,
    );
    assert.deepEqual(
      report.delivered.map((e) => e.id),
      [good.id],
    );
    assert.deepEqual(await gatewayValue(gw.url, { instance: 'dl' }), ['7']);
    const dead = await outbox.deadLetters();
    assert.equal(dead.length, 1);
    assert.equal(dead[0]!.id, bad.id);
    assert.equal(dead[0]!.status, 400);
    assert.match(dead[0]!.body!, /inconsistent with existing metrics/);
    assert.equal(dead[0]!.entry!.payload.text, '# TYPE outbox_clash gauge\noutbox_clash 5\n');
    assert.equal(statSync(dead[0]!.file).mode & 0o777, 0o600);
    assert.equal(report.remaining, 0);
  });

  it('drops the oldest entries past maxEntries and says so', async () => {
    const outbox = new Outbox({ stateDir: stateDir(), maxEntries: 3 });
    const ids: string[] = [];
    const dropped: string[] = [];
    const warnings: string[] = [];
    for (let v = 1; v <= 5; v++) {
      const r = await outbox.enqueue(payload(v, { instance: `b${v}` }), [target]);
      ids.push(r.entries[0]!.id);
      dropped.push(...r.dropped.map((e) => e.id));
      warnings.push(...r.warnings);
    }
    assert.deepEqual(dropped, [ids[0], ids[1]]);
    assert.equal(warnings.length, 2);
    assert.match(
      warnings[0]!,
      new RegExp(
        `^outbox full \\(limit 3 entries\\): dropped the oldest entry ${ids[0]} for pushgateway ${gw.url}, job outbox_test, enqueued \\d{4}-`,
      ),
    );
    assert.deepEqual(
      (await outbox.pending()).map((e) => e.id),
      ids.slice(2),
    );
  });

  it('drops the oldest entries past maxBytes, never the entry just stored', async () => {
    const dir = stateDir();
    const probe = new Outbox({ stateDir: dir });
    const one = (await probe.enqueue(payload(1, { instance: 'x1' }), [target])).entries[0]!;
    const size = statSync(join(dir, 'outbox', `${one.id}.json`)).size;
    const outbox = new Outbox({ stateDir: dir, maxBytes: size * 2 + 10 });
    const r2 = await outbox.enqueue(payload(2, { instance: 'x2' }), [target]);
    assert.deepEqual(r2.dropped, []);
    const r3 = await outbox.enqueue(payload(3, { instance: 'x3' }), [target]);
    assert.deepEqual(
      r3.dropped.map((e) => e.id),
      [one.id],
    );
    const tiny = new Outbox({ stateDir: dir, maxBytes: 10 });
    const r4 = await tiny.enqueue(payload(4, { instance: 'x4' }), [target]);
    assert.equal(r4.dropped.length, 2);
    assert.deepEqual(
      (await tiny.pending()).map((e) => e.id),
      [r4.entries[0]!.id],
    );
    assert.match(
      r4.warnings.at(-1)!,
      /^outbox over its limit \(1 entries, \d+ bytes\) with only this run's entries; kept them$/,
    );
  });

  it("moves torn and corrupt entries to dead/, removes dead writers' temp files, and goes on", async () => {
    const dir = stateDir();
    const outbox = new Outbox({ stateDir: dir });
    const torn = (await outbox.enqueue(payload(1, { instance: 'c' }), [target])).entries[0]!;
    const flipped = (await outbox.enqueue(payload(2, { instance: 'c' }), [target])).entries[0]!;
    const good = (await outbox.enqueue(payload(3, { instance: 'c' }), [target])).entries[0]!;
    const tornFile = join(outbox.dir, `${torn.id}.json`);
    truncateSync(tornFile, Math.floor(statSync(tornFile).size / 2));
    const flippedFile = join(outbox.dir, `${flipped.id}.json`);
    writeFileSync(
      flippedFile,
      readFileSync(flippedFile, 'utf8').replace('outbox_test_value 2', 'outbox_test_value 9'),
    );
    assert.deepEqual(
      (await outbox.pending()).map((e) => e.id),
      [good.id],
      'pending() lists only whole entries',
    );
    const deadTmp = join(outbox.dir, `.${good.id}.json.${deadPid()}.0a1b2c3d.tmp`);
    const liveTmp = join(outbox.dir, `.${good.id}.json.${process.ppid}.0a1b2c3d.tmp`);
    writeFileSync(deadTmp, '{"format":"resticprom-outbox/1","sha');
    writeFileSync(liveTmp, '{');

    const report = await outbox.flush({});
    assert.deepEqual(report.corrupt, [
      {
        file: tornFile,
        reason: `corrupt: not valid JSON (${statSync(join(outbox.deadDir, `${torn.id}.corrupt`)).size} bytes; torn or truncated write)`,
      },
      { file: flippedFile, reason: 'corrupt: checksum mismatch' },
    ]);
    assert.deepEqual(
      report.delivered.map((e) => e.id),
      [good.id],
    );
    assert.deepEqual(await gatewayValue(gw.url, { instance: 'c' }), ['3']);
    assert.equal(existsSync(deadTmp), false, "a dead writer's temp file must be removed");
    assert.equal(existsSync(liveTmp), true, "a live writer's temp file must stay");
    const dead = await outbox.deadLetters();
    assert.deepEqual(
      dead.map((d) => [d.id, d.reason, d.rawFile]),
      [
        [torn.id, report.corrupt[0]!.reason, join(outbox.deadDir, `${torn.id}.corrupt`)],
        [flipped.id, 'corrupt: checksum mismatch', join(outbox.deadDir, `${flipped.id}.corrupt`)],
      ],
    );
  });

  it('takes over the lock of a killed process', async () => {
    const dir = stateDir();
    const outbox = new Outbox({ stateDir: dir, lockTimeoutMs: 2000 });
    await outbox.pending();
    writeFileSync(
      join(outbox.dir, '.lock'),
      `${JSON.stringify({ pid: deadPid(), hostname: (await import('node:os')).hostname(), startedAt: 1, command: 'outbox delivery', token: 'x' })}\n`,
    );
    await outbox.enqueue(payload(1), [target]);
    assert.equal((await outbox.pending()).length, 1);
    assert.equal(existsSync(join(outbox.dir, '.lock')), false);
  });

  describe('credentials', () => {
    let authGw: RunningService;
    let tmp: string;
    before(async () => {
      tmp = stateDir();
      const web = join(tmp, 'web.yml');
      writeFileSync(web, `basic_auth_users:\n  backup: ${bcryptHash('gw-pass-4711')}\n`);
      authGw = await startPushgateway({ webConfigFile: web, skipReady: true });
    });
    after(async () => {
      await authGw.stop();
    });

    it('waits for an inline secret the caller did not pass, then sends with it', async () => {
      const outbox = new Outbox({ stateDir: stateDir() });
      const t: Target = {
        kind: 'pushgateway',
        url: authGw.url,
        retries: 0,
        basicAuth: { username: 'backup', password: { value: 'gw-pass-4711' } },
      };
      const e = (await outbox.enqueue(payload(21, { instance: 'auth' }), [t])).entries[0]!;
      const first = await outbox.flush({});
      assert.deepEqual(
        first.pending.map((x) => [x.id, x.reason]),
        [
          [
            e.id,
            `gateway ${authGw.url} needs the basic auth password from the caller (it was given inline and is not stored)`,
          ],
        ],
      );
      const second = await outbox.flush({
        credentials: (id) => (id === e.targetId ? { basicAuth: t.basicAuth! } : undefined),
      });
      assert.deepEqual(
        second.delivered.map((x) => x.id),
        [e.id],
      );
      const groups = await gatewayGroups(authGw.url, {
        headers: { Authorization: `Basic ${Buffer.from('backup:gw-pass-4711').toString('base64')}` },
      });
      const g = groups.find((x) => x.labels.instance === 'auth');
      assert.deepEqual(g && groupValues(g, 'outbox_test_value').map((m) => m.value), ['21']);
    });

    it('keeps an environment reference, reads it only for a target of the flush, sends once it is set', async () => {
      const outbox = new Outbox({ stateDir: stateDir() });
      const t: Target = {
        kind: 'pushgateway',
        url: authGw.url,
        retries: 0,
        basicAuth: { username: 'backup', password: { env: 'TEST_GW_PASSWORD' } },
      };
      const e = (await outbox.enqueue(payload(22, { instance: 'env' }), [t])).entries[0]!;
      assert.deepEqual(e.secretsFromCaller, []);
      assert.ok(!readFileSync(join(outbox.dir, `${e.id}.json`), 'utf8').includes('gw-pass-4711'));
      const env = { TEST_GW_PASSWORD: 'gw-pass-4711' };
      // The entry's word alone does not make a flush read a variable.
      const unknown = await outbox.flush({ sendOptions: { env } });
      assert.equal(
        unknown.pending[0]!.reason,
        `gateway ${authGw.url} waits: its basic auth password variable TEST_GW_PASSWORD is read only for a destination of the config or flags of this flush (flush with them, or drop the entry)`,
      );
      const unset = await outbox.flush({ targets: [t], sendOptions: { env: {} } });
      assert.equal(
        unset.pending[0]!.reason,
        `gateway ${authGw.url}: basic auth password: environment variable TEST_GW_PASSWORD is not set`,
      );
      const second = await outbox.flush({ targets: [t], sendOptions: { env } });
      assert.deepEqual(
        second.delivered.map((x) => x.id),
        [e.id],
      );
    });
  });
});
