/**
 * What `planRequeues` decides for each destination kind and each state of the outbox: the
 * group's state as of the last recorded run, at that run's end time, for a Pushgateway, a
 * remote-write endpoint and a textfile alike; nothing while an entry of that run, or of a run
 * still being recorded, waits; nothing once confirmed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OutboxEntry } from '../../src/sinks/outbox/entry.js';
import { planRequeues, type RequeueInputs } from '../../src/sinks/outbox/requeue.js';
import type { LatestMetricsEntry } from '../../src/state/latest.js';

const STATE = '/var/lib/resticprom';
const latest: LatestMetricsEntry = {
  v: 1,
  kind: 'backup',
  profile: 'nfs',
  tier: 'daily',
  job: 'nfs_backup',
  grouping: { instance: 'daily' },
  text: '# TYPE restic_backup_end_timestamp_seconds gauge\nrestic_backup_end_timestamp_seconds 300\n',
  savedAt: 300_100,
  runId: 'run-3',
  before: { runId: 'run-2', text: 'restic_backup_end_timestamp_seconds 200\n', savedAt: 200_100 },
};
const destinations = [
  { kind: 'pushgateway' as const, urls: ['http://gw:9091'] },
  { kind: 'remote-write' as const, url: 'http://prom:9090/api/v1/write' },
  { kind: 'textfile' as const, path: '/var/lib/node_exporter/nfs.prom' },
];
const inputs = (over: Partial<RequeueInputs> = {}): RequeueInputs => ({
  stateDir: STATE,
  latest: [latest],
  lastRuns: [
    { kind: 'backup', profile: 'nfs', tier: 'daily', job: 'nfs_backup', id: 'run-3', endedAt: 300_000 },
  ],
  confirmations: {},
  pending: [],
  waiting: new Set(),
  source: () => ({ job: 'nfs_backup', grouping: { instance: 'daily' }, destinations }),
  ...over,
});
const pendingFor = (targetId: string, kind: string, runId: string): OutboxEntry =>
  ({
    id: '1795598215470-000002-9a0b1c2d',
    targetId,
    target: { kind },
    payload: { text: '', job: 'nfs_backup', grouping: { instance: 'daily' }, method: 'post', measuredAt: 0 },
    enqueuedAt: 0,
    attempts: 1,
    secretsFromCaller: [],
    runId,
  }) as unknown as OutboxEntry;

describe('planRequeues', () => {
  it('re-queues the last recorded run for every destination kind: a POST of its state at its end time', () => {
    const plan = planRequeues(inputs());
    assert.deepEqual(plan.warnings, []);
    assert.deepEqual(
      plan.requeues.map((r) => [
        r.target.kind,
        r.runId,
        r.payload.method,
        r.payload.measuredAt,
        r.payload.text,
      ]),
      [
        ['pushgateway', 'run-3', 'post', 300_000, latest.text],
        ['remote-write', 'run-3', 'post', 300_000, latest.text],
        ['textfile', 'run-3', 'post', 300_000, latest.text],
      ],
    );
    assert.deepEqual(plan.requeues[0]?.runScope, { kind: 'backup', profile: 'nfs', tier: 'daily' });
  });

  it('takes the state before an unrecorded newer run: never that run', () => {
    const plan = planRequeues(
      inputs({
        lastRuns: [
          { kind: 'backup', profile: 'nfs', tier: 'daily', job: 'nfs_backup', id: 'run-2', endedAt: 200_000 },
        ],
      }),
    );
    assert.deepEqual(
      plan.requeues.map((r) => [r.runId, r.payload.text, r.payload.measuredAt]),
      destinations.map(() => ['run-2', latest.before?.text, 200_000]),
    );
  });

  it('skips a destination that confirmed the run, or where an entry of it or of a run still being recorded waits', () => {
    const gw = 'pushgateway http://gw:9091';
    const rw = 'remote-write http://prom:9090/api/v1/write';
    const waitingWriter = { ...pendingFor(rw, 'remote-write', 'run-4'), id: '1795598215471-000003-aa00bb11' };
    const plan = planRequeues(
      inputs({
        confirmations: { [gw]: { 'backup--nfs--daily': { runId: 'run-3', at: 1 } } },
        pending: [pendingFor('textfile /var/lib/node_exporter/nfs.prom', 'textfile', 'run-3'), waitingWriter],
        waiting: new Set([waitingWriter.id]),
      }),
    );
    assert.deepEqual(plan.requeues, []);
  });

  it('an older confirmation is no confirmation; a route to another group or none re-queues nothing', () => {
    const old = planRequeues(
      inputs({
        confirmations: { 'pushgateway http://gw:9091': { 'backup--nfs--daily': { runId: 'run-2', at: 1 } } },
      }),
    );
    assert.equal(old.requeues.length, 3);
    assert.deepEqual(planRequeues(inputs({ source: () => undefined })).requeues, []);
    const moved = planRequeues(
      inputs({ source: () => ({ job: 'nfs_backup', grouping: { instance: 'nightly' }, destinations }) }),
    );
    assert.deepEqual(moved.requeues, []);
  });

  it('says so when the latest metrics hold neither the run nor the state before it', () => {
    const plan = planRequeues(
      inputs({
        lastRuns: [
          { kind: 'backup', profile: 'nfs', tier: 'daily', job: 'nfs_backup', id: 'run-1', endedAt: 100_000 },
        ],
        source: () => ({
          job: 'nfs_backup',
          grouping: { instance: 'daily' },
          destinations: destinations.slice(0, 1),
        }),
      }),
    );
    assert.deepEqual(plan.requeues, []);
    assert.deepEqual(plan.warnings, [
      'run run-1 of backup nfs/daily was not confirmed delivered to pushgateway http://gw:9091, but cannot be re-queued: the latest metrics hold run run-3',
    ]);
  });
});
