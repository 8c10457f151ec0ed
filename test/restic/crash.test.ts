/**
 * A crash of restic itself (restic 0.19.1's `forget` hits "fatal error: concurrent map writes"
 * when several snapshot removals fail at once) ends with a goroutine dump hundreds of lines
 * long. The run's message names the crash, not the dump's last line (a Go source path).
 * The real crash is a race restic cannot be made to hit on demand: a script prints its shape.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runForget } from '../../src/restic/forget.js';
import { createBackupParser } from '../../src/restic/parse-backup.js';
import { makeTempDir } from '../helpers/services.js';

/** What restic 0.19.1 printed in the crash, with 60 goroutines in the dump. */
function crashOutput(): string[] {
  const lines = [
    'unable to remove snapshot/d53c5e34c43c15326a2158b78a56b48faba453bb80ca575c9416be4e7a4fa173 from the repository',
    'fatal error: concurrent map writes',
    '',
  ];
  for (let g = 0; g < 60; g++) {
    lines.push(
      `goroutine ${g} [running]:`,
      'internal/runtime/maps.fatal({0x18eab01?, 0x1645569e0de8?})',
      '\truntime/panic.go:1181 +0x18',
      'created by golang.org/x/sync/errgroup.(*Group).Go in goroutine 1',
      '\tgolang.org/x/sync/errgroup/errgroup.go:78 +0x95',
      '',
    );
  }
  return lines;
}

describe('a crash of restic itself', () => {
  const tmp = makeTempDir('resticprom-crash-');
  after(() => tmp.cleanup());

  it('forget: the message names the crash, not the last line of the goroutine dump', async () => {
    const dump = join(tmp.dir, 'dump.txt');
    writeFileSync(dump, `${crashOutput().join('\n')}\n`);
    const fake = join(tmp.dir, 'restic');
    writeFileSync(fake, `#!/bin/sh\ncat '${dump}' >&2\nexit 2\n`, { mode: 0o755 });
    const r = await runForget({
      resticBinary: fake,
      repository: join(tmp.dir, 'repo'),
      password: { value: 'x' },
      keep: { last: 1 },
    });
    assert.equal(r.outcome, 'failed');
    assert.equal(r.exitCode, 2);
    assert.match(r.message, /restic: crashed: fatal error: concurrent map writes\)?$/);
    assert.doesNotMatch(r.message, /errgroup\.go/);
  });

  it('backup: the parser keeps the crash line although the dump scrolled it out of the tail', () => {
    const parser = createBackupParser();
    for (const l of ['panic: runtime error: index out of range [3] with length 3', ...crashOutput().slice(3)])
      parser.push(l, 'stderr');
    const tail = parser.result().stderrTail.split('\n');
    assert.equal(tail[0], 'panic: runtime error: index out of range [3] with length 3');
    assert.equal(tail.length, 21);
  });
});
