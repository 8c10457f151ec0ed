/**
 * `resticprom notify test`: one test event to every receiver (profile's and tiers'),
 * one line per receiver saying what answered; exit 1 when one did not take it. The
 * test event never changes a dead man's switch: Healthchecks gets `/log`.
 * `resticprom notify flush`: the queued notifications go now; what still fails waits.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { loadConfig } from '../../src/config/index.js';
import { queueNotification } from '../../src/notify/queue.js';
import { allReceivers } from '../../src/notify/receivers.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { makeTempDir } from '../helpers/services.js';

describe('resticprom notify test', () => {
  const tmp = makeTempDir('resticprom-notify-test-');
  let up: Receiver;
  let failing: Receiver;

  before(async () => {
    await ensureBuilt();
    up = await startReceiver();
    failing = await startReceiver();
    failing.status = 500;
    failing.answer = 'internal trouble';
  });
  after(async () => {
    await up.stop();
    await failing.stop();
    tmp.cleanup();
  });

  it('says per receiver what answered and exits 1 when one did not take it', async () => {
    const file = join(tmp.dir, 'r.yaml');
    writeFileSync(
      file,
      `state-dir: ${join(tmp.dir, 'state')}
hostname: h1
profiles:
  nfs:
    repository: /srv/repo
    password-file: /etc/resticprom/nfs.pass
    paths: [/srv/nfs]
    notifications:
      - { type: healthchecks, url: "${up.url}/ping/u1" }
    tiers:
      daily:
        schedule: "30 1 * * *"
        notifications:
          - { type: slack, url: "${failing.url}/services/x", retries: 0 }
  other:
    repository: /srv/repo2
    password-file: /etc/resticprom/nfs.pass
    paths: [/srv/x]
    tiers:
      daily: { schedule: "30 1 * * *" }
`,
      { mode: 0o600 },
    );
    const r = await runCli(['notify', 'test', '--config', file]);
    assert.equal(r.code, ExitCode.FAILURE, r.stderr);
    assert.equal(
      r.stdout,
      `healthchecks 127.0.0.1:${up.port} (profiles.nfs.notifications[0]): answered 200: OK\n` +
        `slack 127.0.0.1:${failing.port} (profiles.nfs.tiers.daily.notifications[0]): not delivered: answered 500: internal trouble\n`,
    );
    assert.equal(up.requests.length, 1);
    const u = new URL(up.requests[0]?.url ?? '', 'http://x');
    assert.equal(u.pathname, '/ping/u1/log');
    assert.match(up.requests[0]?.body ?? '', /^resticprom backup nfs: test/);
    const slack = JSON.parse(failing.requests[0]?.body ?? '{}') as { text: string };
    assert.equal(slack.text, '[test] resticprom notifications for backup nfs/daily on h1');

    const only = await runCli(['notify', 'test', '--config', file, '--profile', 'other']);
    assert.equal(only.code, ExitCode.OK);
    assert.equal(only.stdout, 'no notification receivers are configured\n');

    // notify flush: what waits in the outbox goes now, oldest first per receiver.
    const { config } = await loadConfig({ file });
    const receivers = [...allReceivers(config).values()];
    const message = {
      event: 'failure' as const,
      at: Date.UTC(2026, 0, 2, 3, 4, 5),
      run: {
        runId: 'run-1',
        kind: 'backup' as const,
        profile: 'nfs',
        tier: 'daily',
        host: 'h1',
        configFile: file,
        startedAt: 0,
        outcome: 'failed' as const,
      },
    };
    for (const r of receivers) await queueNotification(join(tmp.dir, 'state'), r, message);
    up.requests.length = 0;
    const flushed = await runCli(['notify', 'flush', '--config', file]);
    assert.equal(flushed.code, ExitCode.TEMPFAIL, flushed.stderr);
    assert.equal(
      flushed.stdout,
      '1 queued notification(s) delivered\n' +
        `still waiting: slack 127.0.0.1:${failing.port} (profiles.nfs.tiers.daily.notifications[0]) answered 500: internal trouble\n`,
    );
    assert.equal(new URL(up.requests[0]?.url ?? '', 'http://x').pathname, '/ping/u1/fail');
    failing.status = 200;
    const again = await runCli(['notify', 'flush', '--config', file]);
    assert.equal(again.code, ExitCode.OK, again.stderr);
    assert.equal(again.stdout, '1 queued notification(s) delivered\n');
  });
});
