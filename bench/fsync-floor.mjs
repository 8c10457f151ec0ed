// The floor of a run's own work besides node's start: the fsyncs the crash-safety protocol
// needs (the outbox entry and its folder, then the history line), done the same way in
// `<dir>`. Run: node bench/fsync-floor.mjs DIR
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
mkdirSync(join(dir, 'outbox'), { recursive: true });
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
