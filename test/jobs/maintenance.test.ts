/**
 * The check job with restic output the real restic produces only slowly: restic 0.14
 * checking a repository whose tree pack was deleted retries loading it for about a
 * minute and a half, printing a retry notice each time. The recorded-output fake restic
 * replays that run (lines as restic 0.14.0 printed them) in no time.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { runCheckJob } from '../../src/jobs/maintenance.js';
import { FAKE_RESTIC } from '../helpers/restic.js';
import { makeTempDir } from '../helpers/services.js';

const PACK = '79ba2ad166baa846628f1eac314aac2d2d1ef2ba65b630cf217ebd21bda97c5b';

/** What restic 0.14.0 printed on stderr for `check` after the tree pack PACK was deleted (retries shortened). */
function damagedTreeStderr(repo: string): string {
  const file = `${repo}/data/79/${PACK}`;
  const retry = (range: string, after: string) =>
    `Load(<data/79ba2ad166>, ${range}) returned error, retrying after ${after}: open ${file}: no such file or directory`;
  return [
    `pack ${PACK}: does not exist`,
    retry('0, 0', '552.330144ms'),
    retry('0, 0', '1.080381816s'),
    retry('0, 0', '15.394871241s'),
    retry('246, 401', '507.606314ms'),
    retry('246, 401', '13.811796615s'),
    'error for tree ba61fac1:',
    `  ReadFull(<data/79ba2ad166>): open ${file}: no such file or directory`,
    'Fatal: repository contains errors',
    '',
  ].join('\n');
}

describe('runCheckJob with restic 0.14 output of a damaged repository', () => {
  const tmp = makeTempDir('resticprom-jobs-check-');
  after(() => tmp.cleanup());

  it('counts the errors restic found, not its retry notices, and pushes that count', async () => {
    const repo = join(tmp.dir, 'repo');
    const stdoutFile = join(tmp.dir, 'check.stdout');
    const stderrFile = join(tmp.dir, 'check.stderr');
    writeFileSync(
      stdoutFile,
      'using temporary cache in /tmp/restic-check-cache-1\ncreate exclusive lock for repository\nload indexes\ncheck all packs\ncheck snapshots, trees and blobs\n',
    );
    writeFileSync(stderrFile, damagedTreeStderr(repo));
    const passwordFile = join(tmp.dir, 'pw');
    writeFileSync(passwordFile, 'unused\n', { mode: 0o600 });
    const textfile = join(tmp.dir, 'check.prom');
    const configFile = join(tmp.dir, 'resticprom.yaml');
    writeFileSync(
      configFile,
      `state-dir: ${join(tmp.dir, 'state')}
hostname: h
restic-binary: ${FAKE_RESTIC}
profiles:
  nfs:
    repository: ${repo}
    password-file: ${passwordFile}
    paths: [/srv]
    tiers:
      daily: { schedule: "30 1 * * *" }
    metrics:
      job: nfs_backup
      grouping: { instance: "{tier}" }
      textfile: ${textfile}
`,
      { mode: 0o600 },
    );
    const loaded = await loadConfig({ file: configFile });
    const job = await runCheckJob({
      loaded,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        FAKE_RESTIC_STDOUT: stdoutFile,
        FAKE_RESTIC_STDERR: stderrFile,
        FAKE_RESTIC_EXIT: '1',
        FAKE_RESTIC_VERSION: '0.14.0',
      },
    });
    const r = job.result;
    assert.equal(r.outcome, 'failed');
    assert.equal(r.hasRepositoryErrors, true);
    assert.equal(r.exitCode, 1);
    assert.deepEqual(r.messages, [
      `pack ${PACK}: does not exist`,
      `ReadFull(<data/79ba2ad166>): open ${repo}/data/79/${PACK}: no such file or directory`,
    ]);
    assert.equal(r.errorCount, 2);
    assert.equal(r.message, `restic check found 2 error(s) in the repository: pack ${PACK}: does not exist`);
    const text = readFileSync(textfile, 'utf8');
    assert.match(
      text,
      /^restic_check_errors\{job="nfs_backup",instance="check",profile="nfs",host="h"\} 2$/m,
    );
    assert.match(
      text,
      /^restic_check_status\{job="nfs_backup",instance="check",profile="nfs",host="h"\} 0$/m,
    );
    assert.match(
      text,
      /^restic_check_exit_code\{job="nfs_backup",instance="check",profile="nfs",host="h"\} 1$/m,
    );
  });
});
