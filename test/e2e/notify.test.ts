/**
 * End to end, notifications with the real restic against a local receiver that checks
 * the Healthchecks ping protocol (https://healthchecks.io/docs/http_api/): start and
 * success pings in order with the same run id; a failed backup posts /fail with
 * restic's error in the body; with the receiver down the failure waits in the outbox
 * (the run's own exit code unchanged) while start and success are dropped (exit 75 for
 * a good backup), counted in resticprom_notifications_failed_total; once it is up, the
 * next run sends the queued failure first, with its original time and run id.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { readHistory } from '../helpers/e2e.js';
import { resticMatrix } from '../helpers/matrix.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { makeRepo, makeSourceTree, type TestRepo } from '../helpers/restic.js';
import { makeTempDir } from '../helpers/services.js';

const PASSWORD = 'pw-Nt63qW-notify-distinct';
const UUID = '5f1c2d3e-0a0b-4c4d-8e8f-9a9b0c0d0e0f';

for (const restic of resticMatrix()) {
  describe(`notifications of backups (e2e, restic ${restic.version})`, { skip: restic.skip }, () => {
    const tmp = makeTempDir('resticprom-e2e-notify-');
    const stateDir = join(tmp.dir, 'state');
    const env = { HOME: tmp.dir };
    let receiver: Receiver;
    let repo: TestRepo;
    let srcDir: string;
    const textfile = () => readFileSync(join(stateDir, 'metrics', 'nfs-daily.prom'), 'utf8');

    const writeConfig = (name: string, passwordFile: string): string => {
      const file = join(tmp.dir, `${name}.yaml`);
      writeFileSync(
        file,
        `state-dir: ${stateDir}
hostname: e2e-host
restic-binary: ${restic.bin}
profiles:
  nfs:
    repository: ${repo.repository}
    password-file: ${passwordFile}
    env: { RESTIC_CACHE_DIR: ${repo.cacheDir} }
    paths: [${srcDir}]
    notifications:
      - type: healthchecks
        url: ${receiver.url}/ping/${UUID}
        retries: 1
    tiers:
      daily:
        schedule: "30 1 * * *"
        notifications: [{ type: webhook, url: "${receiver.url}/hook", on: [failure] }]
`,
        { mode: 0o600 },
      );
      return file;
    };
    const backup = (config: string) => runCli(['backup', '--config', config, '--tier', 'daily'], { env });
    const pings = () => receiver.requests.filter((r) => r.url.startsWith(`/ping/${UUID}`));
    // The tier's webhook (on: failure) is told about failures too.
    const rid = (url: string) => new URL(url, 'http://x').searchParams.get('rid');
    const path = (url: string) => new URL(url, 'http://x').pathname;

    before(async () => {
      await ensureBuilt();
      receiver = await startReceiver();
      repo = makeRepo(tmp.dir, PASSWORD, { restic: restic.bin });
      srcDir = makeSourceTree(join(tmp.dir, 'nfs'), { files: 4, bytes: 200 }).dir;
    });

    after(async () => {
      await receiver?.stop();
      tmp.cleanup();
    });

    it('a good backup pings /start, then the plain URL, with the same run id', async () => {
      const r = await backup(writeConfig('good', repo.passwordFile));
      assert.equal(r.code, ExitCode.OK, r.stderr);
      const [start, success, ...rest] = pings();
      assert.equal(rest.length, 0);
      assert.equal(start?.method, 'POST');
      assert.equal(path(start?.url ?? ''), `/ping/${UUID}/start`);
      assert.equal(start?.body, '');
      assert.equal(success?.method, 'POST');
      assert.equal(path(success?.url ?? ''), `/ping/${UUID}`);
      const run = readHistory(stateDir).at(-1);
      assert.equal(rid(start?.url ?? ''), run?.id, 'the run id is the history record id');
      assert.equal(rid(success?.url ?? ''), run?.id);
      assert.equal(success?.headers['content-type'], 'text/plain; charset=utf-8');
      assert.match(success?.body ?? '', /^resticprom backup nfs\/daily: success/);
      assert.match(
        r.stderr,
        /^start notification delivered to healthchecks 127\.0\.0\.1:\d+ \(profiles\.nfs\.notifications\[0\]\) \(200\)$/m,
      );
      assert.match(textfile(), /^resticprom_notifications_failed_total\{.*type="healthchecks".*\} 0$/m);
    });

    it("a failed backup posts /fail with restic's error in the body", async () => {
      receiver.requests.length = 0;
      const wrong = join(tmp.dir, 'wrong-password');
      writeFileSync(wrong, 'not-the-password\n', { mode: 0o600 });
      const r = await backup(writeConfig('wrong', wrong));
      assert.equal(r.code, ExitCode.WRONG_PASSWORD, r.stderr);
      const [start, fail] = pings();
      assert.equal(path(start?.url ?? ''), `/ping/${UUID}/start`);
      assert.equal(path(fail?.url ?? ''), `/ping/${UUID}/fail`);
      assert.equal(rid(fail?.url ?? ''), rid(start?.url ?? ''));
      const body = fail?.body ?? '';
      assert.match(body, /^resticprom backup nfs\/daily: failed\n/);
      assert.ok(body.includes('wrong repository password'), body);
      assert.ok(body.includes('wrong password or no key found'), `restic's own words: ${body}`);
      assert.ok(!body.includes(PASSWORD));
    });

    it('receiver down: the failure is queued, start and success dropped; back up: the queued failure goes first', async () => {
      await receiver.stop();
      receiver.requests.length = 0;
      const wrong = join(tmp.dir, 'wrong-password');
      const failedRun = await backup(writeConfig('wrong', wrong));
      // The backup's own outcome decides the exit code.
      assert.equal(failedRun.code, ExitCode.WRONG_PASSWORD, failedRun.stderr);
      assert.match(
        failedRun.stderr,
        /^warning: failure notification not delivered: .*; queued in the outbox for the next run$/m,
      );
      assert.match(failedRun.stderr, /^warning: start notification not delivered: .*; dropped/m);
      assert.ok(!failedRun.stderr.includes(UUID), 'the ping URL (a secret) is not printed');
      const failedId = readHistory(stateDir).at(-1)?.id;
      const failedEnd = readHistory(stateDir).at(-1)?.endedAt ?? 0;
      const queued = readdirSync(join(stateDir, 'notify', 'outbox')).filter((f) => f.endsWith('.json'));
      assert.equal(queued.length, 2, 'the healthchecks ping and the webhook post');
      const stored = readFileSync(join(stateDir, 'notify', 'outbox', queued[0] ?? ''), 'utf8');
      assert.ok(!stored.includes(UUID), 'no receiver URL is stored');
      assert.match(textfile(), /^resticprom_notifications_failed_total\{.*type="healthchecks".*\} 2$/m);

      const goodRun = await backup(writeConfig('good', repo.passwordFile));
      assert.equal(goodRun.code, ExitCode.TEMPFAIL, 'a good backup whose notification failed exits 75');
      assert.match(
        goodRun.stderr,
        /^warning: success notification not delivered: .*; dropped \(a late success notification would hide a missed run\)$/m,
      );
      assert.match(goodRun.stderr, /^warning: queued notification still waiting: /m);
      assert.match(textfile(), /^resticprom_notifications_failed_total\{.*type="healthchecks".*\} 4$/m);
      assert.equal(receiver.requests.length, 0);

      await receiver.start();
      const next = await backup(writeConfig('good', repo.passwordFile));
      assert.equal(next.code, ExitCode.OK, next.stderr);
      assert.match(next.stderr, /^2 queued notification\(s\) of earlier runs delivered$/m);
      const hook = receiver.requests.find((q) => q.url === '/hook');
      const posted = JSON.parse(hook?.body ?? '{}') as {
        event: string;
        time: string;
        run: { id: string; tier: string };
      };
      assert.equal(posted.event, 'failure');
      assert.equal(posted.time, new Date(failedEnd).toISOString(), 'sent late, with its original time');
      assert.equal(posted.run.id, failedId);
      assert.equal(posted.run.tier, 'daily');
      const [late, start, success, ...rest] = pings();
      assert.equal(rest.length, 0);
      assert.equal(path(late?.url ?? ''), `/ping/${UUID}/fail`);
      assert.equal(rid(late?.url ?? ''), failedId, 'the queued ping keeps its run id');
      assert.ok(late?.body.includes(`wrong repository password`));
      assert.equal(path(start?.url ?? ''), `/ping/${UUID}/start`);
      assert.equal(path(success?.url ?? ''), `/ping/${UUID}`);
      const nextId = readHistory(stateDir).at(-1)?.id;
      assert.equal(rid(success?.url ?? ''), nextId);
      assert.notEqual(failedId, nextId);
      assert.ok(failedEnd > 0);
      assert.equal(
        readdirSync(join(stateDir, 'notify', 'outbox')).filter((f) => f.endsWith('.json')).length,
        0,
      );
      assert.match(textfile(), /^resticprom_notifications_failed_total\{.*type="healthchecks".*\} 4$/m);
    });
  });
}
