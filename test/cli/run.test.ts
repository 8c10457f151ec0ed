import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import {
  gatewayGroups,
  groupValues,
  makeTempDir,
  type RunningService,
  startPushgateway,
} from '../helpers/services.js';

describe('resticprom run (any batch job)', () => {
  let gw: RunningService;
  const tmp = makeTempDir();
  before(async () => {
    await ensureBuilt();
    gw = await startPushgateway();
  });
  after(async () => {
    await gw.stop();
    tmp.cleanup();
  });

  const env = () => ({ RESTICPROM_STATE_DIR: join(tmp.dir, 'state') });
  const group = async (job: string) => {
    const groups = await gatewayGroups(gw.url);
    const g = groups.find((x) => x.labels.job === job && x.labels.instance === 'nightly');
    assert.ok(g, `group ${job}/nightly not on the gateway`);
    return g;
  };

  it('passes output and exit code through and pushes success with the last success time', async () => {
    const before = Date.now() / 1000;
    const r = await runCli(
      [
        'run',
        '--job',
        'db_dump',
        '--group',
        'instance=nightly',
        '--gateway',
        gw.url,
        '--',
        'sh',
        '-c',
        'echo dumped; echo oops >&2',
      ],
      { env: env() },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'dumped\n');
    assert.match(r.stderr, /^oops$/m);
    const g = await group('db_dump');
    assert.equal(groupValues(g, 'resticprom_job_status')[0]?.value, '2');
    assert.equal(groupValues(g, 'resticprom_job_exit_code')[0]?.value, '0');
    const last = Number(groupValues(g, 'resticprom_job_last_success_timestamp_seconds')[0]?.value);
    assert.ok(last >= before - 1 && last <= Date.now() / 1000 + 1, `last success ${last}`);
    const runs = groupValues(g, 'resticprom_job_runs_total').find((m) => m.labels.outcome === 'success');
    assert.equal(runs?.value, '1');
  });

  it('a failing command keeps its exit code, pushes status 0, and the earlier last success survives', async () => {
    const g0 = await group('db_dump');
    const lastBefore = groupValues(g0, 'resticprom_job_last_success_timestamp_seconds')[0]?.value;
    const r = await runCli(
      [
        'run',
        '--job',
        'db_dump',
        '--group',
        'instance=nightly',
        '--gateway',
        gw.url,
        '--',
        'sh',
        '-c',
        'exit 7',
      ],
      { env: env() },
    );
    assert.equal(r.code, 7);
    assert.match(r.stderr, /failed with exit code 7/);
    const g = await group('db_dump');
    assert.equal(groupValues(g, 'resticprom_job_status')[0]?.value, '0');
    assert.equal(groupValues(g, 'resticprom_job_exit_code')[0]?.value, '7');
    assert.equal(groupValues(g, 'resticprom_job_last_success_timestamp_seconds')[0]?.value, lastBefore);
    const failed = groupValues(g, 'resticprom_job_runs_total').find((m) => m.labels.outcome === 'failed');
    assert.equal(failed?.value, '1');
  });

  it('a command that cannot start exits 127 and is reported', async () => {
    const r = await runCli(['run', '--job', 'nope', '--gateway', gw.url, '--', '/nonexistent/cmd'], {
      env: env(),
    });
    assert.equal(r.code, 127);
    assert.match(r.stderr, /could not start \/nonexistent\/cmd: spawn \/nonexistent\/cmd ENOENT/);
  });

  it('without a destination writes the metrics to a textfile in the state directory', async () => {
    const r = await runCli(['run', '--job', 'local', '--', 'true'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const file = join(tmp.dir, 'state', 'metrics', 'job-local.prom');
    assert.ok(existsSync(file));
    assert.match(readFileSync(file, 'utf8'), /^resticprom_job_status\{job="local",host="[^"]+"\} 2$/m);
  });

  it('without --job is a usage error', async () => {
    const r = await runCli(['run', '--gateway', gw.url, '--', 'true'], { env: env() });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /missing --job NAME/);
  });
});
