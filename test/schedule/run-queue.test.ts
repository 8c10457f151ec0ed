import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ActiveRun,
  createRunQueue,
  findCatchUpRuns,
  type RunQueueEvent,
  type RunQueueOptions,
  type Slot,
  slotName,
} from '../../src/schedule/run-queue.js';

/** A run the test ends by hand. */
interface Held {
  run: ActiveRun;
  end: () => void;
  fail: (err: Error) => void;
}

/** A queue whose runs wait until the test ends them; repositories by profile (`a1`, `a2` share `a`). */
function harness(extra: Partial<RunQueueOptions> = {}) {
  const events: string[] = [];
  const held: Held[] = [];
  let clock = 1000;
  const timers: { fn: () => void; ms: number; isCancelled: boolean }[] = [];
  const queue = createRunQueue({
    repositoryOf: (s) => s.profile.slice(0, 1),
    run: (run) =>
      new Promise<void>((resolve, reject) => {
        held.push({ run, end: resolve, fail: reject });
      }),
    now: () => clock,
    setTimer: (fn, ms) => {
      const t = { fn, ms, isCancelled: false };
      timers.push(t);
      return () => {
        t.isCancelled = true;
      };
    },
    onEvent: (e: RunQueueEvent) => events.push(describeEvent(e)),
    ...extra,
  });
  return {
    queue,
    events,
    held,
    timers,
    tick: (ms: number) => {
      clock += ms;
    },
    /** Ends the held run of a slot, then lets the queue start the next. */
    end: async (name: string) => {
      const h = held.find((x) => slotName(x.run) === name);
      assert.ok(h, `${name} is running (running: ${held.map((x) => slotName(x.run)).join(', ')})`);
      held.splice(held.indexOf(h), 1);
      h.end();
      await flush();
    },
  };
}

function describeEvent(e: RunQueueEvent): string {
  switch (e.type) {
    case 'skipped':
      return `skipped ${slotName(e.run)} (${e.isRunning ? 'running' : 'queued'})`;
    case 'waiting':
      return `waiting ${slotName(e.run)} behind ${slotName(e.behind)}`;
    case 'started':
      return `started ${slotName(e.run)} ${e.run.trigger} at ${e.run.startedAt}`;
    case 'dropped':
      return `dropped ${slotName(e.run)} (${e.reason})`;
    case 'crashed':
      return `crashed ${slotName(e.run)}: ${(e.error as Error).message}`;
    case 'stopping':
      return `stopping ${e.running.map(slotName).join(', ')} grace ${e.graceMs}`;
    case 'interrupting':
      return `interrupting ${slotName(e.run)}`;
  }
}

const flush = () => new Promise((r) => setImmediate(r));
const backup = (profile: string, tier: string): Slot => ({ job: 'backup', profile, tier });
const check = (profile: string): Slot => ({ job: 'check', profile });

