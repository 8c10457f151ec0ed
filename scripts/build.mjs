// Builds the library (tsc: ESM + declarations) and the CLI bundle (esbuild).
// The CLI is split into chunks so a command's heavy modules load only when it runs.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
rmSync('dist', { recursive: true, force: true });
// --cli-only: bundle the CLI without the library's type-checked emit (the tests' fallback
// while a type error elsewhere in the tree would stop tsc).
if (!process.argv.includes('--cli-only')) {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    stdio: 'inherit',
  });
}
await build({
  absWorkingDir: new URL('..', import.meta.url).pathname,
  entryPoints: { resticprom: 'src/cli/main.ts' },
  outdir: 'dist/bin',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  chunkNames: 'chunks/[name]-[hash]',
  define: { RESTICPROM_VERSION: JSON.stringify(pkg.version) },
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
  logLevel: 'warning',
});
