/**
 * A child process for the history and lock tests (it must be a separate process to
 * be killed with SIGKILL). Usage:
 *   child.ts append-loop <stateDir>      appends big records forever, prints "appended" after the first
 *   child.ts append <stateDir> <n>       appends n successful backup runs, then exits
 *   child.ts hold <stateDir> <repo>      takes the repository lock, prints "held", waits to be killed
 *   child.ts race <stateDir> <repo>      waits for "go" on stdin, tries the lock once, prints "got" or "busy"
 */
import { createInterface } from 'node:readline';
import { appendRun, type RunRecord } from '../../src/state/history.js';
import { acquireRepositoryLock } from '../../src/state/lock.js';

const [mode, stateDir = '', arg = ''] = process.argv.slice(2);

function record(i: number, pad: string): RunRecord {
  return {
    v: 1,
    id: `child-${process.pid}-${i}`,
    kind: 'backup',
    profile: 'nfs',
    tier: 'daily',
    job: 'nfs_backup',
    startedAt: 1_700_000_000_000 + i,
    endedAt: 1_700_000_001_000 + i,
    outcome: 'success',
    exitCode: 0,
    summary: { pad },
  };
}

if (mode === 'append-loop') {
  const pad = 'x'.repeat(256 * 1024); // big lines make a kill during a write likely
  for (let i = 0; ; i++) {
    await appendRun(stateDir, record(i, pad));
    if (i === 0) process.stdout.write('appended\n');
  }
} else if (mode === 'append') {
  for (let i = 0; i < Number(arg); i++) await appendRun(stateDir, record(i, ''));
} else if (mode === 'hold') {
  await acquireRepositoryLock(stateDir, arg, { command: 'backup nfs/daily' });
  process.stdout.write('held\n');
  setInterval(() => {}, 1000);
} else if (mode === 'race') {
  const rl = createInterface({ input: process.stdin });
  process.stdout.write('ready\n');
  for await (const line of rl) {
    if (line !== 'go') continue;
    try {
      const lock = await acquireRepositoryLock(stateDir, arg, { command: 'race' });
      process.stdout.write(`got ${lock.warnings.length}\n`);
      await new Promise((r) => setTimeout(r, 3000));
      await lock.release();
    } catch (err) {
      process.stdout.write(`busy ${(err as Error).name}\n`);
    }
    rl.close();
  }
}
