import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import {
  freePort,
  gatewayGroups,
  groupValues,
  makeTempDir,
  type RunningService,
  startPushgateway,
} from '../helpers/services.js';

const metrics = (v: number) =>
  `# HELP restic_backup_processed_files How many files were processed\n# TYPE restic_backup_processed_files gauge\nrestic_backup_processed_files ${v}\n`;

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? filesUnder(join(dir, d.name)) : [join(dir, d.name)],
  );
}

async function values(url: string, job: string, instance: string, family: string): Promise<string[]> {
  const g = (await gatewayGroups(url)).find((x) => x.labels.job === job && x.labels.instance === instance);
  return g ? groupValues(g, family).map((m) => m.value) : [];
}

describe('resticprom push', () => {
  let gw: RunningService;
  let tmp: { dir: string; cleanup: () => void };
  let n = 0;
  const stateDir = () => join(tmp.dir, `state-${++n}`);

  before(async () => {
    [gw] = await Promise.all([startPushgateway(), ensureBuilt()]);
    tmp = makeTempDir('resticprom-push-cli-');
  });
  after(async () => {
    await gw.stop();
    tmp.cleanup();
  });

  it('exits 0 after delivering a file to the gateway (the seed push)', async () => {
    const file = join(tmp.dir, 'metrics.prom');
    writeFileSync(file, metrics(1234));
    const r = await runCli(
      [
        'push',
        '--gateway',
        gw.url,
        '--job',
        'nfs_backup',
        '--group',
        'instance=daily',
        '--state-dir',
        stateDir(),
        file,
      ],
      {},
    );
    assert.equal(
      r.stderr,
      `resticprom: delivered job nfs_backup, instance=daily (POST) to pushgateway ${gw.url}\n`,
    );
    assert.equal(r.code, 0);
    assert.equal(r.stdout, '');
    assert.deepEqual(await values(gw.url, 'nfs_backup', 'daily', 'restic_backup_processed_files'), ['1234']);
  });

  it('reads stdin; --method put replaces the whole group; --quiet prints nothing', async () => {
    const state = stateDir();
    const base = [
      'push',
      '--gateway',
      gw.url,
      '--job',
      'put_job',
      '--group',
      'instance=x',
      '--state-dir',
      state,
    ];
    const first = await runCli(base, { input: `${metrics(1)}# TYPE other_family gauge\nother_family 7\n` });
    assert.equal(first.code, 0);
    assert.deepEqual(await values(gw.url, 'put_job', 'x', 'other_family'), ['7']);
    const second = await runCli([...base, '--method', 'put', '--quiet', '-'], { input: metrics(2) });
    assert.equal(second.stderr, '');
    assert.equal(second.code, 0);
    assert.deepEqual(await values(gw.url, 'put_job', 'x', 'restic_backup_processed_files'), ['2']);
    assert.deepEqual(await values(gw.url, 'put_job', 'x', 'other_family'), []);
  });

  it('exits 65 on invalid input, naming the line; nothing is sent or queued', async () => {
    const state = stateDir();
    const r = await runCli(['push', '--gateway', gw.url, '--job', 'bad_job', '--state-dir', state], {
      input: '# TYPE a gauge\na 1\na{x="1"} zz\n',
    });
    assert.equal(
      r.stderr,
      'resticprom: invalid metrics in stdin: line 3: invalid value for metric a: "zz"; nothing was sent or queued\n',
    );
    assert.equal(r.code, 65);
    assert.equal(existsSync(join(state, 'outbox')), false);
    assert.equal((await gatewayGroups(gw.url)).filter((g) => g.labels.job === 'bad_job').length, 0);
  });

  it('exits 2 on usage errors, one line each', async () => {
    const state = stateDir();
    const cases: [string[], string][] = [
      [
        ['--job', 'j'],
        'resticprom: no destination: give --gateway URL (or set RESTICPROM_GATEWAY), --remote-write URL, --otlp URL or --textfile PATH\n',
      ],
      [
        ['--gateway', gw.url],
        'resticprom: missing --job NAME (the grouping job; a job label for remote write and textfile)\n',
      ],
      [
        ['--gateway', 'http://backup:hunter2@127.0.0.1:9', '--job', 'j'],
        'resticprom: --gateway http://***:***@127.0.0.1:9/: credentials in the URL (user info) are refused (they would show in process lists); use --basic-auth-user with --basic-auth-password-file or $RESTICPROM_BASIC_AUTH_PASSWORD, or --bearer-token-file\n',
      ],
      [
        ['--gateway', gw.url, '--job', 'j', '--timeout', '10 parsecs'],
        'resticprom: --timeout: invalid duration "10 parsecs" (write it like 500ms, 10s, 2m, 1h, 7d)\n',
      ],
      [
        ['--gateway', gw.url, '--job', 'j', '--group', 'instance'],
        'resticprom: --group instance: expected name=value\n',
      ],
      [
        ['--gateway', gw.url, '--job', 'j', '--retries', 'many'],
        'resticprom: --retries many: expected a whole number (attempts after the first)\n',
      ],
    ];
    for (const [args, stderr] of cases) {
      const r = await runCli(['push', ...args, '--state-dir', state, '-'], { input: metrics(1) });
      assert.equal(r.stderr, stderr, args.join(' '));
      assert.equal(r.code, 2, args.join(' '));
    }
    const badMethod = await runCli(['push', '--gateway', gw.url, '--job', 'j', '--method', 'patch', '-'], {
      input: metrics(1),
    });
    assert.equal(badMethod.code, 2);
    assert.match(badMethod.stderr, /argument 'patch' is invalid\. Allowed choices are post, put, delete\./);
    assert.equal(existsSync(join(state, 'outbox')), false);
  });

  it('exits 75 when the gateway is down; the payload waits in a private outbox with no secret in it', async () => {
    const state = stateDir();
    const port = await freePort();
    const pwFile = join(tmp.dir, 'pw');
    writeFileSync(pwFile, 'file-secret-31337\n');
    const r = await runCli(
      [
        'push',
        '--gateway',
        `http://127.0.0.1:${port}`,
        '--job',
        'down_job',
        '--retries',
        '1',
        '--state-dir',
        state,
        '-',
      ],
      {
        input: metrics(5),
        env: { RESTICPROM_BASIC_AUTH_USER: 'backup', RESTICPROM_BASIC_AUTH_PASSWORD: 'env-secret-4242' },
      },
    );
    assert.equal(
      r.stderr,
      `resticprom: gateway http://127.0.0.1:${port} unreachable after 2 attempts (connect ECONNREFUSED 127.0.0.1:${port}); queued in ${state}/outbox (1 pending)\n`,
    );
    assert.equal(r.code, 75);
    const r2 = await runCli(
      [
        'push',
        '--gateway',
        `http://127.0.0.1:${port}`,
        '--job',
        'down_job',
        '--retries',
        '0',
        '--basic-auth-user',
        'backup',
        '--basic-auth-password-file',
        pwFile,
        '--state-dir',
        state,
        '-',
      ],
      { input: metrics(6) },
    );
    assert.equal(r2.code, 75);
    assert.match(r2.stderr, /queued in .*\/outbox \(2 pending\)\n$/);
    assert.equal(statSync(state).mode & 0o777, 0o700);
    assert.equal(statSync(join(state, 'outbox')).mode & 0o777, 0o700);
    const files = filesUnder(state).filter((f) => f.endsWith('.json'));
    assert.equal(files.length, 2);
    for (const f of files) {
      assert.equal(statSync(f).mode & 0o777, 0o600, f);
      const text = readFileSync(f, 'utf8');
      assert.ok(!text.includes('env-secret-4242') && !text.includes('file-secret-31337'), `secret in ${f}`);
    }
    const stored = files
      .map(
        (f) =>
          (JSON.parse(readFileSync(f, 'utf8')) as { entry: { target: { retries: number } } }).entry.target,
      )
      .sort((a, b) => a.retries - b.retries);
    const target = { kind: 'pushgateway', url: `http://127.0.0.1:${port}`, timeoutMs: 10000 };
    assert.deepEqual(stored, [
      { ...target, retries: 0, basicAuth: { username: 'backup', password: { file: pwFile } } },
      {
        ...target,
        retries: 1,
        basicAuth: { username: 'backup', password: { env: 'RESTICPROM_BASIC_AUTH_PASSWORD' } },
      },
    ]);
  });

  it('writes a textfile for node_exporter', async () => {
    const file = join(tmp.dir, 'job.prom');
    const r = await runCli(['push', '--textfile', file, '--job', 'tf', '--state-dir', stateDir(), '-'], {
      input: metrics(9),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(readFileSync(file, 'utf8'), /^restic_backup_processed_files\{job="tf"\} 9$/m);
  });
});