describe('run queue', () => {
  it('runs one run at a time per repository, in the order asked, and repositories side by side', async () => {
    const h = harness();
    assert.equal(h.queue.enqueue(backup('a1', 'daily'), 'schedule'), true);
    h.tick(5);
    assert.equal(h.queue.enqueue(check('a2'), 'schedule'), true);
    assert.equal(h.queue.enqueue(backup('b1', 'daily'), 'missed'), true);
    assert.equal(h.queue.enqueue(backup('a1', 'weekly'), 'schedule'), true);
    assert.deepEqual(h.events, [
      'started backup a1/daily schedule at 1000',
      'waiting check a2 behind backup a1/daily',
      'started backup b1/daily missed at 1005',
      'waiting backup a1/weekly behind backup a1/daily',
    ]);
    assert.deepEqual(
      h.queue.running().map((r) => slotName(r)),
      ['backup a1/daily', 'backup b1/daily'],
    );
    assert.equal(h.queue.isRunning(backup('a1', 'daily')), true);
    assert.equal(h.queue.isQueued(check('a2')), true);
    assert.equal(h.queue.isQueued(backup('a1', 'daily')), false);

    h.events.length = 0;
    h.tick(10);
    await h.end('backup a1/daily');
    assert.deepEqual(h.events, ['started check a2 schedule at 1015']);
    await h.end('check a2');
    await h.end('backup a1/weekly');
    await h.end('backup b1/daily');
    assert.deepEqual(h.queue.running(), []);
    assert.equal(h.held.length, 0);
  });

  it('skips a slot already running or queued and counts it, per slot', async () => {
    const h = harness();
    h.queue.enqueue(backup('a1', 'daily'), 'schedule');
    h.queue.enqueue(check('a1'), 'schedule');
    assert.equal(h.queue.enqueue(backup('a1', 'daily'), 'schedule'), false);
    assert.equal(h.queue.enqueue(check('a1'), 'missed'), false);
    assert.equal(h.queue.enqueue(check('a1'), 'schedule'), false);
    assert.deepEqual(h.events.slice(2), [
      'skipped backup a1/daily (running)',
      'skipped check a1 (queued)',
      'skipped check a1 (queued)',
    ]);
    assert.equal(h.queue.skippedCount(backup('a1', 'daily')), 1);
    assert.equal(h.queue.skippedCount(check('a1')), 2);
    assert.equal(h.queue.skippedCount(backup('a1', 'weekly')), 0);
    // Same profile, another tier: another slot.
    assert.equal(h.queue.enqueue(backup('a1', 'weekly'), 'schedule'), true);

    await h.end('backup a1/daily');
    // Once it ended, the slot runs again when asked.
    assert.equal(h.queue.enqueue(backup('a1', 'daily'), 'schedule'), true);
    h.queue.retainSkipCounts([check('a1')]);
    assert.equal(h.queue.skippedCount(backup('a1', 'daily')), 0);
    assert.equal(h.queue.skippedCount(check('a1')), 2);
  });

  it('drops a queued run that is no longer runnable when its turn comes, and starts the next', async () => {
    const removed = new Set<string>();
    const h = harness({ isRunnable: (s) => !removed.has(slotName(s)) });
    h.queue.enqueue(backup('a1', 'daily'), 'schedule');
    h.queue.enqueue(check('a1'), 'schedule');
    h.queue.enqueue(backup('a1', 'weekly'), 'schedule');
    removed.add('check a1');
    h.events.length = 0;
    await h.end('backup a1/daily');
    assert.deepEqual(h.events, ['dropped check a1 (removed)', 'started backup a1/weekly schedule at 1000']);
  });

  it('goes on after a runner that throws, reporting it', async () => {
    const h = harness();
    h.queue.enqueue(backup('a1', 'daily'), 'schedule');
    h.queue.enqueue(check('a1'), 'schedule');
    h.held[0]?.fail(new Error('boom'));
    await flush();
    assert.deepEqual(h.events.slice(2), [
      'crashed backup a1/daily: boom',
      'started check a1 schedule at 1000',
    ]);
  });

  it('stops: drops what waits, lets what runs finish within the grace period', async () => {
    const h = harness();
    h.queue.enqueue(backup('a1', 'daily'), 'schedule');
    h.queue.enqueue(check('a1'), 'schedule');
    h.events.length = 0;
    let isStopped = false;
    const stopping = h.queue.stop(30_000).then(() => {
      isStopped = true;
    });
    assert.equal(h.queue.isStopping, true);
    assert.equal(h.queue.enqueue(backup('b1', 'daily'), 'schedule'), false);
    assert.deepEqual(h.events, ['dropped check a1 (stopping)', 'stopping backup a1/daily grace 30000']);
    assert.equal(h.timers[0]?.ms, 30_000);
    await flush();
    assert.equal(isStopped, false);
    const signal = h.held[0]?.run.signal;
    await h.end('backup a1/daily');
    await stopping;
    assert.equal(isStopped, true);
    assert.equal(signal?.aborted, false, 'finished within the grace period: not interrupted');
    assert.equal(h.timers[0]?.isCancelled, true);
    assert.equal(h.held.length, 0, 'the dropped check never started');
  });

  it('interrupts a run still going when the grace period is over, and waits for it to end', async () => {
    const h = harness();
    h.queue.enqueue(backup('a1', 'daily'), 'schedule');
    h.queue.enqueue(backup('b1', 'daily'), 'schedule');
    const [a, b] = h.held;
    let isStopped = false;
    const stopping = h.queue.stop(1000).then(() => {
      isStopped = true;
    });
    await h.end('backup b1/daily');
    h.events.length = 0;
    h.timers[0]?.fn();
    await flush();
    assert.deepEqual(h.events, ['interrupting backup a1/daily']);
    assert.equal(a?.run.signal.aborted, true);
    assert.equal(a?.run.signal.reason, 'SIGINT');
    assert.equal(b?.run.signal.aborted, false);
    assert.equal(isStopped, false, 'waits for the interrupted run to be recorded');
    await h.end('backup a1/daily');
    await stopping;
    assert.equal(isStopped, true);
  });

  it('a second stop interrupts at once', async () => {
    const h = harness();
    h.queue.enqueue(backup('a1', 'daily'), 'schedule');
    const first = h.queue.stop(300_000);
    const signal = h.held[0]?.run.signal;
    assert.equal(signal?.aborted, false);
    const second = h.queue.stop(300_000);
    assert.equal(signal?.aborted, true);
    await h.end('backup a1/daily');
    await Promise.all([first, second]);
    assert.equal(h.events.filter((e) => e.startsWith('stopping')).length, 1);
  });

  it('stops at once when nothing runs', async () => {
    const h = harness();
    await h.queue.stop(300_000);
    assert.deepEqual(h.events, []);
    assert.equal(h.timers.length, 0);
  });
});

