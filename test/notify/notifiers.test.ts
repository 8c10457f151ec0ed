/**
 * Each receiver type's request, as its service documents it, checked at a local
 * receiver: method, path and query, headers, body. Healthchecks:
 * https://healthchecks.io/docs/http_api/; ntfy: https://docs.ntfy.sh/publish/; Gotify:
 * https://gotify.net/api-docs#/message/createMessage; Slack:
 * https://api.slack.com/messaging/webhooks; Discord:
 * https://discord.com/developers/docs/resources/webhook#execute-webhook; Uptime Kuma
 * push monitors (GET ?status=up|down&msg=&ping=); Cronitor's telemetry API
 * (https://cronitor.io/docs/telemetry-api).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { NotificationConfig } from '../../src/config/types.js';
import type { Receiver as ConfiguredReceiver } from '../../src/notify/receivers.js';
import { NotifyError, sendToReceiver } from '../../src/notify/send.js';
import type { NotificationMessage } from '../../src/notify/types.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { makeTempDir } from '../helpers/services.js';

const RUN_ID = '0d6c2f0e-3c4b-4a59-9d59-0123456789ab';
const AT = Date.UTC(2026, 0, 2, 3, 4, 5);

function message(
  event: NotificationMessage['event'],
  extra: Partial<NotificationMessage['run']> = {},
): NotificationMessage {
  return {
    event,
    at: AT,
    run: {
      runId: RUN_ID,
      kind: 'backup',
      profile: 'nfs',
      tier: 'daily',
      host: 'host1',
      configFile: '/etc/resticprom/resticprom.yaml',
      startedAt: AT - 65_000,
      ...extra,
    },
  };
}

const FAILED = {
  outcome: 'failed' as const,
  exitCode: 12,
  reason: 'wrong-password',
  error: 'restic backup failed: wrong repository password',
  endedAt: AT,
  durationMs: 1500,
  outputTail: 'Fatal: wrong password or no key found',
};
const GOOD = {
  outcome: 'success' as const,
  exitCode: 0,
  endedAt: AT,
  durationMs: 65_000,
  snapshotId: '1a2b3c4d5e6f',
  filesNew: 3,
  filesChanged: 2,
  bytesAdded: 2048,
  bytesProcessed: 10_000,
};

describe('notifiers send each service its documented request', () => {
  let rx: Receiver;
  const tmp = makeTempDir('resticprom-notifiers-');
  const tokenFile = join(tmp.dir, 'token');

  const receiver = (
    config: Partial<NotificationConfig> & Pick<NotificationConfig, 'type'>,
  ): ConfiguredReceiver => ({
    key: 'nfs//0/test',
    label: `${config.type} test`,
    config: {
      for: ['backup'],
      on: ['start', 'success', 'warning', 'failure'],
      headers: {},
      url: { value: rx.url },
      ...config,
    },
  });
  const last = () => {
    const r = rx.requests.at(-1);
    assert.ok(r, 'the receiver got a request');
    return r;
  };

  before(async () => {
    rx = await startReceiver();
    writeFileSync(tokenFile, 'tk-secret-value\n', { mode: 0o600 });
  });
  after(async () => {
    await rx.stop();
    tmp.cleanup();
  });

  it('healthchecks: /start, plain, exit status form for a warning, /fail, rid, body; /log for a test', async () => {
    const r = receiver({ type: 'healthchecks', url: { value: `${rx.url}/ping/abc` } });
    await sendToReceiver(r, message('start'));
    assert.equal(last().method, 'POST');
    assert.equal(last().url, `/ping/abc/start?rid=${RUN_ID}`);
    assert.equal(last().body, '');
    await sendToReceiver(r, message('success', GOOD));
    assert.equal(last().url, `/ping/abc?rid=${RUN_ID}`);
    assert.equal(last().body, 'resticprom backup nfs/daily: success');
    await sendToReceiver(r, message('warning', { ...GOOD, outcome: 'warning', exitCode: 3 }));
    assert.equal(last().url, `/ping/abc/3?rid=${RUN_ID}`);
    await sendToReceiver(r, message('failure', FAILED));
    assert.equal(last().url, `/ping/abc/fail?rid=${RUN_ID}`);
    assert.equal(
      last().body,
      'resticprom backup nfs/daily: failed\nrestic backup failed: wrong repository password\nFatal: wrong password or no key found',
    );
    assert.equal(last().headers['content-type'], 'text/plain; charset=utf-8');
    await sendToReceiver(r, { ...message('success'), isTest: true });
    assert.equal(last().url, `/ping/abc/log?rid=${RUN_ID}`);
  });

  it('healthchecks style uptime-kuma: GET with status, msg and ping; nothing for start', async () => {
    const r = receiver({
      type: 'healthchecks',
      style: 'uptime-kuma',
      url: { value: `${rx.url}/api/push/Tk1` },
    });
    const before = rx.requests.length;
    assert.equal(await sendToReceiver(r, message('start')), undefined);
    assert.equal(rx.requests.length, before);
    await sendToReceiver(r, message('failure', FAILED));
    const u = new URL(last().url, 'http://x');
    assert.equal(last().method, 'GET');
    assert.equal(u.pathname, '/api/push/Tk1');
    assert.equal(u.searchParams.get('status'), 'down');
    assert.equal(
      u.searchParams.get('msg'),
      'resticprom backup nfs/daily: failed: restic backup failed: wrong repository password',
    );
    assert.equal(u.searchParams.get('ping'), '1500');
    await sendToReceiver(r, message('success', GOOD));
    assert.equal(new URL(last().url, 'http://x').searchParams.get('status'), 'up');
  });

  it('healthchecks style cronitor: GET with state run/complete/fail, series, status_code', async () => {
    const r = receiver({
      type: 'healthchecks',
      style: 'cronitor',
      url: { value: `${rx.url}/p/KEY/nfs-backup` },
    });
    await sendToReceiver(r, message('start'));
    let u = new URL(last().url, 'http://x');
    assert.equal(last().method, 'GET');
    assert.equal(u.pathname, '/p/KEY/nfs-backup');
    assert.equal(u.searchParams.get('state'), 'run');
    assert.equal(u.searchParams.get('series'), RUN_ID);
    await sendToReceiver(r, message('failure', FAILED));
    u = new URL(last().url, 'http://x');
    assert.equal(u.searchParams.get('state'), 'fail');
    assert.equal(u.searchParams.get('status_code'), '12');
    assert.equal(u.searchParams.get('duration'), '1.500');
  });

  it('webhook: the run as JSON, or a Liquid template over the same fields', async () => {
    await sendToReceiver(
      receiver({ type: 'webhook', url: { value: `${rx.url}/hook` } }),
      message('failure', FAILED),
    );
    assert.equal(last().method, 'POST');
    assert.equal(last().url, '/hook');
    assert.equal(last().headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(last().body), {
      event: 'failure',
      time: '2026-01-02T03:04:05.000Z',
      title: 'backup nfs/daily on host1 failed',
      text: 'restic backup failed: wrong repository password\nreason wrong-password, exit code 12, took 1.5s\nat 2026-01-02T03:04:05.000Z',
      test: false,
      run: {
        id: RUN_ID,
        kind: 'backup',
        profile: 'nfs',
        tier: 'daily',
        host: 'host1',
        outcome: 'failed',
        exitCode: 12,
        reason: 'wrong-password',
        error: 'restic backup failed: wrong repository password',
        snapshotId: null,
        startedAt: '2026-01-02T03:03:00.000Z',
        endedAt: '2026-01-02T03:04:05.000Z',
        durationSeconds: 1.5,
        filesNew: null,
        filesChanged: null,
        bytesAdded: null,
        bytesProcessed: null,
      },
    });
    const body =
      '{"text": {{ title | json }}, "err": {{ run.error | json }}, "who": "{{ run.profile }}/{{ run.tier }}"}';
    await sendToReceiver(
      receiver({
        type: 'webhook',
        url: { value: `${rx.url}/tpl` },
        body,
        headers: { Authorization: { file: tokenFile } },
      }),
      message('failure', { ...FAILED, error: 'a "quoted"\nline' }),
    );
    assert.equal(last().headers.authorization, 'tk-secret-value');
    assert.deepEqual(JSON.parse(last().body), {
      text: 'backup nfs/daily on host1 failed',
      err: 'a "quoted"\nline',
      who: 'nfs/daily',
    });
  });

  it('webhook templates cannot read files', async () => {
    const r = receiver({ type: 'webhook', body: "{% include '/etc/passwd' %}" });
    const before = rx.requests.length;
    await assert.rejects(sendToReceiver(r, message('failure', FAILED)), (err: unknown) => {
      assert.ok(err instanceof NotifyError);
      // The template's file system has no files: the lookup fails, nothing is read or sent.
      assert.match(err.message, /^webhook test: ENOENT: Failed to lookup "\/etc\/passwd"/);
      return true;
    });
    assert.equal(rx.requests.length, before);
  });

  it('ntfy: the text as body, Title, Priority and Tags headers, the token as a bearer', async () => {
    const r = receiver({ type: 'ntfy', url: { value: `${rx.url}/backups` }, token: { file: tokenFile } });
    await sendToReceiver(r, message('failure', FAILED));
    assert.equal(last().method, 'POST');
    assert.equal(last().url, '/backups');
    assert.equal(last().headers.title, 'backup nfs/daily on host1 failed');
    assert.equal(last().headers.priority, '4');
    assert.equal(last().headers.tags, 'rotating_light,resticprom');
    assert.equal(last().headers.authorization, 'Bearer tk-secret-value');
    assert.equal(
      last().body,
      'restic backup failed: wrong repository password\nreason wrong-password, exit code 12, took 1.5s\nat 2026-01-02T03:04:05.000Z',
    );
    await sendToReceiver({ ...r, config: { ...r.config, priority: 5 } }, message('failure', FAILED));
    assert.equal(last().headers.priority, '5');
    await sendToReceiver(r, message('success', GOOD));
    assert.equal(last().headers.priority, '2');
    assert.equal(last().headers.tags, 'white_check_mark,resticprom');
  });

  it('gotify: POST /message, X-Gotify-Key, JSON title, message and priority', async () => {
    const r = receiver({ type: 'gotify', url: { value: `${rx.url}/gotify/` }, token: { file: tokenFile } });
    await sendToReceiver(r, message('warning', { ...GOOD, outcome: 'warning', exitCode: 3 }));
    assert.equal(last().method, 'POST');
    assert.equal(last().url, '/gotify/message');
    assert.equal(last().headers['x-gotify-key'], 'tk-secret-value');
    assert.equal(last().headers['content-type'], 'application/json');
    const b = JSON.parse(last().body) as { title: string; message: string; priority: number };
    assert.equal(b.title, 'backup nfs/daily on host1 finished with warnings');
    assert.equal(b.priority, 5);
    assert.match(b.message, /snapshot 1a2b3c4d, 3 new and 2 changed files, 2\.00 KiB added, took 1m05s/);
  });

  it('slack: text plus a coloured attachment', async () => {
    await sendToReceiver(
      receiver({ type: 'slack', url: { value: `${rx.url}/services/T/B/X` } }),
      message('failure', FAILED),
    );
    assert.equal(last().url, '/services/T/B/X');
    const b = JSON.parse(last().body) as {
      text: string;
      attachments: { color: string; title: string; text: string; fallback: string }[];
    };
    assert.equal(b.text, 'backup nfs/daily on host1 failed');
    assert.equal(b.attachments.length, 1);
    assert.equal(b.attachments[0]?.color, '#d0021b');
    assert.equal(b.attachments[0]?.title, b.text);
    assert.match(b.attachments[0]?.text ?? '', /^restic backup failed: wrong repository password\n/);
  });

  it('discord: an embed with title, description, colour and time; no mentions', async () => {
    await sendToReceiver(
      receiver({ type: 'discord', url: { value: `${rx.url}/api/webhooks/1/t` } }),
      message('success', GOOD),
    );
    const b = JSON.parse(last().body) as {
      username: string;
      embeds: { title: string; description: string; color: number; timestamp: string }[];
      allowed_mentions: { parse: string[] };
    };
    assert.equal(b.username, 'resticprom');
    assert.equal(b.embeds[0]?.title, 'backup nfs/daily on host1 succeeded');
    assert.equal(b.embeds[0]?.color, 0x2eb886);
    assert.equal(b.embeds[0]?.timestamp, '2026-01-02T03:04:05.000Z');
    assert.deepEqual(b.allowed_mentions, { parse: [] });
  });

  it("a receiver's error names it by label, never by its URL or a secret", async () => {
    rx.status = 404;
    rx.answer = 'no such check';
    try {
      await assert.rejects(
        sendToReceiver(
          receiver({ type: 'healthchecks', url: { value: `${rx.url}/ping/sekret-uuid` } }),
          message('start'),
        ),
        (err: unknown) => {
          assert.ok(err instanceof NotifyError);
          assert.equal(err.message, 'healthchecks test answered 404: no such check');
          assert.equal(err.isRetryable, false);
          return true;
        },
      );
    } finally {
      rx.status = 200;
      rx.answer = 'OK';
    }
    await assert.rejects(
      sendToReceiver(
        receiver({ type: 'gotify', token: { file: join(tmp.dir, 'missing') } }),
        message('start'),
      ),
      (err: unknown) => {
        assert.ok(err instanceof NotifyError);
        assert.match(err.message, /^gotify test: token: cannot read .*missing \(ENOENT\)$/);
        return true;
      },
    );
  });
});
