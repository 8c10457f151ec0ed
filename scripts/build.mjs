// Builds the library (tsc: ESM + declarations) and the CLI bundle (esbuild).
// The CLI is split into chunks so a command's heavy modules load only when it runs.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';

process.chdir(new URL('..', import.meta.url).pathname);
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
// --cli-only: bundle the CLI without the library's type-checked emit (the tests' fallback
// while a type error elsewhere in the tree would stop tsc).
if (!process.argv.includes('--cli-only')) {
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
  define: { RESTICPROM_VERSION: JSON.stringify(pkg.version), RESTICPROM_BUILD_ID: JSON.stringify(buildId()) },
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
  logLevel: 'warning',
  plugins: [openTelemetryEsm],
});
if (existsSync('dist/bin')) renameSync('dist/bin', old);
renameSync(next, 'dist/bin');
rmSync(old, { recursive: true, force: true });

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
