/**
 * The outbox's backlog as the status views read it: entries waiting and dead letters,
 * the destinations whose deliveries are failing (a real send to a closed port), and the
 * daemon's reader, which reads an unchanged outbox only once and sees every change.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { BacklogReader, failingDestinations, readBacklog } from '../../src/sinks/outbox/backlog.js';
import { pushKey } from '../../src/sinks/outbox/policy.js';
import { Outbox } from '../../src/sinks/outbox.js';
import type { MetricsPayload, Target } from '../../src/sinks/types.js';
import { freePort, makeTempDir } from '../helpers/services.js';

const temps: Array<() => void> = [];
after(() => {
  for (const c of temps) c();
});

const T0 = Date.UTC(2024, 5, 15, 9);
const payload = (tier: string): MetricsPayload => ({
  text: 'restic_backup_status 2\n',
  job: 'restic_backup',
  grouping: { instance: 'h', profile: 'nfs', tier },
  method: 'post',
  measuredAt: T0,
});

/** Sets the modification time of the outbox folders back, as if nothing had changed for a minute. */
function settle(stateDir: string): void {
  const past = new Date(Date.now() - 60_000);
  for (const d of ['outbox', 'outbox/dead']) utimesSync(join(stateDir, d), past, past);
}

describe('outbox backlog', () => {
  it('is empty without an outbox folder', async () => {
    const t = makeTempDir('resticprom-backlog-');
    temps.push(t.cleanup);
    assert.deepEqual(await readBacklog(t.dir), { pending: [], dead: [] });
  });

  it('leaves out what is no entry of ours, without following a link or blocking on a FIFO', async () => {
    const t = makeTempDir('resticprom-backlog-');
    temps.push(t.cleanup);
    const outbox = new Outbox({ stateDir: t.dir });
    const target: Target = { kind: 'pushgateway', url: 'http://127.0.0.1:9' };
    const [entry] = (await outbox.enqueue(payload('daily'), [target])).entries;
    const dir = join(t.dir, 'outbox');
    symlinkSync('/etc/passwd', join(dir, '1718442000000-000001-0123abcd.json'));
    execFileSync('mkfifo', [join(dir, '1718442000000-000002-0123abcd.json')]);
    writeFileSync(join(dir, '1718442000000-000003-0123abcd.json'), '{"torn":');
    const b = await readBacklog(t.dir);
    assert.deepEqual(
      b.pending.map((e) => e.id),
      [entry?.id],
    );
    // Nothing was moved: the next flush quarantines them and says so.
    assert.equal(readdirSync(dir).filter((n) => n.endsWith('.json')).length, 4);
  });

  it('names the failing destination, how many wait since when, and the last attempt', async () => {
    const t = makeTempDir('resticprom-backlog-');
    temps.push(t.cleanup);
    const down = await freePort();
    const target: Target = {
      kind: 'pushgateway',
      url: `http://127.0.0.1:${down}`,
      retries: 0,
      timeoutMs: 2000,
    };
    const other: Target = { kind: 'textfile', path: join(t.dir, 'never-tried.prom') };
    const at = (ms: number) => new Outbox({ stateDir: t.dir, now: () => T0 + ms });
    await at(0).enqueue(payload('daily'), [target]);
    await at(60_000).enqueue(payload('weekly'), [target]);
    // Waits, never tried: not failing.
    await at(90_000).store(payload('daily'), [other]);
    await at(100_000).deadLetter(payload('monthly'), target, { reason: 'refused', status: 400 });
    // Something in dead/ that was no entry.
    writeFileSync(join(t.dir, 'outbox', 'stray.txt'), 'x');
    await at(120_000)
      .flush({ targets: [target] })
      .catch(() => {});
    const b = await readBacklog(t.dir);
    assert.deepEqual(
      b.pending.map((e) => [e.destination, e.pushKey, e.enqueuedAt, e.lastAttemptAt ?? null]),
      [
        [
          `gateway http://127.0.0.1:${down}`,
          pushKey('restic_backup', payload('daily').grouping),
          T0,
          T0 + 120_000,
        ],
        [
          `gateway http://127.0.0.1:${down}`,
          pushKey('restic_backup', payload('weekly').grouping),
          T0 + 60_000,
          null,
        ],
      ],
    );
    // The textfile was written by the flush; the stray file was moved to dead/ beside the refused entry.
    assert.deepEqual(b.dead, [pushKey('restic_backup', payload('monthly').grouping), undefined]);
    assert.deepEqual(failingDestinations(b.pending), [
      {
        destination: `gateway http://127.0.0.1:${down}`,
        pending: 2,
        since: T0,
        lastAttemptAt: T0 + 120_000,
        lastError: `gateway http://127.0.0.1:${down} unreachable after 1 attempt (connect ECONNREFUSED 127.0.0.1:${down})`,
      },
    ]);
  });

  it('is read again by the daemon’s reader only when the outbox changed', async () => {
    const t = makeTempDir('resticprom-backlog-');
    temps.push(t.cleanup);
    const outbox = new Outbox({ stateDir: t.dir });
    const target: Target = { kind: 'pushgateway', url: `http://127.0.0.1:${await freePort()}` };
    await outbox.enqueue(payload('daily'), [target]);
    const reader = new BacklogReader(t.dir);
    // Just changed: read each time (another change may share the folder's time stamp).
    const fresh = await reader.read();
    assert.notEqual(await reader.read(), fresh);
    settle(t.dir);
    const first = await reader.read();
    assert.equal(first.pending.length, 1);
    assert.equal(await reader.read(), first, 'unchanged: the same answer, not read again');
    // Each change the outbox makes is seen: an entry stored, moved to dead/, removed.
    await outbox.enqueue(payload('weekly'), [target]);
    assert.equal((await reader.read()).pending.length, 2);
    settle(t.dir);
    const [oldest] = (await reader.read()).pending;
    await outbox.deadLetter(payload('monthly'), target, { reason: 'refused' });
    assert.deepEqual((await reader.read()).dead.length, 1);
    settle(t.dir);
    await reader.read();
    assert.equal(await outbox.drop(oldest?.id ?? ''), 'pending');
    assert.equal((await reader.read()).pending.length, 1);
  });
});
