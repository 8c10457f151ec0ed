/**
 * The `resticprom` command (dist/bin/resticprom.js): runs the CLI bundle (dist/bin/cli.js,
 * built from main.ts) from V8's code cache.
 *
 * Compiling the 780 KiB bundle is the largest part of a short run's start: V8 pre-parses all
 * of it and compiles every function that runs. With a code cache, V8 deserializes what an
 * earlier run of the same command compiled instead (measured: BENCHMARKS.md, "Start-up of a
 * warm run", third round). The cache is made at the end of a command's first run and kept
 * per command in a private folder (code-cache.ts). Node 20 has no `module.enableCompileCache`
 * (node 22), so this does by hand what it would.
 */
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import Module from 'node:module';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';
import {
  type CachedCode,
  codeCacheDir,
  codeCacheFile,
  codeCacheKey,
  readCodeCache,
  trustCacheDir,
  writeCodeCache,
} from './code-cache.js';
import { holdYoungGeneration, withDefaultFlags } from './young-generation.js';

/** The usage error's exit code (exit-codes.ts): a mistyped command is no run to learn from. */
const USAGE = 2;

function run(): void {
  const bundle = join(__dirname, 'cli.js');
  // Stack traces through the source maps (`node --enable-source-maps`, NODE_OPTIONS) need
  // node's own loader: node maps only what it loaded itself.
  if ((process as { sourceMapsEnabled?: boolean }).sourceMapsEnabled) {
    holdYoungGeneration();
    require(bundle);
    return;
  }
  const fd = openSync(bundle, 'r');
  const st = fstatSync(fd);
  // ASCII only (the build checks it), so Latin-1 is the same text, read without UTF-8 decoding.
  const source = readFileSync(fd, 'latin1');
  closeSync(fd);

  const uid = process.geteuid?.() ?? -1;
  const debug = process.env.RESTICPROM_DEBUG_CODE_CACHE === '1';
  const note = (line: string) => {
    if (debug) process.stderr.write(`resticprom: code cache: ${line}\n`);
  };
  const dir = codeCacheDir(process.env, uid);
  if (dir === undefined) note('off');
  const file =
    dir !== undefined && trustCacheDir(dir, uid, note)
      ? codeCacheFile(dir, process.argv.slice(2))
      : undefined;
  const key = file !== undefined ? codeCacheKey(st, file) : '';
  const cached: CachedCode | undefined = file !== undefined ? readCodeCache(file, key, uid, note) : undefined;

  const script = new Script(Module.wrap(source), {
    filename: bundle,
    ...(cached ? { cachedData: cached.data } : {}),
  });
  if (cached) note(script.cachedDataRejected ? `${file}: rejected by V8` : `${file}: used`);
  if (file !== undefined && (!cached || script.cachedDataRejected || cached.isFromFailedRun)) {
    // At the end, so that the cache holds every function this command compiled. It is made
    // under V8's default flags, which are the ones the next run compiles the bundle under.
    process.once('exit', (code) => {
      if (code === USAGE || (cached && !script.cachedDataRejected && code !== 0)) return;
      try {
        const data = withDefaultFlags(() => script.createCachedData());
        writeCodeCache(file, key, data, code !== 0, note);
      } catch (err) {
        note(`${file}: ${(err as Error).message}: not written`);
      }
    });
  }

  holdYoungGeneration();
  const mod = new Module(bundle, module);
  mod.filename = bundle;
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper.call(mod.exports, mod.exports, Module.createRequire(bundle), mod, bundle, dirname(bundle));
}

run();
