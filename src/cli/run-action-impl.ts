/**
 * The `run` command's implementation.
 */
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { runBatchJob } from '../jobs/batch-job.js';
import { formatDuration } from '../util/duration.js';
import { reportDelivery } from './backup-action.js';
import { makeLog, type OutboxFlags, parseOutboxLimits } from './commands/push.js';
import { type DestinationFlags, parseDestinations, parsePairs } from './destinations.js';
import { ExitCode } from './exit-codes.js';
import { onInterrupt } from './interrupt.js';
import { commandStateDir } from './state-dir.js';

/** Flags of `run`. */
export interface RunFlags extends DestinationFlags, OutboxFlags {
  job?: string;
  group?: string[];
  label?: string[];
}

/** Runs the child, reports, and resolves to the exit code. */
export async function runCommandAction(command: string[], flags: RunFlags): Promise<number> {
  const log = await makeLog(flags);
  if (!flags.job) throw new UsageError('missing --job NAME (the job the metrics are pushed under)');
  const [bin, ...args] = command;
  if (!bin) throw new UsageError('missing the command to run (put it after --)');
  const grouping = parsePairs(flags.group ?? [], '--group');
  const labels = parsePairs(flags.label ?? [], '--label');
  const stateDir = await commandStateDir(flags);
  let destinations = parseDestinations(flags);
  const isFallback = destinations.length === 0;
  if (isFallback)
    destinations = [{ kind: 'textfile', path: join(stateDir, 'metrics', `job-${flags.job}.prom`) }];
  parseOutboxLimits(flags);

  const controller = new AbortController();
  const stopListening = onInterrupt((sig) => controller.abort(sig));
  try {
    const r = await runBatchJob({
      command: bin,
      args,
      stateDir,
      target: { job: flags.job, grouping, labels, destinations, isFallback },
      signal: controller.signal,
    });
    if (r.spawnError) log.error(`could not start ${bin}: ${r.spawnError}`);
    const took = formatDuration(r.durationMs);
    if (r.status === 'success') log.info(`job ${flags.job}: ${bin} succeeded in ${took}`);
    else log.error(`job ${flags.job}: ${bin} failed with exit code ${r.exitCode} after ${took}`);
    // The fallback textfile is named once, below.
    reportDelivery(log, isFallback ? { ...r.finish.delivery, delivered: [] } : r.finish.delivery);
    if (isFallback)
      log.info(
        `no destination given: metrics written to ${destinations[0]?.kind === 'textfile' ? destinations[0].path : ''}`,
      );
    if (r.exitCode !== 0) return r.exitCode;
    if (r.finish.delivery.deadLettered.length > 0) return ExitCode.FAILURE;
    return r.finish.delivery.isComplete ? ExitCode.OK : ExitCode.TEMPFAIL;
  } finally {
    stopListening();
  }
}
