/**
 * How a hook command is started (docs/hooks.md): a list as argv, a plain string split
 * on white space, a string with shell syntax through /bin/sh -c; checked by running them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hasShellSyntax, parseHookCommand } from '../../src/hooks/command.js';
import { runHookStage } from '../../src/hooks/run.js';
import type { RunFacts } from '../../src/jobs/run-facts.js';

const FACTS: RunFacts = {
  runId: 'r1',
  kind: 'backup',
  profile: 'nfs',
  tier: 'daily',
  host: 'h1',
  configFile: '/etc/resticprom/resticprom.yaml',
  startedAt: 0,
};

async function output(command: string | string[]): Promise<string[]> {
  const lines: string[] = [];
  const r = await runHookStage('run-before', [{ command, timeoutMs: 10_000 }], FACTS, {
    onLine: (_h, l) => lines.push(l),
  });
  assert.equal(r.failed, undefined, r.failed?.error);
  return lines;
}

describe('hook commands', () => {
  it('tells shell syntax apart', () => {
    for (const s of [
      'a | b',
      'a > f',
      'a; b',
      'a && b',
      'echo $HOME',
      'echo "x y"',
      "echo 'x'",
      'ls *.sql',
      'cd ~',
      'a # c',
      'echo `id`',
      'a\nb',
    ])
      assert.ok(hasShellSyntax(s), s);
    for (const s of [
      'pg_dumpall -f /srv/nfs/db.sql',
      'logger -t resticprom done',
      'rsync -a --delete /a/ /b/',
    ])
      assert.ok(!hasShellSyntax(s), s);
  });

  it('runs a list as argv, a plain string without a shell, shell syntax with /bin/sh', async () => {
    assert.deepEqual(parseHookCommand(['printf', '%s|', 'a b', '$HOME']), {
      file: 'printf',
      args: ['%s|', 'a b', '$HOME'],
      isShell: false,
      label: 'printf',
    });
    assert.deepEqual(await output(['printf', '%s\\n', 'a b', '$HOME']), ['a b', '$HOME']);
    assert.deepEqual(parseHookCommand('  echo  one   two '), {
      file: 'echo',
      args: ['one', 'two'],
      isShell: false,
      label: 'echo',
    });
    assert.deepEqual(await output('echo one   two'), ['one two']);
    const sh = parseHookCommand('echo "$RESTICPROM_PROFILE" | tr a-z A-Z');
    assert.equal(sh.file, '/bin/sh');
    assert.equal(sh.isShell, true);
    assert.equal(sh.label, 'sh -c "echo ..."');
    assert.deepEqual(await output('echo "$RESTICPROM_PROFILE" | tr a-z A-Z'), ['NFS']);
  });

  it('stdin is closed, and a command that cannot start is a failure with its reason', async () => {
    assert.deepEqual(await output(['sh', '-c', 'cat; echo after-eof']), ['after-eof']);
    const r = await runHookStage('run-after', [{ command: ['/no/such/program'], timeoutMs: 5000 }], FACTS);
    assert.equal(
      r.failed?.error,
      'run-after hook 1 (/no/such/program) could not start (spawn /no/such/program ENOENT)',
    );
  });
});
