/**
 * `resticprom push [FILE|-]`: delivers exposition text (a file or stdin) to a Pushgateway,
 * remote write or a textfile, through the outbox, so it is never lost: what cannot be
 * delivered now waits in the outbox (exit 75) for the next invocation or `flush`.
 */
import { type Command, Option } from 'commander';
import { InvalidMetricsError, UsageError } from '../../errors.js';
import type { FlushReport } from '../../sinks/outbox.js';
import { addDestinationOptions, type DestinationFlags } from '../destinations.js';
import { ExitCode } from '../exit-codes.js';
import type { Logger } from '../output.js';
import { runAction } from '../run-action.js';

/** Flags of `push`. */
export interface PushFlags extends DestinationFlags, OutboxFlags {
  job?: string;
  group?: string[];
  method: 'post' | 'put' | 'delete';
}

/** Flags every outbox-using command shares. */
export interface OutboxFlags {
  stateDir?: string;
  config?: string;
  outboxMaxEntries?: string;
  outboxMaxBytes?: string;
  quiet?: boolean;
  logFormat: 'text' | 'json';
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** Declares --state-dir, --outbox-max-entries, --outbox-max-bytes, --quiet and --log-format. */
export function addOutboxOptions(cmd: Command): Command {
  return cmd
    .option(
      '--state-dir <dir>',
      "state directory holding the outbox (default: $RESTICPROM_STATE_DIR, else the config file's state-dir, else /var/lib/resticprom for root, ~/.local/state/resticprom for others)",
    )
    .option(
      '-c, --config <file>',
      "config file whose state-dir is used when neither --state-dir nor $RESTICPROM_STATE_DIR is set, and (flush) whose destinations' current settings are used (default: $RESTICPROM_CONFIG, ./resticprom.yaml, /etc/resticprom/resticprom.yaml, when present)",
    )
    .option(
      '--outbox-max-entries <n>',
      'most payloads kept in the outbox; past it the oldest are dropped (reported)',
      '1000',
    )
    .option(
      '--outbox-max-bytes <size>',
      'most bytes kept in the outbox, e.g. 50MiB; past it the oldest are dropped (reported)',
      '50MiB',
    )
    .option('-q, --quiet', 'print only problems')
    .addOption(
      new Option('--log-format <format>', 'format of messages on stderr')
        .choices(['text', 'json'])
        .default('text'),
    );
}

/** Declares the `push` command. */
export function register(program: Command): void {
  const cmd = program
    .command('push')
    .description(
      'deliver metrics (text exposition format) from FILE or stdin; what fails waits in the outbox',
    )
    .argument('[file]', 'exposition text file, or - for stdin (the default)')
    .option(
      '--job <name>',
      'the job: Pushgateway grouping key, a job label for remote write and textfile, service.name for OTLP',
    )
    .option('--group <name=value>', 'grouping label (repeatable), e.g. instance=daily', collect)
    .addOption(
      new Option(
        '--method <method>',
        'post: replace same-named families; put: replace the group; delete: drop the group',
      )
        .choices(['post', 'put', 'delete'])
        .default('post'),
    );
  addDestinationOptions(cmd);
  addOutboxOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  resticprom push --gateway https://my-gtw:443 --job nfs_backup --group instance=daily metrics.prom
  cat metrics.prom | resticprom push --gateway URL --job J --method put
  resticprom push --remote-write URL --job J -
  resticprom push --otlp http://collector:4318/v1/metrics --job J -
  resticprom push --textfile /var/lib/node_exporter/textfile/job.prom --job J -

Exit codes: 0 delivered everywhere; 75 not delivered yet, safely in the outbox; 65 invalid
input (nothing sent or queued); 2 usage error; 1 anything else (e.g. refused and dead-lettered).`,
  );
  cmd.action(runAction(async (file: string | undefined, flags: PushFlags) => pushAction(file, flags)));
}

async function pushAction(file: string | undefined, flags: PushFlags): Promise<number> {
  const { parseDestinations, parsePairs } = await import('../destinations.js');
  if (!flags.job)
    throw new UsageError('missing --job NAME (the grouping job; a job label for remote write and textfile)');
  const destinations = parseDestinations(flags, process.env);
  if (destinations.length === 0) {
    throw new UsageError(
      'no destination: give --gateway URL (or set RESTICPROM_GATEWAY), --remote-write URL, --otlp URL or --textfile PATH',
    );
  }
  const grouping = parsePairs(flags.group ?? [], '--group');
  const limits = parseOutboxLimits(flags);
  const log = await makeLog(flags);
  const source = file === undefined || file === '-' ? 'stdin' : file;
  let text = '';
  if (flags.method !== 'delete' || file !== undefined) {
    if (source === 'stdin' && process.stdin.isTTY) {
      throw new UsageError('reading metrics from a terminal: give FILE, or pipe the metrics in');
    }
    text = await readInput(source);
  }
  const { deliver } = await import('../../sinks/deliver.js');
  const { commandStateDir } = await import('../state-dir.js');
  const stateDir = await commandStateDir(flags);
  let result: Awaited<ReturnType<typeof deliver>>;
  try {
    if (flags.method !== 'delete' && text.trim() === '') {
      throw new InvalidMetricsError(
        'no metrics in the input (it is empty); to drop a group use --method delete',
      );
    }
    result = await deliver(
      { text, job: flags.job, grouping, method: flags.method, measuredAt: Date.now() },
      destinations,
      {
        stateDir,
        outbox: limits,
        sendOptions: { env: process.env },
      },
    );
  } catch (err) {
    if (err instanceof InvalidMetricsError) {
      log.error(`invalid metrics in ${source}: ${err.message}; nothing was sent or queued`, {
        ...(err.line === undefined ? {} : { line: err.line }),
      });
      return ExitCode.DATAERR;
    }
    throw err;
  }

  printEarlier(log, result.earlier, result.outboxDir, new Set(result.queued.map((q) => q.destination)));
  for (const w of result.warnings) log.warn(w);
  const where = `${result.outboxDir} (${result.pendingCount} pending)`;
  const what = describePayload(flags.job, grouping, flags.method);
  for (const d of result.delivered) log.info(`delivered ${what} to ${d}`, { destination: d });
  for (const q of result.queued) log.error(`${q.reason}; queued in ${where}`, { destination: q.destination });
  for (const d of result.deadLettered) {
    log.error(`${d.reason}; refused, dead-lettered in ${result.outboxDir}/dead (not retried)`, {
      destination: d.destination,
    });
  }
  if (result.deadLettered.length > 0) return ExitCode.FAILURE;
  if (!result.isComplete) return ExitCode.TEMPFAIL;
  if (result.queued.length > 0) log.warn(`delivered where required; the rest waits in ${where}`);
  return ExitCode.OK;
}

/** Reads the whole input: a file or stdin. */
async function readInput(source: string): Promise<string> {
  if (source !== 'stdin') {
    const { readFile } = await import('node:fs/promises');
    try {
      return await readFile(source, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read ${source} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, {
        cause: err,
      });
    }
  }
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** `job nfs_backup, instance=daily (POST)` */
function describePayload(job: string, grouping: Record<string, string>, method: string): string {
  const labels = Object.entries(grouping).map(([k, v]) => `${k}=${v}`);
  return `job ${[job, ...labels].join(', ')} (${method.toUpperCase()})`;
}

/** Parses --outbox-max-entries and --outbox-max-bytes. */
export function parseOutboxLimits(flags: OutboxFlags): { maxEntries?: number; maxBytes?: number } {
  const out: { maxEntries?: number; maxBytes?: number } = {};
  if (flags.outboxMaxEntries !== undefined) {
    if (!/^\d+$/.test(flags.outboxMaxEntries) || Number(flags.outboxMaxEntries) < 1) {
      throw new UsageError(
        `--outbox-max-entries ${flags.outboxMaxEntries}: expected a whole number of at least 1`,
      );
    }
    out.maxEntries = Number(flags.outboxMaxEntries);
  }
  if (flags.outboxMaxBytes !== undefined) {
    const m = /^(\d+)\s*(B|KiB|MiB|GiB|K|M|G)?$/i.exec(flags.outboxMaxBytes.trim());
    if (!m)
      throw new UsageError(
        `--outbox-max-bytes ${flags.outboxMaxBytes}: expected a size like 52428800, 512KiB or 50MiB`,
      );
    const unit = (m[2] ?? 'B').toUpperCase()[0] as string;
    out.maxBytes = Number(m[1]) * ({ B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[unit] ?? 1);
  }
  return out;
}

/** The CLI's message sink: `resticprom: ...` lines on stderr, or JSON lines with --log-format json. */
export async function makeLog(flags: Pick<OutboxFlags, 'quiet' | 'logFormat'>): Promise<Logger> {
  const { createLogger, writeLine } = await import('../output.js');
  if (flags.logFormat === 'json') return createLogger({ format: 'json', quiet: Boolean(flags.quiet) });
  const line = (msg: string) => writeLine(process.stderr, `resticprom: ${msg}`);
  return {
    debug: () => {},
    info: (m) => {
      if (!flags.quiet) line(m);
    },
    warn: (m) => line(`warning: ${m}`),
    error: (m) => line(m),
    format: 'text',
    isQuiet: Boolean(flags.quiet),
  };
}

/** Prints what a flush did with entries of earlier runs: one line per problem. */
export function printEarlier(
  log: Logger,
  r: FlushReport,
  outboxDir: string,
  /** Targets whose failure is already said (this run's payload is queued there too). */
  alreadySaid: ReadonlySet<string> = new Set(),
): void {
  if (r.delivered.length > 0) {
    log.info(
      `delivered ${r.delivered.length} earlier payload${r.delivered.length === 1 ? '' : 's'} from ${outboxDir}`,
    );
  }
  for (const d of r.deadLettered) {
    log.error(
      `earlier payload ${d.id} (job ${d.job}): ${d.reason}; refused, dead-lettered in ${outboxDir}/dead`,
      {
        id: d.id,
        destination: d.target,
      },
    );
  }
  for (const s of r.superseded) log.info(`earlier payload ${s.id} (job ${s.job}) ${s.reason}`, { id: s.id });
  for (const c of r.corrupt)
    log.error(`${c.file}: ${c.reason}; moved to ${outboxDir}/dead`, { file: c.file });
  const waiting = new Map<string, { count: number; reason: string }>();
  for (const p of r.pending) {
    if (alreadySaid.has(p.target)) continue;
    const w = waiting.get(p.target) ?? { count: 0, reason: p.reason ?? 'pending' };
    w.count++;
    waiting.set(p.target, w);
  }
  for (const [target, w] of waiting) {
    log.warn(`${w.count} earlier payload${w.count === 1 ? '' : 's'} for ${target} still wait: ${w.reason}`, {
      destination: target,
    });
  }
}
