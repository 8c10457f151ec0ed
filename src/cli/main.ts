/**
 * The resticprom command line. Each command lives in commands/<name>.ts and
 * registers itself; its implementation is imported only when it runs, so
 * `resticprom --version` stays fast.
 */
import { Command, CommanderError } from 'commander';
import { useSynchronousIo } from '../state/io.js';
import { commandModulesFor } from './commands/index.js';
import { ExitCode } from './exit-codes.js';
import { isJobRunning } from './interrupt.js';
import { holdYoungGeneration } from './young-generation.js';

declare const RESTICPROM_VERSION: string;

// The young generation at its initial size (young-generation.ts); the CLI's entry point
// (loader.ts) has done it already, the single executable has not.
holdYoungGeneration();

// A one-shot command does its bookkeeping's file operations directly (state/io.ts); the
// daemon (and the demo, which runs one) keeps them on the thread pool, to stay responsive.
if (!['daemon', 'demo'].includes(process.argv[2] ?? '')) useSynchronousIo();

const program = new Command();
program
  .name('resticprom')
  .description(
    'Make restic backups observable: run restic, turn results into Prometheus metrics, deliver them.',
  )
  .version(typeof RESTICPROM_VERSION === 'string' ? RESTICPROM_VERSION : '0.0.0-dev', '-V, --version')
  .enablePositionalOptions()
  .showSuggestionAfterError()
  .exitOverride();

// Command modules: each exports `register(program)`, which only declares options and
// imports its implementation inside the action. Keep top-level imports here light.
for (const cmd of commandModulesFor(process.argv)) cmd.register(program);

// A reader that went away (`resticprom status | head`) is not an error: stop writing, as
// the tools it is piped into expect, instead of a stack trace. While a job runs, its run is
// finished, recorded and delivered all the same (the job ignores the dead stream).
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (isJobRunning()) return;
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

/** Runs the command line; an unexpected error ends the process as an unhandled rejection would. */
async function main(): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; usage errors exit 2 (commander printed the message).
      process.exitCode = err.exitCode === 0 ? 0 : ExitCode.USAGE;
    } else {
      throw err;
    }
  }
}

// No top-level await: the CLI bundle and the single executable's are CommonJS (scripts/build.mjs).
void main();
