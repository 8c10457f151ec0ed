/**
 * Wraps a command's action: maps errors to exit codes and prints one clear line,
 * no stack trace (set RESTICPROM_DEBUG=1 for one). Only cli/ calls process.exit.
 */
import {
  ConfigError,
  errorText,
  InvalidMetricsError,
  LockBusyError,
  ResticpromError,
  StateError,
  UsageError,
} from '../errors.js';
import { ExitCode } from './exit-codes.js';
import { writeLine } from './output.js';

/** Exit code for an error thrown out of a command. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError || err instanceof ConfigError) return ExitCode.USAGE;
  if (err instanceof InvalidMetricsError) return ExitCode.DATAERR;
  if (err instanceof LockBusyError) return ExitCode.BUSY;
  if (err instanceof StateError) return ExitCode.CANTCREAT;
  return ExitCode.FAILURE;
}

/** Runs `fn`; its resolved number is the exit code. Errors print one line and exit with their code. */
export function runAction<A extends unknown[]>(
  fn: (...args: A) => Promise<number>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    let code: number;
    try {
      code = await fn(...args);
    } catch (err) {
      code = exitCodeFor(err);
      const msg = errorText(err);
      if (process.env.RESTICPROM_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
      // One problem per line; each line escaped, so a value from a file cannot forge another.
      if (err instanceof ConfigError) for (const line of msg.split('\n')) writeLine(process.stderr, line);
      else writeLine(process.stderr, `resticprom: ${msg}`);
      if (!(err instanceof ResticpromError) && !process.env.RESTICPROM_DEBUG) {
        process.stderr.write('resticprom: this is a bug; run again with RESTICPROM_DEBUG=1 for details\n');
      }
    }
    process.exitCode = code;
  };
}
