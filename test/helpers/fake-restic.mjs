#!/usr/bin/env node
// A recorded-output fake restic, for what the real one cannot do on demand (hang, huge output,
// a given exit code, a newer version). Plain JS, no imports beyond node:, so it starts fast.
//
// Environment:
//   FAKE_RESTIC_STDOUT=file     replay this file on stdout (streamed)
//   FAKE_RESTIC_STDERR=file     replay this file on stderr
//   FAKE_RESTIC_REPEAT=N        replay the stdout file N times (benchmarks) (default 1)
//   FAKE_RESTIC_EXIT=code       exit code after replaying (default 0)
//   FAKE_RESTIC_DELAY_MS=ms     wait this long before each line (slow restic)
//   FAKE_RESTIC_HANG=1          after replaying, print nothing and never exit (until a signal)
//   FAKE_RESTIC_IGNORE_SIGINT=1 ignore SIGINT/SIGTERM (only SIGKILL ends it)
//   FAKE_RESTIC_VERSION=0.18.0  `version` prints `restic 0.18.0 compiled with go1.22.5 on linux/amd64`
//   FAKE_RESTIC_RECORD=file     write {argv, env: RESTIC_* and GOMAXPROCS, pid} as JSON to this file
//                               (`version` writes to file.version: it may run alongside a backup)
// On SIGINT/SIGTERM (unless ignored) it prints restic's message and exits 130, like restic.
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';

const env = process.env;
const args = process.argv.slice(2);

if (env.FAKE_RESTIC_RECORD) {
  const picked = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith('RESTIC_') || k === 'GOMAXPROCS') picked[k] = v;
  const target = args[0] === 'version' ? `${env.FAKE_RESTIC_RECORD}.version` : env.FAKE_RESTIC_RECORD;
  writeFileSync(target, JSON.stringify({ argv: args, env: picked, pid: process.pid }));
}

if (env.FAKE_RESTIC_IGNORE_SIGINT === '1') {
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
} else {
  const stop = () => {
    process.stderr.write('signal interrupt received, cleaning up\n', () => process.exit(130));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (args[0] === 'version') {
  process.stdout.write(
    `restic ${env.FAKE_RESTIC_VERSION ?? '0.18.0'} compiled with go1.22.5 on linux/amd64\n`,
  );
  process.exit(0);
}

const exitCode = Number(env.FAKE_RESTIC_EXIT ?? '0');
const delay = Number(env.FAKE_RESTIC_DELAY_MS ?? '0');
const repeat = Math.max(1, Number(env.FAKE_RESTIC_REPEAT ?? '1'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function write(stream, data) {
  if (!stream.write(data)) await new Promise((r) => stream.once('drain', r));
}

async function replay(file, stream, times) {
  if (!file) return;
  if (delay > 0) {
    const lines = readFileSync(file, 'utf8').split('\n');
    if (lines.at(-1) === '') lines.pop();
    for (let i = 0; i < times; i++) {
      for (const line of lines) {
        await sleep(delay);
        await write(stream, `${line}\n`);
      }
    }
    return;
  }
  if (times === 1) {
    await new Promise((resolve, reject) => {
      const rs = createReadStream(file, { highWaterMark: 256 * 1024 });
      rs.on('error', reject);
      rs.on('end', resolve);
      rs.pipe(stream, { end: false });
    });
    return;
  }
  const buf = readFileSync(file);
  // batch small files into ~1 MiB writes
  const per = Math.max(1, Math.floor((1024 * 1024) / Math.max(1, buf.length)));
  const block = Buffer.concat(Array.from({ length: per }, () => buf));
  let left = times;
  while (left >= per) {
    await write(stream, block);
    left -= per;
  }
  for (; left > 0; left--) await write(stream, buf);
}

await Promise.all([
  replay(env.FAKE_RESTIC_STDOUT, process.stdout, repeat),
  replay(env.FAKE_RESTIC_STDERR, process.stderr, 1),
]);

if (env.FAKE_RESTIC_HANG === '1') {
  setInterval(() => {}, 1 << 30);
} else {
  process.exitCode = exitCode;
}
