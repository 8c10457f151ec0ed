// Builds the library (tsc: ESM + declarations) and the CLI bundle (esbuild).
// The CLI is split into chunks so a command's heavy modules load only when it runs.
// --sea: instead, the CLI as one executable (dist/sea/resticprom, Node's single-executable
// applications): one CommonJS file with every module and npm dependency, injected into a
// copy of the node that runs this script.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';

process.chdir(new URL('..', import.meta.url).pathname);
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const define = {
  RESTICPROM_VERSION: JSON.stringify(pkg.version),
  RESTICPROM_BUILD_ID: JSON.stringify(buildId()),
};
const isSea = process.argv.includes('--sea');
// --cli-only: bundle the CLI without the library's type-checked emit (the tests' fallback
// while a type error elsewhere in the tree would stop tsc).
if (!process.argv.includes('--cli-only') && !isSea) {
  rmSync('dist/lib', { recursive: true, force: true });
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    stdio: 'inherit',
  });
}
// The CLI is built beside the old one and swapped in, so a CLI started by a test that is
// running meanwhile finds either the old bundle or the new one, never half of one.
// The OpenTelemetry packages (the otlp destination) ship CommonJS as `main` and ES modules as
// `module`, marked free of side effects: bundling the ES modules lets esbuild keep only what
// the OTLP serializer uses (measured with bench/otlp.ts).
const openTelemetryEsm = {
  name: 'opentelemetry-esm',
  setup(b) {
    b.onResolve({ filter: /^@opentelemetry\/[^/]+$/ }, (args) => {
      let dir = dirname(createRequire(join(args.resolveDir, 'x.js')).resolve(args.path));
      while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      return pkg.module ? { path: join(dir, pkg.module) } : undefined;
    });
  },
};
if (isSea) await buildSea();
else await buildCli();

async function buildCli() {
  const next = `dist/bin.new-${process.pid}`;
  const old = `dist/bin.old-${process.pid}`;
  await build({
    absWorkingDir: new URL('..', import.meta.url).pathname,
    entryPoints: { resticprom: 'src/cli/main.ts' },
    outdir: next,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'linked',
    chunkNames: 'chunks/[name]-[hash]',
    define,
    banner: {
      js: "#!/usr/bin/env node\nimport { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
    logLevel: 'warning',
    plugins: [openTelemetryEsm],
  });
  // The bin is run directly (a symlink on PATH, a unit's ExecStart): it must be executable.
  chmodSync(`${next}/resticprom.js`, 0o755);
  if (existsSync('dist/bin')) renameSync('dist/bin', old);
  renameSync(next, 'dist/bin');
  rmSync(old, { recursive: true, force: true });
}

/**
 * The single executable: node writes the blob from sea-config.json's settings (the bundle as
 * `main`, `useCodeCache`...), postject injects it into a copy of this node, and the copy is
 * renamed to <out>/resticprom once complete. `--out DIR` builds elsewhere than
 * sea-config.json's folder and `--no-code-cache` without V8's code cache (bench/sea-startup.ts
 * compares the two).
 * https://nodejs.org/docs/latest-v20.x/api/single-executable-applications.html
 */
async function buildSea() {
  const settings = JSON.parse(readFileSync('sea-config.json', 'utf8'));
  const outIndex = process.argv.indexOf('--out');
  const outDir = outIndex > 0 ? process.argv[outIndex + 1] : dirname(settings.main);
  const config = {
    ...settings,
    // Per build, so that two builds at once never read each other's half-written files.
    main: join(outDir, `.resticprom.${process.pid}.cjs`),
    output: join(outDir, `.resticprom.${process.pid}.blob`),
    ...(process.argv.includes('--no-code-cache') ? { useCodeCache: false } : {}),
  };
  mkdirSync(outDir, { recursive: true });
  const target = join(outDir, 'resticprom');
  const next = `${target}.new-${process.pid}`;
  try {
    await build({
      absWorkingDir: new URL('..', import.meta.url).pathname,
      entryPoints: ['src/cli/main.ts'],
      outfile: config.main,
      bundle: true,
      // A single executable runs one CommonJS script whose `require` knows only node's
      // built-in modules: everything else, lazily imported modules too, goes into the file
      // (esbuild turns their `import()` into a `require` of the bundled module). The executable
      // has no dynamic import callback, so a built-in's `import('node:https')` must become a
      // `require` as well ("A dynamic import callback was not specified").
      splitting: false,
      supported: { 'dynamic-import': false },
      format: 'cjs',
      platform: 'node',
      target: 'node20',
      // import.meta is empty in CommonJS; the sources only use it where the defines above
      // already answer (version, build id), and the executable itself is the module's file.
      define: { ...define, 'import.meta.url': '__resticpromModuleUrl' },
      banner: {
        js: "const __resticpromModuleUrl = require('node:url').pathToFileURL(process.execPath).href;",
      },
      logLevel: 'warning',
      plugins: [openTelemetryEsm],
    });
    const configFile = join(outDir, `sea-config.${process.pid}.json`);
    writeFileSync(configFile, JSON.stringify(config));
    try {
      execFileSync(process.execPath, ['--experimental-sea-config', configFile], { stdio: 'pipe' });
    } finally {
      rmSync(configFile, { force: true });
    }
    copyFileSync(process.execPath, next);
    chmodSync(next, 0o755);
    const { inject } = createRequire(import.meta.url)('postject');
    // postject's ELF library warns about every note section it cannot name; harmless, and
    // only noise in the build's output.
    const write = process.stderr.write;
    process.stderr.write = (chunk, ...rest) =>
      /^warning: Can't find string offset for section name/.test(String(chunk)) ||
      write.call(process.stderr, chunk, ...rest);
    try {
      await inject(next, 'NODE_SEA_BLOB', readFileSync(config.output), {
        // The fuse node's binary carries for single executables (documented with the format).
        sentinelFuse: 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2',
      });
    } finally {
      process.stderr.write = write;
    }
    renameSync(next, target);
    rmSync(config.output, { force: true });
    // The bundle stays beside the executable, to read what it runs.
    renameSync(config.main, join(outDir, 'resticprom.cjs'));
  } finally {
    // A failed build leaves nothing half-made behind.
    for (const f of [config.main, config.output, next]) rmSync(f, { force: true });
  }
}

/** A digest of src/ and the lockfile: the validated config cache is keyed by it. */
function buildId() {
  const hash = createHash('sha256');
  const walk = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (name.endsWith('.ts')) hash.update(p).update(readFileSync(p));
      else if (!name.includes('.')) walk(p);
    }
  };
  walk('src');
  hash.update(readFileSync('package-lock.json'));
  return hash.digest('hex').slice(0, 16);
}
