// The floor of a run's own work besides node's start: the fsyncs the crash-safety protocol
// needs (the outbox entry and its folder, then the history line), done the same way in
// `<dir>`. With --latest, also the latest metrics of the run's group (file and folder fsynced:
// the state a lost outbox entry is re-queued from). Run: node bench/fsync-floor.mjs DIR [--latest]
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
mkdirSync(join(dir, 'outbox'), { recursive: true });
if (process.argv.includes('--latest')) {
  mkdirSync(join(dir, 'latest'), { recursive: true });
  const tmpLatest = join(dir, 'latest', `.group.${process.pid}.tmp`);
  const lfd = openSync(tmpLatest, 'wx', 0o600);
  writeSync(lfd, '{"latest":"~1 KiB of metrics"}\n'.repeat(64));
  fsyncSync(lfd);
  closeSync(lfd);
  renameSync(tmpLatest, join(dir, 'latest', 'group.json'));
  const dfd = openSync(join(dir, 'latest'), 'r');
  fsyncSync(dfd);
  closeSync(dfd);
}
const tmp = join(dir, 'outbox', `.entry.${process.pid}.tmp`);
let fd = openSync(tmp, 'wx', 0o600);
writeSync(fd, '{"entry":"~1 KiB of metrics"}\n'.repeat(32));
fsyncSync(fd);
closeSync(fd);
renameSync(tmp, join(dir, 'outbox', 'entry.json'));
fd = openSync(join(dir, 'outbox'), 'r');
fsyncSync(fd);
closeSync(fd);
fd = openSync(join(dir, 'history.jsonl'), 'a', 0o600);
writeSync(fd, '{"v":1,"id":"run","kind":"backup"}\n');
fsyncSync(fd);
closeSync(fd);
rmSync(join(dir, 'outbox', 'entry.json'));