describe('catch-up of missed runs', () => {
  const at = (iso: string) => Date.parse(iso);
  it('names the tiers whose last run is older than their latest scheduled time, with that time', () => {
    const now = at('2026-12-02T10:30:00Z');
    const missed = findCatchUpRuns(
      [
        // Ran at 09:00 for the 09:00 slot: the 10:00 slot was missed.
        { profile: 'nfs', tier: 'hourly', schedule: '0 * * * *', lastRunAt: at('2026-12-02T09:00:02Z') },
        // Ran after its latest slot: nothing missed.
        { profile: 'nfs', tier: 'daily', schedule: '30 1 * * *', lastRunAt: at('2026-12-02T01:30:05Z') },
        // Never ran: nothing to catch up (the first start does not run every tier at once).
        { profile: 'nfs', tier: 'weekly', schedule: '0 3 * * 0', lastRunAt: undefined },
        { profile: 'db', tier: 'daily', schedule: '30 1 * * *', lastRunAt: at('2026-11-30T01:30:00Z') },
      ],
      now,
      'UTC',
    );
    assert.deepEqual(missed, [
      { slot: { job: 'backup', profile: 'nfs', tier: 'hourly' }, missedAt: at('2026-12-02T10:00:00Z') },
      { slot: { job: 'backup', profile: 'db', tier: 'daily' }, missedAt: at('2026-12-02T01:30:00Z') },
    ]);
  });

  it('reads the schedule in the time zone given', () => {
    const now = at('2026-12-02T10:30:00Z');
    // 11:00 in Berlin is 10:00 UTC.
    const tiers = [
      { profile: 'p', tier: 't', schedule: '0 11 * * *', lastRunAt: at('2026-12-01T11:00:00Z') },
    ];
    assert.deepEqual(
      findCatchUpRuns(tiers, now, 'Europe/Berlin').map((m) => new Date(m.missedAt).toISOString()),
      ['2026-12-02T10:00:00.000Z'],
    );
    assert.deepEqual(findCatchUpRuns(tiers, now, 'UTC'), []);
  });
});
