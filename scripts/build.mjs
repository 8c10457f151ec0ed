// Builds the library (tsc: ESM + declarations) and the CLI bundle (esbuild).
// The CLI is one CommonJS file plus the heavy packages in files of their own, loaded only
// by the commands that use them (see "The CLI bundle's layout" below).
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
// ---------------------------------------------------------------------------------------------
// The CLI bundle's layout (measured: BENCHMARKS.md, "What the measurements led to").
//
// `cli.js` is one CommonJS file with our code, commander and croner: node's CommonJS
// loader reads and compiles one file, where the ES module loader resolved, read, linked and
// evaluated one module per chunk (47 on the `backup` path, ~30% of a warm run's
// instructions). Nothing runs before it is used: a module reached by a dynamic `import()` is
// initialized when the import runs (esbuild turns it into a `require` of the bundled module).
// The heavy packages, which few commands use, are not in it: each group is its own CommonJS
// file, `vendor/<group>.js`, that the bundle requires when a module importing it first runs,
// so a command that does not use them never reads or parses them. `resticprom.js`, the command,
// is a small entry point that compiles `cli.js` with V8's code cache of the command's last
// run (src/cli/loader.ts).
// ---------------------------------------------------------------------------------------------

/**
 * Heavy packages kept out of the CLI's main file, by the vendor file they go to. Only for
 * packages our sources import by name (`import { x }`, `import * as`, `import()`): a default
 * import of a vendored package would get its namespace (node's CommonJS interop).
 */
const VENDOR_GROUPS = [
  ['zod', /^zod(\/.*)?$/],
  ['yaml', /^yaml(\/.*)?$/],
  ['liquidjs', /^liquidjs(\/.*)?$/],
  ['grafana', /^@grafana\/grafana-foundation-sdk(\/.*)?$/],
  ['opentelemetry', /^@opentelemetry\//],
  ['protobufjs', /^protobufjs(\/.*)?$/],
  ['snappyjs', /^snappyjs$/],
];

/**
 * Resolves an import of a vendored package to a stub that requires `./vendor/<group>.js` (next
 * to the bundle) and takes the package's namespace from it; records every specifier seen.
 */
function vendorStubs(used) {
  return {
    name: 'vendor-stubs',
    setup(b) {
      b.onResolve({ filter: /^\.\/vendor\//, namespace: 'vendor' }, (args) => ({
        path: args.path,
        external: true,
      }));
      b.onResolve({ filter: /^[@a-z]/ }, (args) => {
        const group = VENDOR_GROUPS.find(([, re]) => re.test(args.path))?.[0];
        if (!group) return undefined;
        if (!used.has(group)) used.set(group, new Set());
        used.get(group).add(args.path);
        return { path: args.path, namespace: 'vendor', pluginData: group };
      });
      b.onLoad({ filter: /.*/, namespace: 'vendor' }, (args) => ({
        contents: `module.exports = require(${JSON.stringify(`./vendor/${args.pluginData}.js`)})[${JSON.stringify(args.path)}];`,
        loader: 'js',
      }));
    },
  };
}

/** The vendor files: per group, a CommonJS file exporting each specifier's namespace under its name. */
function vendorEntries(used) {
  return {
    name: 'vendor-entries',
    setup(b) {
      b.onResolve({ filter: /^vendor-entry:/ }, (args) => ({
        path: args.path.slice(13),
        namespace: 'vendor-entry',
      }));
      b.onLoad({ filter: /.*/, namespace: 'vendor-entry' }, (args) => {
        const specs = [...(used.get(args.path) ?? [])].sort();
        return {
          contents:
            specs.map((s, i) => `import * as m${i} from ${JSON.stringify(s)};`).join('\n') +
            `\nexport { ${specs.map((s, i) => `m${i} as ${JSON.stringify(s)}`).join(', ')} };\n`,
          loader: 'js',
          resolveDir: process.cwd(),
        };
      });
    },
  };
}

/** Builds the CLI into `outdir`: `resticprom.js` (the entry), `cli.js`, `vendor/*.js`, their source maps. */
async function buildCliBundle(outdir) {
  const common = {
    absWorkingDir: process.cwd(),
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    sourcemap: 'linked',
    logLevel: 'warning',
    // `import('x')` becomes a require of the bundled module, initialized when the import runs.
    supported: { 'dynamic-import': false },
  };
  const used = new Map();
  await build({
    ...common,
    entryPoints: { cli: 'src/cli/main.ts' },
    outdir,
    // import.meta is empty in CommonJS; the sources use it only where the defines answer
    // (version, build id), and this file is then the module's file.
    define: { ...define, 'import.meta.url': '__resticpromModuleUrl' },
    banner: {
      js: "const __resticpromModuleUrl = require('node:url').pathToFileURL(__filename).href;",
    },
    plugins: [vendorStubs(used)],
  });
  // The command itself: runs cli.js from V8's code cache (src/cli/loader.ts). No source map:
  // a few dozen lines, and node would read the map of a file it runs with --enable-source-maps.
  await build({
    ...common,
    sourcemap: false,
    entryPoints: { resticprom: 'src/cli/loader.ts' },
    outdir,
    banner: { js: '#!/usr/bin/env node' },
  });
  await build({
    ...common,
    entryPoints: Object.fromEntries([...used.keys()].map((g) => [g, `vendor-entry:${g}`])),
    outdir: join(outdir, 'vendor'),
    plugins: [vendorEntries(used), openTelemetryEsm],
  });
  assertAscii(join(outdir, 'cli.js'));
  // dist/ is inside a `"type": "module"` package: mark the bin's folder CommonJS.
  writeFileSync(join(outdir, 'package.json'), '{ "type": "commonjs" }\n');
}

/**
 * The entry point reads cli.js as Latin-1, which for ASCII is the same text and decodes with
 * no UTF-8 validation into a one-byte string (one with any other character would be a
 * two-byte string, twice the memory and slower to scan). esbuild escapes non-ASCII
 * characters except inside a `String.raw` template: write `\u2014` there.
 */
function assertAscii(file) {
  const text = readFileSync(file);
  const at = text.findIndex((b) => b > 0x7f);
  if (at < 0) return;
  const line = text.subarray(0, at).toString('latin1').split('\n').length;
  throw new Error(`${file}:${line}: a character outside ASCII (see assertAscii in scripts/build.mjs)`);
}

if (isSea) await buildSea();
else await buildCli();

async function buildCli() {
  const next = `dist/bin.new-${process.pid}`;
  const old = `dist/bin.old-${process.pid}`;
  await buildCliBundle(next);
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
