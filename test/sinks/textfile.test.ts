import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InvalidMetricsError, SinkError } from '../../src/errors.js';
import { sendToTarget } from '../../src/sinks/target.js';
import type { MetricsPayload } from '../../src/sinks/types.js';
import { makeTempDir } from '../helpers/services.js';

let tmp: { dir: string; cleanup: () => void };
before(() => {
  tmp = makeTempDir();
});
after(() => tmp.cleanup());

function payload(
  text: string,
  method: NonNullable<MetricsPayload['method']>,
  grouping: Record<string, string> = {},
): MetricsPayload {
  return { text, job: 'nfs_backup', grouping, method, measuredAt: 0 };
}

describe('textfile sink', () => {
  it('writes the text with job and grouping labels on every series, mode 0644, no temp file left', async () => {
    const dir = join(tmp.dir, 'put');
    mkdirSync(dir);
    const path = join(dir, 'restic.prom');
    const old = process.umask(0o077);
    try {
      await sendToTarget(
        payload(
          '# HELP a Files\n# TYPE a gauge\na{tier="daily"} 1\n# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 3\nh_count 2\n',
          'put',
          { instance: 'daily', empty: '' },
        ),
        { kind: 'textfile', path },
      );
    } finally {
      process.umask(old);
    }
    assert.equal(
      readFileSync(path, 'utf8'),
      '# HELP a Files\n# TYPE a gauge\na{job="nfs_backup",instance="daily",tier="daily"} 1\n' +
        '# TYPE h histogram\nh_bucket{job="nfs_backup",instance="daily",le="+Inf"} 2\n' +
        'h_sum{job="nfs_backup",instance="daily"} 3\nh_count{job="nfs_backup",instance="daily"} 2\n',
    );
    assert.equal(statSync(path).mode & 0o777, 0o644);
    assert.deepEqual(readdirSync(dir), ['restic.prom']);
  });

  it('a grouping label wins over the same label on a series', async () => {
    const path = join(tmp.dir, 'override.prom');
    await sendToTarget(payload('a{instance="body",x="1"} 1\n', 'put', { instance: 'group' }), {
      kind: 'textfile',
      path,
    });
    assert.equal(
      readFileSync(path, 'utf8'),
      '# TYPE a untyped\na{job="nfs_backup",instance="group",x="1"} 1\n',
    );
  });

  it('post replaces same-named families and keeps the others; put replaces the file; delete removes it', async () => {
    const path = join(tmp.dir, 'merge.prom');
    const target = { kind: 'textfile', path } as const;
    await sendToTarget(payload('# TYPE a gauge\na 1\n# TYPE b gauge\nb 2\n', 'post'), target);
    await sendToTarget(payload('# TYPE b gauge\nb 20\n# TYPE c gauge\nc 30\n', 'post'), target);
    assert.equal(
      readFileSync(path, 'utf8'),
      '# TYPE a gauge\na{job="nfs_backup"} 1\n# TYPE b gauge\nb{job="nfs_backup"} 20\n# TYPE c gauge\nc{job="nfs_backup"} 30\n',
    );
    await sendToTarget(payload('# TYPE d gauge\nd 4\n', 'put'), target);
    assert.equal(readFileSync(path, 'utf8'), '# TYPE d gauge\nd{job="nfs_backup"} 4\n');
    await sendToTarget(payload('', 'delete'), target);
    assert.equal(existsSync(path), false);
    // Deleting what is not there is fine.
    await sendToTarget(payload('', 'delete'), target);
  });

  it('post onto an existing file that is not valid exposition text fails without touching it', async () => {
    const path = join(tmp.dir, 'broken.prom');
    writeFileSync(path, 'not valid {\n');
    const err = await sendToTarget(payload('a 1\n', 'post'), { kind: 'textfile', path }).then(
      () => assert.fail('expected a SinkError'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof SinkError);
    assert.equal(err.isRetryable, false);
    assert.equal(
      err.message,
      `existing textfile ${path} is not valid exposition text (line 1: invalid value for metric not: "valid"); remove it or write with method put`,
    );
    assert.equal(readFileSync(path, 'utf8'), 'not valid {\n');
  });

  it('refuses a path not ending in .prom and an invalid payload', async () => {
    await assert.rejects(
      sendToTarget(payload('a 1\n', 'put'), { kind: 'textfile', path: join(tmp.dir, 'x.txt') }),
      (e: unknown) =>
        e instanceof SinkError &&
        e.message ===
          `textfile path must end in .prom (node_exporter reads only *.prom): ${join(tmp.dir, 'x.txt')}`,
    );
    await assert.rejects(
      sendToTarget(payload('a 1 1000\n', 'put'), { kind: 'textfile', path: join(tmp.dir, 'ts.prom') }),
      (e: unknown) =>
        e instanceof InvalidMetricsError &&
        e.message === 'line 1: metric a has a timestamp; pushed metrics must not have timestamps',
    );
    assert.equal(existsSync(join(tmp.dir, 'ts.prom')), false);
  });

  it('cleans the temp file when the rename fails', async () => {
    const dir = join(tmp.dir, 'fail');
    mkdirSync(dir);
    // A directory where the file should go makes the rename fail after the temp file is written.
    mkdirSync(join(dir, 'busy.prom'));
    const err = await sendToTarget(payload('a 1\n', 'put'), {
      kind: 'textfile',
      path: join(dir, 'busy.prom'),
    }).then(
      () => assert.fail('expected a SinkError'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof SinkError);
    assert.equal(err.isRetryable, true);
    assert.match(err.message, new RegExp(`^cannot write textfile ${join(dir, 'busy.prom')}: EISDIR: `));
    assert.deepEqual(readdirSync(dir), ['busy.prom']);
  });

  it('a missing folder is a retryable error naming the path', async () => {
    const path = join(tmp.dir, 'nope', 'x.prom');
    const err = await sendToTarget(payload('a 1\n', 'put'), { kind: 'textfile', path }).then(
      () => assert.fail('expected a SinkError'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof SinkError);
    assert.equal(err.isRetryable, true);
    assert.equal(err.url, path);
    assert.match(
      err.message,
      new RegExp(`^cannot write textfile ${path}: ENOENT: no such file or directory`),
    );
  });
});
